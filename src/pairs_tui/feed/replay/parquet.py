"""Reading the Parquet that ``--record DIR`` writes: ``symbol=…/date=…/*.parquet``.

The symbol may be a hive partition, a column in the files, or (for a lone file) in its name.
Only the pair's symbols are read; the rest are counted from the partitions, so a recording of
many symbols costs no more than one of two.

A recording of up to :data:`WHOLE` rows is read whole, in one columnar scan: the fastest way,
at about 100 bytes a trade at the peak. A bigger one is read in groups of consecutive files of
one symbol, up to :data:`GROUP` rows each (the recorder writes a file every 15 minutes, so a
group is many files, read in one parallel scan), and a file bigger than that :data:`BLOCK` rows
at a time; each group is read again as the replay delivers it
(:class:`~pairs_tui.feed.replay.stream.Reread`), so memory holds a few groups, not the
recording (see BENCHMARKS.md, Replay).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

import polars as pl

from pairs_tui.feed.replay.files import ReplayInput
from pairs_tui.feed.replay.table import (
    KIND,
    TRADE_SCHEMA,
    ParsedTrades,
    Problems,
    check_trades,
    clean_trades,
    epoch_to_ms,
    finish_trades,
    symbol_of_file,
)

RECORD_COLUMNS = ("time", "price", "qty", "buyer_maker", "id")
"""The recorder's columns (``id`` may be missing)."""
WHOLE = 3_000_000
"""Rows of the pair's files up to which a recording is read whole: one scan, the fastest way
(10.7 M trades/s for 1.06 M trades in the replay benchmark, 14 M for 3.18 M), at about 100
bytes a trade at the peak (370 MB for 3.18 M trades, read whole forced), so about 360 MB at
most: less than 2 M trades took (420 MB) when the symbol was a string."""
GROUP = 1 << 18
"""Rows of consecutive files of one symbol read together above :data:`WHOLE`: reading many
small files at once decodes them in parallel, where a file at a time costs a few times more.
On 3.18 M trades in 15-minute files, peak RSS is 224-231 MB (370 MB read whole); twice as many
rows a group, 309 MB and 3% faster; half as many, 171 MB and 23% slower."""
BLOCK = 1 << 17
"""Rows of a file bigger than :data:`GROUP` read at a time."""
_T = TypeVar("_T")
_EXPECTED = "Parquet with columns time, price, qty, buyer_maker, id and a symbol column or folder"


