"""``--replay FILE...``: recorded trades (or bars) delivered like a live feed.

What a file holds is recognised from its content (gzip and zip by magic bytes, then the first
meaningful line), never from its name:

- Binance combined-stream NDJSON (``{"stream":…,"data":{"e":"trade"|"aggTrade",…}}``), bare
  payloads, or either behind a cryptofeed ``<receive time>: `` prefix
  (:mod:`~pairs_tui.feed.replay_ndjson`);
- tick-collector NDJSON (``{"symbol","ts","price","size"}``);
- Binance archive trades and aggTrades CSVs with or without a header, named-column trade CSVs,
  and bar CSVs (``ts,open,high,low,close,volume``, or Binance klines)
  (:mod:`~pairs_tui.feed.replay_csv`, bars aligned by :mod:`~pairs_tui.feed.replay_bars`);
- Parquet written by ``--record`` (:mod:`~pairs_tui.feed.replay_parquet`).

Every file is read and checked when the :class:`ReplaySource` is made, so a bad file stops the
command line before any screen appears. The trades of all files are merged into one columnar
table in trade-time order; :meth:`ReplaySource.run` turns it into :class:`~pairs_tui.records.Trade`
objects a few thousand at a time, so memory stays near the size of the table.

The merged order is a function of the trades alone, not of the order the files were named in:
by trade time, then leg (target first), then trade id, then the files' names and each file's
own order. The same trade (same symbol, id space and id) found in two files is kept once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time as _time
from bisect import bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import polars as pl

from pairs_tui.feed.replay_bars import align_bars, pair_bars
from pairs_tui.feed.replay_csv import read_csv
from pairs_tui.feed.replay_files import Format, ReplayError, open_input
from pairs_tui.feed.replay_ndjson import read_ndjson
from pairs_tui.feed.replay_parquet import read_parquet
from pairs_tui.feed.replay_table import ParsedBars, ParsedTrades
from pairs_tui.feed.source import TradeSink
from pairs_tui.feed.status import FeedState, FeedStatus
from pairs_tui.records import Trade

__all__ = ["ReplayError", "ReplaySource", "load_trades", "read_file"]

log = logging.getLogger(__name__)

CHUNK = 4096
"""Trades turned into objects and delivered between two yields to the event loop."""
MIN_SLEEP_S = 0.01
"""At speed > 0 the replay sleeps at least this long, then delivers what fell due meanwhile."""

_T = TypeVar("_T")


def read_file(path: Path | str, pair: tuple[str, str]) -> ParsedTrades | ParsedBars:
    """Open one replay file, recognise its format from the content, and read it.

    Args:
        path: A file (optionally gzip- or zip-compressed) or a Parquet directory.
        pair: The replayed pair, upper case (used to find a symbol in a file name).

    Raises:
        ReplayError: Anything wrong with the file; the message names it.
    """
    source = open_input(path)
    if source.format is Format.CSV:
        return read_csv(source, pair)
    if source.format is Format.PARQUET:
        return read_parquet(source, pair)
    return read_ndjson(source)


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
    pair = _pair(symbols)
    loaded = _load(paths, pair)
    if loaded.trades is None:
        raise ReplayError(f"{', '.join(map(str, paths))}: bar files hold no trades")
    return loaded.trades.select(
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
class _Loaded:
    """Everything the files hold, merged, and what was skipped."""

    trades: pl.DataFrame | None = None
    """Columns ``leg`` (0 target, 1 hedge), ``time, price, qty, buyer_maker, id``, in order."""
    bars: pl.DataFrame | None = None
    """The aligned bar grid (see :func:`~pairs_tui.feed.replay_bars.align_bars`)."""
    timeframe_ms: int | None = None
    """The bars' timeframe."""
    malformed: int = 0
    """Lines skipped as malformed, all files."""
    gaps: int = 0
    """Aggregate trade ids missing between the first and last of each leg."""
    notes: list[str] = field(default_factory=list)
    """What was skipped, one sentence each, for the log."""


def _load(paths: Sequence[Path | str], pair: tuple[str, str]) -> _Loaded:
    if not paths:
        raise ReplayError("--replay needs at least one file")
    unique: dict[Path, Path | str] = {}
    for path in paths:
        unique.setdefault(Path(path).resolve(), path)
    parsed = [read_file(path, pair) for path in unique.values()]
    bars = [p for p in parsed if isinstance(p, ParsedBars)]
    trades = [p for p in parsed if isinstance(p, ParsedTrades)]
    if bars and trades:
        raise ReplayError(
            f"cannot replay bar files ({bars[0].source.name}) together with trade "
            f"files ({trades[0].source.name})"
        )
    loaded = _Loaded(malformed=sum(p.malformed for p in parsed))
    if len(unique) < len(paths):
        loaded.notes.append(f"{len(paths) - len(unique)} file(s) named twice, read once")
    if loaded.malformed:
        loaded.notes.append(f"skipped {loaded.malformed:,} malformed line(s)")
    frames = [p.frame for p in parsed]
    kept = _keep_pair(parsed, frames, pair, loaded)
    if bars:
        restricted = [ParsedBars(p.source, f, p.malformed) for p, f in zip(bars, kept, strict=True)]
        loaded.timeframe_ms, loaded.bars = align_bars(restricted, pair)
    else:
        loaded.trades = _merge(trades, kept, pair, loaded)
    return loaded


