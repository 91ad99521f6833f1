"""Reading the Parquet that ``--record DIR`` writes: ``symbol=…/date=…/*.parquet``.

The symbol may be a hive partition, a column in the files, or (for a lone file) in its name.
Only the pair's symbols are read; the rest are counted from the partitions, so a recording of
many symbols costs no more than one of two.

A recording of up to :data:`WHOLE` rows is read whole, in one columnar scan: the fastest way,
at about 100 bytes a trade at the peak. A bigger one is read a window of time at a time
(:class:`Window`): the files of both legs whose times meet, up to :data:`WINDOW` rows, each
window read whole and merged as a small recording is, one after the other. That needs the
files' footers to say which times and ids each file holds, and one reading of the prices, sizes
and ids before any trade is delivered, to find what reading whole would have found (a
malformed row, a print that is no market trade, an id twice in a file): with none, the windows
deliver what reading whole would have. Any other recording is read in groups of consecutive
files of one symbol, up to :data:`GROUP` rows each, and a file bigger than that :data:`BLOCK`
rows at a time, twice: once for the checks, and again as the replay delivers it
(:class:`~pairs_tui.feed.replay.stream.Reread`). Either way memory holds a window or a few
groups, not the recording (see BENCHMARKS.md, Replay).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote

import numpy as np
import polars as pl

from pairs_tui.feed.replay.files import ReplayInput
from pairs_tui.feed.replay.stream import changed
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

if TYPE_CHECKING:
    from pyarrow.parquet import FileMetaData

RECORD_COLUMNS = ("time", "price", "qty", "buyer_maker", "id")
"""The recorder's columns (``id`` may be missing)."""
WHOLE = 3_000_000
"""Rows of the pair's files up to which a recording is read whole: one scan, the fastest way
(10.7 M trades/s for 1.06 M trades in the replay benchmark, 14 M for 3.18 M), at about 100
bytes a trade at the peak (370 MB for 3.18 M trades, read whole forced), so about 360 MB at
most: less than 2 M trades took (420 MB) when the symbol was a string."""
GROUP = 1 << 18
"""Rows of consecutive files of one symbol read together above :data:`WHOLE`, when the
recording cannot be read in windows: reading many small files at once decodes them in parallel,
where a file at a time costs a few times more. On 3.18 M trades in 15-minute files, peak RSS is
224-231 MB (370 MB read whole); twice as many rows a group, 309 MB and 3% faster; half as many,
171 MB and 23% slower."""
BLOCK = 1 << 17
"""Rows of a file bigger than :data:`GROUP` read at a time."""
WINDOW = 1 << 20
"""Rows of a :class:`Window`: the files of both legs whose times meet, read whole together, as
many as fit (files whose times meet are read together even above it, up to :data:`WHOLE`)."""
MS_FROM, MS_TO = 10**11, 10**14
"""Integer times in this range are ms (1973 to 5138); others are told s, µs or ns apart."""
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
        self._integers = all(
            name in schema and schema[name].is_integer() for name in ("time", "id")
        )
        """Whether the times and ids are integers (the recorder's ms and ids)."""
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
        self.windows: list[Window] = []
        """The pair's files in windows, when :meth:`read` read them so."""

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

    def read(
        self, *, windowed: bool = False
    ) -> Generator[tuple[int, pl.DataFrame], None, ParsedTrades]:
        """Read the pair's trades: whole (nothing yielded, the trades returned), checked for
        reading in :attr:`windows` (nothing yielded, no trade returned: :meth:`window` reads
        them), or a group of files at a time.

        Yields the pair's trades in :data:`~pairs_tui.feed.replay.table.TRADE_SCHEMA`, each
        block with the number of its group (:meth:`_grouped`): the files in the order of their
        paths, each file's rows in its order, a group at once or :data:`BLOCK` rows of a lone
        big file at a time. Returns the counts.

        Args:
            windowed: Whether the recording may be read in windows (only when it is replayed
                alone: the windows merge its trades, not another file's).

        Raises:
            ReplayError: A file cannot be read, too much is malformed, or no trade is left.
        """
        if self.whole:
            return self._read_whole()
        if windowed:
            self.windows = self._windowed()
            if self.windows:
                return ParsedTrades(
                    self.source, pl.DataFrame(schema=TRADE_SCHEMA), elsewhere=self.elsewhere
                )
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

    def _windowed(self) -> list[Window]:
        """The pair's files in windows, or none when the recording cannot be read so.

        Every file must have its symbol in its folders (or name), integer times in ms and
        ids, and footers that give each column's nulls (none) and the range of its times and
        ids; no two files of a leg may share an id, nor a file hold one twice (so no trade is
        in the recording twice, and no two clash); no price, size or print may be what reading
        whole skips or drops. The windows cut the files where no file's times reach past the
        cut, so that no trade of a later window comes before one of an earlier.
        """
        named = [(path, symbol) for path, symbol in self._files if symbol is not None]
        if not self._integers or len(named) < len(self._files):
            return []
        import pyarrow.parquet as pq  # the footers' statistics, which Polars does not give

        footers: list[_Footer] = []
        try:
            for path, symbol in named:
                footer = _footer(pq.read_metadata(path), path, symbol)
                if footer is None:
                    return []
                footers.append(footer)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise _unreadable(self.source, exc) from None
        for symbol in self._pair:
            ids = sorted(f.ids for f in footers if f.symbol == symbol)
            if any(b[0] <= a[1] for a, b in pairwise(ids)):
                return []
        windows: list[Window] = []
        meeting: list[_Footer] = []  # files whose times meet, with those before them
        end = None
        for footer in [*sorted(footers, key=lambda f: (f.times[0], f.path)), None]:
            if footer is not None and end is not None and footer.times[0] <= end:
                meeting.append(footer)
                end = max(end, footer.times[1])
                continue
            if meeting:
                rows = sum(f.rows for f in meeting)
                if rows > WHOLE:  # more than a recording read whole holds
                    return []
                if not windows or windows[-1].rows + rows > WINDOW:
                    windows.append(Window())
                windows[-1].files.extend(meeting)
            if footer is not None:
                meeting, end = [footer], footer.times[1]
        for window in windows:
            window.files.sort(key=lambda f: f.path)
            if not self._checked(window):
                return []
        return windows

    def _checked(self, window: Window) -> bool:
        """Whether reading the window's files whole skips and drops nothing and finds no id
        twice in a file; notes the sum of its ids, to know the window again."""
        scans = [
            pl.scan_parquet(f.path, hive_partitioning=False).select("price", "qty", "id")
            for f in window.files
        ]
        read = self._trades.collected(lambda: pl.collect_all(scans))
        for frame, footer in zip(read, window.files, strict=True):
            frame = frame.head(footer.rows)
            price, qty = frame["price"].to_numpy(), frame["qty"].to_numpy()
            ids = frame["id"].to_numpy()
            # As clean_trades tells a malformed row, and a print that is no market trade.
            if not (np.isfinite(price) & (price > 0) & np.isfinite(qty) & (qty > 0)).all():
                return False
            if (ids[1:] <= ids[:-1]).any() and np.unique(ids).size < ids.size:
                return False  # an id twice in the file: a copy, or two trades that clash
            window.ids += int(frame["id"].sum())
        return True

    def window(self, number: int) -> pl.DataFrame:
        """The trades of window ``number``, in
        :data:`~pairs_tui.feed.replay.table.TRADE_SCHEMA`: its files in the order of their
        paths, each file's rows as :meth:`read` checked them.

        Raises:
            ReplayError: A file cannot be read, or no longer holds what was checked.
        """
        window = self.windows[number]
        scans = [self._trades.scan(f.path, f.symbol) for f in window.files]
        read = self._trades.collected(lambda: pl.collect_all(scans))
        trades = pl.concat(
            [part.head(f.rows) for part, f in zip(read, window.files, strict=True)],
            rechunk=True,  # one chunk, which the merge gathers from fastest
        )
        if trades.height != window.rows or int(trades["id"].sum()) != window.ids:
            first, last = window.files[0].path, window.files[-1].path
            raise changed(first if first == last else f"{first} to {last}")
        return trades

    @property
    def counts(self) -> dict[str, int]:
        """The pair's trades in :attr:`windows`, by symbol."""
        rows = dict.fromkeys(self._pair, 0)
        for window in self.windows:
            for f in window.files:
                rows[f.symbol] += f.rows
        return rows

    @property
    def last_time(self) -> int | None:
        """The latest trade time in :attr:`windows`."""
        return max((f.times[1] for w in self.windows for f in w.files), default=None)

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