class ParquetData:
    """One Parquet file or partitioned directory of them: which files hold the pair.

    :meth:`read` reads the pair's trades: whole, or (above :data:`WHOLE` rows) a group of files
    at a time (:class:`_Group`), noting how many rows each held; :meth:`reread` reads a group's
    again, the rows first read, though the recorder has since added trades to the newest file
    (it only adds).

    Args:
        source: The opened file or directory.
        pair: The replayed pair, upper case.

    Raises:
        ReplayError: Unreadable data, missing columns, no symbol to be found, or no file of
            the pair.
    """

    def __init__(self, source: ReplayInput, pair: Sequence[str]) -> None:
        self.source = source
        self._pair = list(pair)
        try:
            self._scan = pl.scan_parquet(_scanned(source.path), hive_partitioning=True)
            schema = self._scan.collect_schema()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _unreadable(source, exc) from None
        missing = [c for c in RECORD_COLUMNS[:-1] if c not in schema]
        if missing:
            raise source.error(
                f"the Parquet data have no column{'s' * (len(missing) > 1)} "
                f"{', '.join(missing)} (found {', '.join(schema.names())}; "
                f"expected {_EXPECTED})"
            )
        self._trades = _Trades(source, schema, pair)
        self._symbol = (
            pl.col("symbol").cast(pl.String).str.to_uppercase()
            if "symbol" in schema
            else pl.lit(symbol_of_file(source, pair))
        )
        try:
            # Only the other symbols are counted: with the symbol in the folders, no file of
            # the pair is opened for it.
            others = ~self._symbol.is_in(self._pair).fill_null(False)
            census = self._scan.filter(others).group_by(self._symbol.alias("symbol")).len()
            self.elsewhere = {str(s): int(n) for s, n in census.collect().iter_rows()}
            """Rows of the other symbols, by symbol (not read)."""
            self._files = self._list(schema)
            """The pair's files, each with its one symbol (None when a column names them)."""
            rows = pl.scan_parquet([path for path, _ in self._files]).select(pl.len())
            self.whole = rows.collect().item() <= WHOLE
            """Whether the recording is small enough to read whole."""
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _unreadable(source, exc) from None
        self._groups: list[_Group] = []
        """The pair's files in groups, as :meth:`read` read them."""

    def _list(self, schema: pl.Schema) -> list[tuple[str, str | None]]:
        if "symbol" not in schema:  # a lone file: the symbol is in its name
            return [(str(self.source.path), symbol_of_file(self.source, self._pair))]
        root = self.source.path
        files = _files(root)
        if not files:
            raise self._nothing()
        if "symbol" in pl.read_parquet_schema(files[0]):  # any file may hold any symbol
            return [(str(path), None) for path in files]
        # The symbol is in the folders: the pair's files only.
        pair: list[tuple[str, str | None]] = []
        for path in files:
            # Polars reads a folder's partitions below it, a lone file's from its whole path.
            parts = path.relative_to(root).parts if root.is_dir() else path.parts
            folder = [p.partition("=")[2] for p in parts if p.startswith("symbol=")]
            name = unquote(folder[-1]).upper() if folder else None
            if name is not None and name in self._pair:
                pair.append((str(path), name))
        if not pair:
            raise self._nothing()
        return pair

    def read(self) -> Generator[tuple[int, pl.DataFrame], None, ParsedTrades]:
        """Read the pair's trades: whole (nothing yielded, the trades returned), or a group of
        files at a time.

        Yields the pair's trades in :data:`~pairs_tui.feed.replay.table.TRADE_SCHEMA`, each
        block with the number of its group (:meth:`_grouped`): the files in the order of their
        paths, each file's rows in its order, a group at once or :data:`BLOCK` rows of a lone
        big file at a time. Returns the counts.

        Raises:
            ReplayError: A file cannot be read, too much is malformed, or no trade is left.
        """
        if self.whole:
            return self._read_whole()
        problems = Problems()
        kept = dropped = 0
        self._groups = self._grouped()
        for number, group in enumerate(self._groups):
            for block in self._trades.blocks(group):
                found = Problems()
                chunk, dropped_here = clean_trades(block, found)
                if found.malformed:
                    assert found.first_line is not None
                    first = found.first_line + problems.records
                    problems.add(first, found.first_problem, found.malformed)
                problems.records += block.height
                dropped += dropped_here
                if chunk.height:
                    kept += chunk.height
                    yield number, chunk
        if not problems.records:
            raise self._nothing()
        check_trades(self.source, problems, _EXPECTED, kept, dropped)
        return ParsedTrades(
            self.source,
            pl.DataFrame(schema=TRADE_SCHEMA),
            problems.malformed,
            dropped,
            elsewhere=self.elsewhere,
        )

    def _grouped(self) -> list[_Group]:
        """The pair's files in groups: consecutive files of one symbol (or, with a symbol
        column, any), up to :data:`GROUP` rows together; a bigger file alone.

        The footers are read again here, file by file: :meth:`__init__` counts them all in one
        scan, which is cheaper for the recordings read whole (4.7 against 5.9 ms for 26 files)."""
        try:
            counted = pl.collect_all(
                [
                    pl.scan_parquet(path, hive_partitioning=False).select(pl.len())
                    for path, _ in self._files
                ]
            )
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _unreadable(self.source, exc) from None
        groups: list[_Group] = []
        for (path, symbol), count in zip(self._files, counted, strict=True):
            rows = int(count.item())
            last = groups[-1] if groups else None
            if (
                last is not None
                and last.symbol == symbol
                and sum(last.rows) + rows <= GROUP
                and last.rows[0] <= GROUP
            ):
                last.files.append(path)
                last.rows.append(rows)
            else:
                groups.append(_Group(symbol, [path], [rows]))
        return groups

    def path_of(self, number: int) -> str:
        """The file or files of group ``number``."""
        files = self._groups[number].files
        return files[0] if len(files) == 1 else f"{files[0]} to {files[-1]}"

    def reread(self, number: int) -> Iterator[pl.DataFrame]:
        """The blocks :meth:`read` yielded of group ``number``, read again.

        Raises:
            ReplayError: A file cannot be read.
        """
        for block in self._trades.blocks(self._groups[number]):
            chunk, _ = clean_trades(block, Problems())
            if chunk.height:
                yield chunk

    def _read_whole(self) -> ParsedTrades:
        scan = self._scan.with_columns(self._symbol.alias("symbol"))
        try:
            frame = (
                scan.filter(pl.col("symbol").is_in(self._pair))
                .select(pl.col("symbol").cast(self._trades.symbols), *self._trades.columns)
                .collect()
            )
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _unreadable(self.source, exc) from None
        frame = self._trades.in_ms(frame)
        if frame.is_empty():
            raise self._nothing()
        parsed = finish_trades(self.source, frame, Problems(records=frame.height), _EXPECTED)
        parsed.elsewhere = self.elsewhere
        return parsed

    def _nothing(self) -> Exception:
        held = ", ".join(sorted(self.elsewhere)) or "nothing"
        return self.source.error(f"holds no trades of {' or '.join(self._pair)} (it holds {held})")


