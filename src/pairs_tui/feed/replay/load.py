"""Reading and merging replay files: each file read by the reader of its format, the pair's
trades merged into one table in trade-time order.

What a file holds is recognised from its content (gzip and zip by magic bytes, then the first
meaningful line), never from its name:

- Binance combined-stream NDJSON (``{"stream":…,"data":{"e":"trade"|"aggTrade",…}}``), bare
  payloads, or either behind a cryptofeed ``<receive time>: `` prefix
  (:mod:`~pairs_tui.feed.replay.ndjson`);
- tick-collector NDJSON (``{"symbol","ts","price","size"}``);
- Binance archive trades and aggTrades CSVs with or without a header, named-column trade CSVs,
  and bar CSVs (``ts,open,high,low,close,volume``, or Binance klines)
  (:mod:`~pairs_tui.feed.replay.csv`, bars aligned by :mod:`~pairs_tui.feed.replay.bars`);
- Parquet written by ``--record`` (:mod:`~pairs_tui.feed.replay.parquet`).

The merged order is a function of the trades alone, not of the order the files were named in:
by trade time, then leg (target first), then trade id, then the files' names and each file's
own order. The same trade (same symbol, id space and id) found in two files is kept once.

Files of stream frames and trades CSVs (plain, gzipped or zipped) are read a block at a time and
spilled to disk as they are read; a big Parquet recording is read a block at a time too, and
read again rather than spilled. When each leg of each file comes in order and no two share a
trade, the replay merges them a block at a time too (:mod:`~pairs_tui.feed.replay.stream`), so
memory does not grow with the files. A big Parquet recording replayed alone is, where it can
be, read and merged a window of time at a time instead, each window as a small recording is
(:class:`~pairs_tui.feed.replay.parquet.Window`). Any other replay is merged in one table in
memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NoReturn, cast

import numpy as np
import polars as pl

from pairs_tui.feed.replay.bars import align_bars
from pairs_tui.feed.replay.csv import read_csv
from pairs_tui.feed.replay.files import Format, ReplayError, open_input
from pairs_tui.feed.replay.ndjson import read_ndjson
from pairs_tui.feed.replay.parquet import ParquetData
from pairs_tui.feed.replay.stream import (
    KEY_LIMIT,
    OUTPUT,
    Blocks,
    MergedTrades,
    Reread,
    Run,
    Spill,
    StreamedTrades,
    TradeTable,
    WindowedTrades,
    merged_order,
    streamable,
)
from pairs_tui.feed.replay.table import KIND, ParsedBars, ParsedTrades


def load_trades(paths: Sequence[Path | str], symbols: tuple[str, str]) -> pl.DataFrame:
    """The pair's trades of every file, merged as a replay delivers them.

    Args:
        paths: Trade files in any supported format.
        symbols: The pair, target leg first.

    Returns:
        Columns ``symbol, time, price, qty, buyer_maker, id``, sorted by ``time`` (ties as
        described in this module's docstring).

    Raises:
        ReplayError: A file cannot be used, holds bars, or the pair is not in the files.
    """
    pair = pair_of(symbols)
    loaded = load(paths, pair)
    if loaded.trades is None:
        raise ReplayError(f"{', '.join(map(str, paths))}: bar files hold no trades")
    return pl.concat(list(loaded.trades.batches())).select(
        pl.col("leg")
        .replace_strict({0: pair[0], 1: pair[1]}, return_dtype=pl.String)
        .alias("symbol"),
        "time",
        "price",
        "qty",
        "buyer_maker",
        "id",
    )


@dataclass
class Loaded:
    """Everything the files hold, merged, and what was skipped."""

    trades: MergedTrades | None = None
    """Columns ``leg`` (0 target, 1 hedge), ``time, price, qty, buyer_maker, id``, in order."""
    bars: pl.DataFrame | None = None
    """The aligned bar grid (see :func:`~pairs_tui.feed.replay.bars.align_bars`)."""
    timeframe_ms: int | None = None
    """The bars' timeframe."""
    malformed: int = 0
    """Lines skipped as malformed, all files."""
    gaps: int = 0
    """Aggregate trade ids missing between the first and last of each leg."""
    notes: list[str] = field(default_factory=list)
    """What was skipped, one sentence each, for the log."""


def load(paths: Sequence[Path | str], pair: tuple[str, str]) -> Loaded:
    """Read every file (each once) and merge the pair's trades, or align its bars.

    Args:
        paths: Files in any supported format (all trades, or all bars), or Parquet folders.
        pair: The pair, upper case, target leg first (see :func:`pair_of`).

    Returns:
        The merged trades or the aligned bars, with the counts and notes of what was skipped.

    Raises:
        ReplayError: No file, a file that cannot be used, bars and trades together, or the
            pair is not in the files.
    """
    if not paths:
        raise ReplayError("--replay needs at least one file")
    unique: dict[Path, Path | str] = {}
    for path in paths:
        unique.setdefault(Path(path).resolve(), path)
    files = [_read(path, pair, alone=len(unique) == 1) for path in unique.values()]
    parsed = [f.parsed for f in files]
    bars = [p for p in parsed if isinstance(p, ParsedBars)]
    trades = [p for p in parsed if isinstance(p, ParsedTrades)]
    if bars and trades:
        raise ReplayError(
            f"cannot replay bar files ({bars[0].source.name}) together with trade "
            f"files ({trades[0].source.name})"
        )
    loaded = Loaded(malformed=sum(p.malformed for p in parsed))
    if len(unique) < len(paths):
        loaded.notes.append(f"{len(paths) - len(unique)} file(s) named twice, read once")
    if loaded.malformed:
        loaded.notes.append(f"skipped {loaded.malformed:,} malformed line(s)")
    _check_pair(files, pair, loaded)
    if bars:
        restricted = [
            ParsedBars(f.parsed.source, f.kept.drop("leg"), f.parsed.malformed) for f in files
        ]
        loaded.timeframe_ms, loaded.bars = align_bars(restricted, pair)
    else:
        loaded.trades = _merged(files, pair, loaded)
    return loaded


@dataclass
class _Part:
    """Rows of the pair one reader yielded block by block, kept aside as they were read: a
    whole file of stream frames or a trades CSV, or one file of a Parquet dataset."""

    aside: Blocks
    """The blocks: spilled, or read again from the file."""
    runs: tuple[Run, Run] = field(default_factory=lambda: (Run(), Run()))
    """What the merge needs to know of each leg's rows (target, hedge)."""

    def add(self, rows: pl.DataFrame) -> None:
        """Keep the next block aside, and note its rows."""
        self.aside.write(rows)
        leg = rows["leg"].to_numpy()
        for side, run in enumerate(self.runs):
            at = leg == side
            count = int(at.sum())
            mine = rows if count == rows.height else rows.filter(pl.Series(at))
            run.add(mine["time"].to_numpy(), mine["id"], mine["kind"])


@dataclass
class _File:
    """One file read: its counts, the pair's rows (held, or kept aside in parts as they were
    read), and every symbol's count."""

    parsed: ParsedTrades | ParsedBars
    kept: pl.DataFrame
    """The pair's rows its reader returned whole (not yielded), with their ``leg`` (0 target,
    1 hedge)."""
    census: Counter[str]
    parts: list[_Part] = field(default_factory=list)
    """The rows its reader yielded block by block, in the order read."""
    windows: ParquetData | None = None
    """A Parquet recording to read a window at a time, checked (its trades are in neither
    :attr:`kept` nor :attr:`parts`)."""


def _read(path: Path | str, pair: tuple[str, str], *, alone: bool = False) -> _File:
    """Read one file; what its reader yields block by block goes to a spill, except for
    Parquet, which is read again when wanted (faster than a spill writes and reads back), a
    part for each group of files of the dataset; a Parquet recording replayed ``alone`` may
    be only checked here, and read a window at a time when it is replayed.

    Raises:
        ReplayError: The file cannot be used, or holds nothing of the pair.
    """
    source = open_input(path)
    data = ParquetData(source, pair) if source.format is Format.PARQUET else None
    reading = (
        data.read(windowed=alone)
        if data is not None
        else _one_part(
            read_csv(source, pair) if source.format is Format.CSV else read_ndjson(source)
        )
    )
    census: Counter[str] = Counter()
    parts: dict[int, _Part] = {}
    while True:
        try:
            number, block = next(reading)
        except StopIteration as done:
            parsed: ParsedTrades | ParsedBars = done.value
            break
        rows = _pair_rows(block, pair, census)
        if rows.height:
            if number not in parts:
                aside = (
                    Spill()
                    if data is None
                    else Reread(
                        partial(_pair_blocks, partial(data.reread, number), pair),
                        data.path_of(number),
                    )
                )
                parts[number] = _Part(aside)
            parts[number].add(rows)
    kept = _pair_rows(parsed.frame, pair, census)
    windowed = data if data is not None and data.windows else None
    if windowed is not None:
        census.update({symbol: n for symbol, n in windowed.counts.items() if n})
    if isinstance(parsed, ParsedTrades):
        census.update(parsed.elsewhere)
    if not any(census.get(s) for s in pair):
        what = "bars" if isinstance(parsed, ParsedBars) else "trades"
        listed = ", ".join(f"{s} {n:,}" for s, n in census.most_common(6))
        raise parsed.source.error(f"holds no {what} of {' or '.join(pair)} (it holds {listed})")
    return _File(parsed, kept, census, list(parts.values()), windowed)


def _one_part(
    reading: Generator[pl.DataFrame, None, ParsedTrades | ParsedBars],
) -> Generator[tuple[int, pl.DataFrame], None, ParsedTrades | ParsedBars]:
    """A reader's blocks, numbered as all of one part."""
    while True:
        try:
            block = next(reading)
        except StopIteration as done:
            parsed: ParsedTrades | ParsedBars = done.value
            return parsed
        yield 0, block


def _pair_blocks(
    read: Callable[[], Iterator[pl.DataFrame]], pair: tuple[str, str]
) -> Iterator[pl.DataFrame]:
    """The blocks of the pair's rows that :func:`_read` kept aside, read again by ``read``."""
    for block in read():
        rows = _pair_rows(block, pair, Counter())
        if rows.height:
            yield rows


def _pair_rows(frame: pl.DataFrame, pair: tuple[str, str], census: Counter[str]) -> pl.DataFrame:
    """The rows of the pair, with their ``leg`` (0 target, 1 hedge); every symbol counted."""
    at_a, at_b = frame["symbol"] == pair[0], frame["symbol"] == pair[1]
    counts = (int(at_a.sum()), int(at_b.sum()))
    rest = frame.height - sum(counts)
    if rest:  # other symbols too: only then is the census worth a group-by
        census.update(dict(frame.group_by("symbol").len().iter_rows()))
    else:
        census.update({s: n for s, n in zip(pair, counts, strict=True) if n})
    frame = frame.with_columns(at_b.cast(pl.UInt8).alias("leg"))
    return frame.filter(at_a | at_b) if rest else frame


def _check_pair(files: Sequence[_File], pair: tuple[str, str], loaded: Loaded) -> None:
    """Note the other symbols skipped; both legs must be there."""
    census: Counter[str] = sum((f.census for f in files), Counter())
    others = Counter({s: n for s, n in census.items() if s not in pair})
    if others:
        listed = ", ".join(f"{s} {n:,}" for s, n in others.most_common(8))
        loaded.notes.append(f"skipped {others.total():,} rows of other symbols ({listed})")
    for name in pair:
        if not census.get(name):
            names = ", ".join(f.parsed.source.name for f in files)
            raise ReplayError(f"{names}: no data for {name}; the pair needs both legs")


def _merged(files: Sequence[_File], pair: tuple[str, str], loaded: Loaded) -> MergedTrades:
    """The files' trades merged: a block at a time when every file's were kept aside and they
    allow it (:func:`~pairs_tui.feed.replay.stream.streamable`), else in memory."""
    parsed = [f.parsed for f in files]
    assert all(isinstance(p, ParsedTrades) for p in parsed)
    trades = cast("list[ParsedTrades]", parsed)
    dropped = sum(p.dropped for p in trades)
    if dropped:
        loaded.notes.append(
            f"skipped {dropped:,} prints that are not market trades "
            "(X other than MARKET, or a zero quantity)"
        )
    if files[0].windows is not None:
        return _windowed(files[0].windows, pair)
    if all(f.parts for f in files) and streamable([p.runs for f in files for p in f.parts]):
        return _streamed(files, trades, pair, loaded)
    frames = [
        pl.concat([b for p in f.parts for b in p.aside.blocks()]) if f.parts else f.kept
        for f in files
    ]
    return _merge(trades, frames, pair, loaded)


def _streamed(
    files: Sequence[_File], trades: Sequence[ParsedTrades], pair: tuple[str, str], loaded: Loaded
) -> StreamedTrades:
    """The files' trades, merged a block at a time from where they were kept aside; what
    :func:`_merge` checks and counts over the merged table is told here by the parts' runs."""
    order = sorted(range(len(files)), key=lambda i: trades[i].source.name)
    parts = [(part, trades[i].source.name) for i in order for part in files[i].parts]
    for leg, symbol in enumerate(pair):
        kinds: dict[str, str] = {}  # the first file in the merged order with each id space
        for part, name in parts:
            for code in sorted(part.runs[leg].kinds - {0}):
                kinds.setdefault(KIND.categories[code], name)
        if len(kinds) > 1:
            _kinds_clash(symbol, kinds)
        # No aggregate id repeats (streamable), so the ids there are the trades there.
        aggs = [agg for part, _ in parts if (agg := part.runs[leg].agg) is not None]
        if aggs:
            loaded.gaps += max(a[2] for a in aggs) - min(a[1] for a in aggs) + 1
            loaded.gaps -= sum(a[0] for a in aggs)
    if loaded.gaps:
        loaded.notes.append(f"{loaded.gaps:,} aggregate trade ids missing in the files")
    return StreamedTrades([part.aside for part, _ in parts], [part.runs for part, _ in parts])


def _windowed(data: ParquetData, pair: tuple[str, str]) -> WindowedTrades:
    """A recording's trades a window at a time, each in the merged order. The checks made
    sure that no trade is there twice, so this is all that :func:`_merge` would do."""

    def merged() -> Iterator[TradeTable]:
        for number in range(len(data.windows)):
            rows, order = _in_order(_pair_rows(data.window(number), pair, Counter()))
            yield TradeTable(rows.select(OUTPUT), order)
            del rows, order  # let go of them before the next window is read

    return WindowedTrades(merged, sum(data.counts.values()), data.last_time)


def _merge(
    parsed: Sequence[ParsedTrades],
    frames: Sequence[pl.DataFrame],
    pair: tuple[str, str],
    loaded: Loaded,
) -> TradeTable:
    # Ties break on the files' names, not their order on the command line, so the merged
    # sequence depends on the data alone.
    order = sorted(range(len(parsed)), key=lambda i: parsed[i].source.name)
    parsed = [parsed[i] for i in order]
    merged = pl.concat(
        [
            frames[i].select(
                "leg",
                "time",
                "price",
                "qty",
                "buyer_maker",
                "id",
                "kind",
                pl.lit(rank, pl.UInt32).alias("file"),
            )
            for rank, i in enumerate(order)
        ]
    )
    kinds = _kinds(merged)
    if {"trade", "aggTrade"} <= kinds:
        _check_kinds(merged, parsed, pair)
    merged, rows = _drop_duplicates(*_in_order(merged), parsed, pair, loaded)
    if "aggTrade" in kinds:
        agg = (
            merged.filter(pl.col("kind") == "aggTrade")
            .group_by("leg")
            .agg(
                (pl.col("id").max() - pl.col("id").min() + 1 - pl.col("id").n_unique()).alias(
                    "gaps"
                )
            )
        )
        loaded.gaps = int(agg["gaps"].sum())
    if loaded.gaps:
        loaded.notes.append(f"{loaded.gaps:,} aggregate trade ids missing in the files")
    return TradeTable(merged.select(OUTPUT), rows)


def _kinds(merged: pl.DataFrame) -> set[str]:
    """The id spaces present (see :data:`~pairs_tui.feed.replay.table.KIND`)."""
    codes = merged["kind"].to_physical()
    names = KIND.categories.to_list()
    if not codes.max():
        return {names[0]}  # one id space unknown throughout (a --record recording)
    return {names[k] for k in np.flatnonzero(np.bincount(codes.to_numpy(), minlength=len(names)))}


def _in_order(merged: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray | None]:
    """The order by time, leg, id, file and row: the rows, and the order to take them in (None
    when it is theirs).

    Rows come in file and row order, so a stable order by time and leg, then id, is the whole
    sort (:func:`~pairs_tui.feed.replay.stream.merged_order`); the files hold their legs in
    time order, so it merges a few sorted runs, many times cheaper than Polars sorting on five
    keys. The rows are not moved: the replay takes them in that order a batch at a time
    (:class:`~pairs_tui.feed.replay.stream.TradeTable`), so the sorted copy is never whole.
    """
    time = merged["time"].to_numpy()
    if not time.size:
        return merged, None
    if merged["id"].null_count() or time.min() <= -KEY_LIMIT or time.max() >= KEY_LIMIT:
        return _in_order_by_time(merged), None
    return merged, merged_order(time * 2 + merged["leg"].to_numpy(), merged["id"].to_numpy())


def _in_order_by_time(merged: pl.DataFrame) -> pl.DataFrame:
    """:func:`_in_order` in Polars, for times too far from zero for its key and for ids with
    nulls (which stay where the files have them unless a tie is out of order)."""
    by_time = merged.sort("time", maintain_order=True)
    tie = pl.col("time").diff() == 0
    leg, prev_leg = pl.col("leg").cast(pl.Int16), pl.col("leg").cast(pl.Int16).shift()
    out_of_order = tie & ((leg < prev_leg) | ((leg == prev_leg) & (pl.col("id").diff() < 0)))
    if not by_time.select(out_of_order.fill_null(False).any()).item():
        return by_time
    return merged.sort("time", "leg", "id", "file", maintain_order=True)


def _check_kinds(
    merged: pl.DataFrame, parsed: Sequence[ParsedTrades], pair: tuple[str, str]
) -> None:
    """Individual and aggregate trades of one symbol together would count each trade twice."""
    for leg, symbol in enumerate(pair):
        kinds = merged.filter((pl.col("leg") == leg) & (pl.col("kind") != "unknown"))
        by_kind = kinds.group_by("kind").agg(pl.col("file").first())
        if by_kind.height > 1:
            _kinds_clash(
                symbol, {str(k): parsed[int(f)].source.name for k, f in by_kind.iter_rows()}
            )


def _kinds_clash(symbol: str, files: dict[str, str]) -> NoReturn:
    raise ReplayError(
        f"{symbol} comes as individual trades ({files['trade']}) and as "
        f"aggregate trades ({files['aggTrade']}); replay one kind per symbol"
    )


def _drop_duplicates(
    merged: pl.DataFrame,
    rows: np.ndarray | None,
    parsed: Sequence[ParsedTrades],
    pair: tuple[str, str],
    loaded: Loaded,
) -> tuple[pl.DataFrame, np.ndarray | None]:
    """The same trade in overlapping files is kept once; two different trades with one id are
    an error. ``rows`` is the merged order (None: the rows' own), and so is what comes back.

    In the merged order, copies of one trade (same leg, id space, id and time) are neighbours,
    which makes the common case a few vector comparisons, on the trades whose id equals the one
    before. Only when two files' id ranges of one leg overlap can a clash hide at different
    times, and only then is every id hashed; one file alone cannot overlap another.
    """
    key = ["leg", "kind", "id"]

    def in_order(name: str) -> np.ndarray:
        column = merged[name].to_physical().to_numpy()
        return column if rows is None else column[rows]

    # Trade t repeats trade t - 1: the same id (not null, not negative), then the same time,
    # leg and kind.
    ids = merged["id"].fill_null(-1).to_numpy()
    ids = ids if rows is None else ids[rows]
    again = np.flatnonzero((ids[1:] == ids[:-1]) & (ids[1:] >= 0)) + 1
    if again.size:
        for name in ("time", "leg", "kind"):
            column = in_order(name)
            again = again[column[again] == column[again - 1]]
    if again.size:
        # Rare (files that overlap): the rows are put in order, and the copies dropped.
        merged, rows = (merged if rows is None else merged[rows]), None
        differs = np.zeros(again.size, dtype=bool)
        for name in ("price", "qty", "buyer_maker"):
            column = merged[name].to_numpy()
            differs |= column[again] != column[again - 1]
        if differs.any():
            _clash(merged, int(again[np.argmax(differs)]), parsed, pair)
        copies = np.zeros(merged.height, dtype=bool)
        copies[again] = True
        merged = merged.filter(~pl.Series(copies))
        loaded.notes.append(f"dropped {again.size:,} trades found twice (same symbol and id)")
    if len(parsed) < 2:
        return merged, rows
    ranges = (
        merged.filter(pl.col("id") >= 0)
        .group_by(*key[:2], "file")
        .agg(pl.col("id").min().alias("lo"), pl.col("id").max().alias("hi"))
        .sort(*key[:2], "lo")
    )
    overlap = ranges.select(
        (pl.col("lo") <= pl.col("hi").shift().over(key[:2])).fill_null(False).any()
    ).item()
    if overlap:
        repeated = merged.select((pl.struct(key).is_duplicated() & (pl.col("id") >= 0)).alias("r"))[
            "r"
        ]
        if repeated.any():
            _clash(merged, int(repeated.arg_true()[0]), parsed, pair)
    return merged, rows


def _clash(
    merged: pl.DataFrame, index: int, parsed: Sequence[ParsedTrades], pair: tuple[str, str]
) -> None:
    row = merged.row(index, named=True)
    rows = merged.filter(
        (pl.col("leg") == row["leg"])
        & (pl.col("kind") == row["kind"])
        & (pl.col("id") == row["id"])
    )
    names = sorted({parsed[int(f)].source.name for f in rows["file"]})
    raise ReplayError(
        f"{' and '.join(names)} disagree on {pair[row['leg']]} trade {row['id']} "
        "(time, price, size or side differ)"
    )


def pair_of(symbols: Iterable[str]) -> tuple[str, str]:
    """The pair as two different upper-case symbols, target leg first.

    Raises:
        ReplayError: The same symbol twice.
    """
    a, b = (s.strip().upper() for s in symbols)
    if a == b:
        raise ReplayError(f"the pair needs two different symbols, not {a} twice")
    return a, b