@dataclass(frozen=True)
class _Footer:
    """What a file's footer says of it."""

    path: str
    symbol: str
    rows: int
    times: tuple[int, int]
    """Its earliest and latest trade time (ms)."""
    ids: tuple[int, int]
    """Its smallest and largest id."""


def _footer(meta: FileMetaData, path: str, symbol: str) -> _Footer | None:
    """A file's footer, when it gives each column's nulls (none) and the range of the times
    (in ms) and ids of every row group."""
    ranges: dict[str, tuple[int, int]] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            name, stats = column.path_in_schema, column.statistics
            if name not in RECORD_COLUMNS:
                continue
            if stats is None or not stats.has_null_count or stats.null_count:
                return None
            if name in ("time", "id") and group.num_rows:
                if not stats.has_min_max:
                    return None
                lo, hi = int(stats.min), int(stats.max)
                if name in ranges:
                    lo, hi = min(lo, ranges[name][0]), max(hi, ranges[name][1])
                ranges[name] = (lo, hi)
    if "time" not in ranges or "id" not in ranges:
        return None
    times = ranges["time"]
    if not MS_FROM <= times[0] <= times[1] < MS_TO:
        return None  # seconds, µs or ns, converted by magnitude over what is read with them
    return _Footer(path, symbol, meta.num_rows, times, ranges["id"])