def _keep_pair(
    parsed: Sequence[ParsedTrades | ParsedBars],
    frames: list[pl.DataFrame],
    pair: tuple[str, str],
    loaded: _Loaded,
) -> list[pl.DataFrame]:
    """Each file's rows of the pair; a file with none of the pair is an error, others noted."""
    others: Counter[str] = Counter()
    kept = []
    for p, frame in zip(parsed, frames, strict=True):
        census = Counter(dict(frame.group_by("symbol").len().iter_rows()))
        if isinstance(p, ParsedTrades):
            census.update(p.elsewhere)
        if not any(census.get(s) for s in pair):
            what = "bars" if isinstance(p, ParsedBars) else "trades"
            held = ", ".join(f"{s} {n:,}" for s, n in census.most_common(6))
            raise p.source.error(f"holds no {what} of {' or '.join(pair)} (it holds {held})")
        others.update({s: n for s, n in census.items() if s not in pair})
        kept.append(frame.filter(pl.col("symbol").is_in(pair)))
    if others:
        listed = ", ".join(f"{s} {n:,}" for s, n in others.most_common(8))
        loaded.notes.append(f"skipped {others.total():,} rows of other symbols ({listed})")
    for symbol in pair:
        if not any((f["symbol"] == symbol).any() for f in kept):
            names = ", ".join(p.source.name for p in parsed)
            raise ReplayError(f"{names}: no data for {symbol}; the pair needs both legs")
    return kept


def _merge(
    parsed: Sequence[ParsedTrades],
    frames: Sequence[pl.DataFrame],
    pair: tuple[str, str],
    loaded: _Loaded,
) -> pl.DataFrame:
    dropped = sum(p.dropped for p in parsed)
    if dropped:
        loaded.notes.append(
            f"skipped {dropped:,} prints that are not market trades "
            "(X other than MARKET, or a zero quantity)"
        )
    # Ties break on the files' names, not their order on the command line, so the merged
    # sequence depends on the data alone.
    order = sorted(range(len(parsed)), key=lambda i: parsed[i].source.name)
    parsed = [parsed[i] for i in order]
    merged = pl.concat(
        [
            frames[i].select(
                pl.when(pl.col("symbol") == pair[0])
                .then(0)
                .otherwise(1)
                .cast(pl.UInt8)
                .alias("leg"),
                "time",
                "price",
                "qty",
                "buyer_maker",
                "id",
                "kind",
                pl.lit(rank, pl.UInt32).alias("file"),
                pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
            )
            for rank, i in enumerate(order)
        ]
    )
    _check_kinds(merged, parsed, pair)
    merged = _in_order(merged)
    merged = _drop_duplicates(merged, parsed, pair, loaded)
    agg = (
        merged.filter(pl.col("kind") == "aggTrade")
        .group_by("leg")
        .agg((pl.col("id").max() - pl.col("id").min() + 1 - pl.col("id").n_unique()).alias("gaps"))
    )
    loaded.gaps = int(agg["gaps"].sum())
    if loaded.gaps:
        loaded.notes.append(f"{loaded.gaps:,} aggregate trade ids missing in the files")
    return merged.select("leg", "time", "price", "qty", "buyer_maker", "id")


def _in_order(merged: pl.DataFrame) -> pl.DataFrame:
    """Sort by time, leg, id, file and row.

    Rows come in file and row order, so a stable sort by time alone is the whole sort unless
    two rows of one millisecond are out of leg or id order, which is checked; it is several
    times cheaper than sorting on five keys, which is the fallback.
    """
    by_time = merged.sort("time", maintain_order=True)
    tie = pl.col("time").diff() == 0
    leg, prev_leg = pl.col("leg").cast(pl.Int16), pl.col("leg").cast(pl.Int16).shift()
    out_of_order = tie & ((leg < prev_leg) | ((leg == prev_leg) & (pl.col("id").diff() < 0)))
    if not by_time.select(out_of_order.fill_null(False).any()).item():
        return by_time
    return merged.sort("time", "leg", "id", "file", "row")