def _scanned(root: Path) -> Path | str:
    """What Polars scans: a file, or a folder's ``**/*.parquet``. A folder may hold the
    recorder's ``.tmp`` files, beside which Polars refuses to scan the folder itself."""
    return root if root.is_file() else str(root / "**" / "*.parquet")


def _files(root: Path) -> list[Path]:
    """The Parquet files of a file or folder, as a glob reader sees them: ``**/*.parquet``,
    not hidden (``.`` or ``_`` first), in the order of their paths."""
    if root.is_file():
        return [root]
    return sorted(
        path
        for path in root.rglob("*.parquet")
        if not any(p.startswith((".", "_")) for p in path.relative_to(root).parts)
    )


@dataclass
class _Group:
    """Consecutive files of one symbol (None: a symbol column names them) read together, or a
    file bigger than :data:`GROUP` rows alone, read :data:`BLOCK` rows at a time."""

    symbol: str | None
    files: list[str]
    rows: list[int]
    """Each file's rows when it was listed, which are the rows read (and read again): a file
    the recorder adds to afterwards is read as it was."""


class _Trades:
    """How the rows of one file of the dataset become the pair's raw trades."""

    def __init__(self, source: ReplayInput, schema: pl.Schema, pair: Sequence[str]) -> None:
        self._source = source
        self.pair = list(pair)
        self.symbols = pl.Enum(self.pair)
        """The type of the trades' ``symbol``: a byte a trade (see
        :data:`~pairs_tui.feed.replay.table.TRADE_SCHEMA`)."""
        time = pl.col("time")
        self._exact = False
        """Whether the times are converted to ms exactly as read (else told by magnitude)."""
        if isinstance(schema["time"], pl.Datetime):
            time, self._exact = time.dt.epoch("ms"), True
        elif schema["time"].is_float():
            time, self._exact = epoch_to_ms(time, fractional=True), True
        else:
            time = time.cast(pl.Int64)  # milliseconds already, as --record writes, unless not
        self.columns = [
            time.alias("time"),
            pl.col("price").cast(pl.Float64),
            pl.col("qty").cast(pl.Float64),
            pl.col("buyer_maker").cast(pl.Boolean),
            (pl.col("id").cast(pl.Int64) if "id" in schema else pl.lit(-1, pl.Int64)).alias("id"),
            pl.lit("unknown", KIND).alias("kind"),
        ]

    def blocks(self, group: _Group) -> Iterator[pl.DataFrame]:
        """The pair's rows of a group's files, in the files' order: all at once, or from a lone
        file bigger than :data:`GROUP`, :data:`BLOCK` rows at a time."""
        if len(group.files) > 1 or group.rows[0] <= GROUP:
            # Each file read whole, in parallel, then cut to its rows (a limit in each scan
            # would read them one by one, at a third of the speed).
            scans = [self._scan(path, group.symbol) for path in group.files]
            read = self._collected(lambda: pl.collect_all(scans))
            rows = zip(read, group.rows, strict=True)
            yield self._pair(pl.concat([frame.head(n) for frame, n in rows]), group.symbol)
            return
        scan = self._scan(group.files[0], group.symbol)
        for offset in range(0, group.rows[0], BLOCK):
            part = scan.slice(offset, min(BLOCK, group.rows[0] - offset))
            block = self._pair(self._collected(part.collect), group.symbol)
            if block.height:
                yield block

    def _scan(self, path: str, symbol: str | None) -> pl.LazyFrame:
        name = (
            pl.col("symbol").cast(pl.String).str.to_uppercase()
            if symbol is None
            else pl.lit(symbol, self.symbols)
        )
        scan = pl.scan_parquet(path, hive_partitioning=False)
        return scan.select(name.alias("symbol"), *self.columns)

    def _collected(self, collect: Callable[[], _T]) -> _T:
        try:
            return collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _unreadable(self._source, exc) from None

    def _pair(self, block: pl.DataFrame, symbol: str | None) -> pl.DataFrame:
        if symbol is None:
            block = block.filter(pl.col("symbol").is_in(self.pair))
            block = block.with_columns(pl.col("symbol").cast(self.symbols))
        return self.in_ms(block)

    def in_ms(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The frame with integer times told apart by magnitude (s, ms, µs or ns) in ms."""
        if self._exact or frame.is_empty():
            return frame
        low, high = frame["time"].min(), frame["time"].max()
        if 10**11 <= low <= high < 10**14:  # type: ignore[operator]
            return frame
        return frame.with_columns(epoch_to_ms(pl.col("time")))


def _unreadable(source: ReplayInput, exc: BaseException) -> Exception:
    first_line = str(exc).strip().split("\n", 1)[0]
    return source.error(f"cannot read the Parquet data ({first_line})")