@dataclass
class Window:
    """Files of both legs read whole together: every file whose times meet another's is in
    the same window, and a later window's files start after every file of an earlier one ends.
    """

    files: list[_Footer] = field(default_factory=list)
    """In the order of their paths."""
    ids: int = 0
    """The sum of the ids, as checked."""

    @property
    def rows(self) -> int:
        """Its trades."""
        return sum(f.rows for f in self.files)


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
            scans = [self.scan(path, group.symbol) for path in group.files]
            read = self.collected(lambda: pl.collect_all(scans))
            rows = zip(read, group.rows, strict=True)
            yield self._pair(pl.concat([frame.head(n) for frame, n in rows]), group.symbol)
            return
        scan = self.scan(group.files[0], group.symbol)
        for offset in range(0, group.rows[0], BLOCK):
            part = scan.slice(offset, min(BLOCK, group.rows[0] - offset))
            block = self._pair(self.collected(part.collect), group.symbol)
            if block.height:
                yield block

    def scan(self, path: str, symbol: str | None) -> pl.LazyFrame:
        name = (
            pl.col("symbol").cast(pl.String).str.to_uppercase()
            if symbol is None
            else pl.lit(symbol, self.symbols)
        )
        scan = pl.scan_parquet(path, hive_partitioning=False)
        return scan.select(name.alias("symbol"), *self.columns)

    def collected(self, collect: Callable[[], _T]) -> _T:
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
        if MS_FROM <= low <= high < MS_TO:  # type: ignore[operator]
            return frame
        return frame.with_columns(epoch_to_ms(pl.col("time")))


def _unreadable(source: ReplayInput, exc: BaseException) -> Exception:
    first_line = str(exc).strip().split("\n", 1)[0]
    return source.error(f"cannot read the Parquet data ({first_line})")