def _check_kinds(
    merged: pl.DataFrame, parsed: Sequence[ParsedTrades], pair: tuple[str, str]
) -> None:
    """Individual and aggregate trades of one symbol together would count each trade twice."""
    for leg, symbol in enumerate(pair):
        kinds = merged.filter((pl.col("leg") == leg) & (pl.col("kind") != "unknown"))
        by_kind = kinds.group_by("kind").agg(pl.col("file").first())
        if by_kind.height > 1:
            files = {str(k): parsed[int(f)].source.name for k, f in by_kind.iter_rows()}
            raise ReplayError(
                f"{symbol} comes as individual trades ({files['trade']}) and as "
                f"aggregate trades ({files['aggTrade']}); replay one kind per "
                "symbol"
            )


def _drop_duplicates(
    merged: pl.DataFrame, parsed: Sequence[ParsedTrades], pair: tuple[str, str], loaded: _Loaded
) -> pl.DataFrame:
    """The same trade in overlapping files is kept once; two different trades with one id are
    an error.

    After the sort, copies of one trade (same leg, id space, id and time) are neighbours, which
    makes the common case a few vector comparisons. Only when two files' id ranges of one leg
    overlap can a clash hide at different times, and only then is every id hashed.
    """
    key = ["leg", "kind", "id"]
    same = pl.all_horizontal((pl.col(c) == pl.col(c).shift()) for c in [*key, "time"])
    differs = pl.any_horizontal(
        (pl.col(c) != pl.col(c).shift()) for c in ("price", "qty", "buyer_maker")
    )
    flags = merged.select(
        (same & (pl.col("id") >= 0)).fill_null(False).alias("copy"),
        differs.fill_null(False).alias("differs"),
    )
    copies = flags["copy"]
    clash = copies & flags["differs"]
    if clash.any():
        _clash(merged, int(clash.arg_true()[0]), parsed, pair)
    if copies.any():
        merged = merged.filter(~copies)
        loaded.notes.append(
            f"dropped {int(copies.sum()):,} trades found twice (same symbol and id)"
        )
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
    return merged


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


def _pair(symbols: Iterable[str]) -> tuple[str, str]:
    a, b = (s.strip().upper() for s in symbols)
    if a == b:
        raise ReplayError(f"the pair needs two different symbols, not {a} twice")
    return a, b


class ReplaySource:
    """A :class:`~pairs_tui.feed.source.TradeSource` that replays files.

    Every file is read and checked here, before anything runs.

    Args:
        paths: Files in any supported format (all trades, or all bars), or Parquet folders.
        symbols: The pair, target leg first.
        speed: 0 replays as fast as possible; X > 0 replays in trade time sped up X times.
        clock: Monotonic seconds; tests inject a fake one.
        sleep: ``asyncio.sleep`` or a fake that moves the fake clock.

    Raises:
        ReplayError: A file cannot be used, the pair is not in the files, or ``speed`` is
            not a number >= 0. The message is one line naming the file (and line).
    """

    def __init__(
        self,
        paths: Sequence[Path | str],
        symbols: tuple[str, str],
        *,
        speed: float = 0.0,
        clock: Callable[[], float] = _time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not (isinstance(speed, int | float) and math.isfinite(speed) and speed >= 0):
            raise ReplayError(f"--speed must be a number >= 0, not {speed!r}")
        self.symbols = _pair(symbols)
        """The pair, upper case, target leg first."""
        self.speed = float(speed)
        """Trade-time speed-up; 0 means as fast as possible."""
        self._clock = clock
        self._sleep = sleep
        self._data = _load(paths, self.symbols)
        self._state: FeedState = "replay"
        self._delivered = 0
        self._anchor: tuple[float, int] | None = None
        """(clock, trade time) when paced delivery started."""
        self._next_ms: int | None = None
        """Due time of the next undelivered trade or bar; the clock stays below it."""
        self._end_ms: int | None = None
        """The clock's value once the replay is over."""
        self._detail = self._describe()
        for note in self._data.notes:
            log.warning("replay: %s", note)
        log.info("replay: %s", self._detail)

    @property
    def timeframe_ms(self) -> int | None:
        """The bars' timeframe when the files hold bars; None for trades."""
        return self._data.timeframe_ms

    @property
    def size(self) -> int:
        """How many trades (or bars) a run delivers."""
        table = self._data.trades if self._data.trades is not None else self._data.bars
        assert table is not None
        return table.height

    @property
    def status(self) -> FeedStatus:
        """``replay`` while running (and before), ``done`` at the end; counts since the start."""
        return FeedStatus(
            state=self._state,
            messages=self._delivered,
            malformed=self._data.malformed,
            gaps=self._data.gaps,
            detail=self._detail,
        )

    def exchange_now_ms(self) -> float | None:
        """The virtual trade-time clock at speed > 0; None at full speed (trades drive time).

        The clock runs at ``speed`` times wall time from the first trade, but never reaches
        the next trade not yet delivered, so a bar is never closed under a trade still queued
        here. After the end it stays at the last trade's time.
        """
        if self.speed == 0 or self._anchor is None:
            return None
        if self._end_ms is not None:
            return float(self._end_ms)
        now = self._virtual_ms()
        if self._next_ms is not None:
            now = min(now, self._next_ms - 1.0)
        return now

    async def run(self, sink: TradeSink) -> None:
        """Deliver every trade (or bar) to ``sink``, then set the state to ``done``.

        A second run replays from the start again.
        """
        self._state = "replay"
        self._delivered = 0
        self._anchor = None
        self._end_ms = None
        try:
            if self._data.bars is not None:
                await self._run_bars(sink)
            else:
                await self._run_trades(sink)
        except BaseException:
            self._state = "stopped"
            raise
        self._state = "done"
        self._detail = f"replayed {self._delivered:,} " + (
            "trades" if self._data.trades is not None else "bars"
        )

    async def _run_trades(self, sink: TradeSink) -> None:
        table = self._data.trades
        assert table is not None
        on_trade = sink.on_trade
        legs = self.symbols
        for start in range(0, table.height, CHUNK):
            part = table.slice(start, CHUNK)
            times = part["time"].to_list()
            trades = list(
                map(
                    Trade,
                    map(legs.__getitem__, part["leg"].to_list()),
                    times,
                    part["price"].to_list(),
                    part["qty"].to_list(),
                    part["buyer_maker"].to_list(),
                    part["id"].to_list(),
                )
            )
            if self.speed:
                after = start + CHUNK
                await self._paced(
                    times, trades, on_trade, table["time"][after] if after < table.height else None
                )
                continue
            for trade in trades:
                on_trade(trade)
            self._delivered += len(trades)
            await self._sleep(0)
        self._finish(table["time"].last() if table.height else None)

    async def _run_bars(self, sink: TradeSink) -> None:
        grid = self._data.bars
        tf = self._data.timeframe_ms
        assert grid is not None and tf is not None
        for start in range(0, grid.height, CHUNK):
            part = grid.slice(start, CHUNK)
            bars = list(pair_bars(part))
            ends = [bar.ts + tf for bar in bars]
            if self.speed:
                # A bar is final, and delivered, when the clock passes its end.
                after = start + CHUNK
                await self._paced(
                    ends,
                    bars,
                    lambda bar: sink.on_bar(bar, tf),
                    grid["ts"][after] + tf if after < grid.height else None,
                )
                continue
            for bar in bars:
                sink.on_bar(bar, tf)
            self._delivered += len(bars)
            await self._sleep(0)
        self._finish(int(grid["ts"].last()) + tf if grid.height else None)  # type: ignore[arg-type]

    async def _paced(
        self, due: list[int], items: list[_T], deliver: Callable[[_T], None], due_after: int | None
    ) -> None:
        """Deliver ``items`` when the virtual clock reaches their ``due`` times, in batches.

        ``due_after`` is the due time of the item after these (None at the end), which the
        clock must stay below once these are delivered.
        """
        if self._anchor is None:
            self._anchor = (self._clock(), due[0])
        i, n = 0, len(items)
        self._next_ms = due[0]
        while i < n:
            now = self._virtual_ms()
            if due[i] > now:
                # Sleep until the next item is due, but never less than a batch's worth, so a
                # dense stretch is delivered in batches instead of one sleep per trade.
                await self._sleep(max((due[i] - now) / self.speed / 1000.0, MIN_SLEEP_S))
                continue
            j = bisect_right(due, now, i)
            for item in items[i:j]:
                deliver(item)
            self._delivered += j - i
            i = j
            self._next_ms = due[i] if i < n else due_after
            await self._sleep(0)

    def _virtual_ms(self) -> float:
        assert self._anchor is not None
        wall, first = self._anchor
        return first + (self._clock() - wall) * self.speed * 1000.0

    def _finish(self, last: object) -> None:
        self._next_ms = None
        if self.speed and isinstance(last, int):
            if self._anchor is None:
                self._anchor = (self._clock(), last)
            self._end_ms = last

    def _describe(self) -> str:
        data = self._data
        if data.trades is not None:
            what = f"{data.trades.height:,} trades"
        else:
            assert data.bars is not None and data.timeframe_ms is not None
            what = f"{data.bars.height:,} bars of {data.timeframe_ms:,} ms"
        pace = "as fast as possible" if self.speed == 0 else f"at {self.speed:g}x"
        return f"replaying {what} of {'/'.join(self.symbols)} {pace}"
