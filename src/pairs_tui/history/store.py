"""The local bar store: one Parquet file per symbol, timeframe and UTC date.

Layout under the root (``$XDG_CACHE_HOME/pairs-tui/history/`` by default)::

    symbol=BTCUSDT/timeframe=1m/date=2026-12-04/bars.parquet

Columns ``ts`` (bar start, ``timestamp[ms, UTC]``), ``open``, ``high``, ``low``, ``close``,
``volume`` (float64) and ``trades`` (int64), sorted by ``ts``, one row per bar. The file's
key-value metadata ``pairs_tui.covered`` lists, as JSON ``[[start, end], ...]`` (ms, half-open,
bar starts), the ranges that were fetched: inside them a bar that has no row does not exist (the
symbol was not listed yet), so it is never asked for again. A file without that key (written by
another tool) covers exactly its rows.

Any reader of hive-partitioned Parquet reads the store: ``pl.scan_parquet(f"{root}/**/*.parquet",
hive_partitioning=True)`` or DuckDB's ``read_parquet('…/**/*.parquet', hive_partitioning=true)``.
Files are replaced atomically (a temporary file in the same folder, whose name does not end in
``.parquet``, then fsync and rename), so a reader sees the old partition or the new one, never
half of one. A file that fails the checks on read is never trusted: it is logged, moved out of
the dataset to ``<root>.corrupt/`` and its range counts as missing.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

from pairs_tui.records import OHLCV

log = logging.getLogger("pairs_tui.history")

TIMEFRAME_MS: Final[dict[str, int]] = {
    "1s": 1_000,
    "1m": 60_000,
    "5m": 300_000,
    "1h": 3_600_000,
}
"""Every timeframe the store keeps, by Binance's interval name, and its length in ms."""

FILE_NAME: Final = "bars.parquet"
"""The one file of each partition."""

COVERED_KEY: Final = "pairs_tui.covered"
"""Parquet key-value metadata: the ranges of bar starts the file covers, JSON."""

DAY_MS: Final = 86_400_000
"""One date partition."""

FILE_SCHEMA: Final = pl.Schema(
    {
        "ts": pl.Datetime("ms", "UTC"),
        **dict.fromkeys(OHLCV, pl.Float64()),
        "trades": pl.Int64(),
    }
)
"""The columns of every partition file, in order."""

BARS_SCHEMA: Final[dict[str, type[pl.DataType]]] = {
    "ts": pl.Int64,
    **dict.fromkeys(OHLCV, pl.Float64),
    "trades": pl.Int64,
}
"""The bars in memory: as in the files, with ``ts`` as Int64 ms since the epoch."""

Span = tuple[int, int]
"""A half-open range ``[start, end)`` of bar starts, ms UTC."""


class CorruptPartition(Exception):
    """A partition file failed a check (internal: the store quarantines the file)."""


@dataclass(frozen=True)
class Stored:
    """What the store holds of a range."""

    bars: pl.DataFrame
    """The stored bars in the range, oldest first (:data:`BARS_SCHEMA`)."""
    missing: list[Span]
    """The ranges of bars neither stored nor known not to exist, oldest first."""


def default_root() -> Path:
    """``$XDG_CACHE_HOME/pairs-tui/history`` (``~/.cache`` when the variable is unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pairs-tui" / "history"


def history_root(folder: str = "") -> Path:
    """The store's root from the ``[history] folder`` setting.

    Args:
        folder: The setting; empty for the XDG default, ``~`` expanded.

    Returns:
        The root folder (not created).
    """
    return Path(folder).expanduser() if folder else default_root()


def timeframe_ms(timeframe: str) -> int:
    """The length of a bar of ``timeframe``.

    Raises:
        ValueError: A timeframe the store does not keep.
    """
    try:
        return TIMEFRAME_MS[timeframe]
    except KeyError:
        known = ", ".join(TIMEFRAME_MS)
        raise ValueError(f"timeframe {timeframe!r} is not one the store keeps ({known})") from None


def grid_ceil(ms: int, step: int) -> int:
    """The first multiple of ``step`` at or after ``ms``."""
    return -(-ms // step) * step


def empty_bars() -> pl.DataFrame:
    """No bars, with the store's columns."""
    return pl.DataFrame(schema=BARS_SCHEMA)


class HistoryStore:
    """Bars on disk, partitioned by symbol, timeframe and UTC date.

    Not safe for concurrent writers of one partition: :class:`~pairs_tui.history.fetch.History`
    serialises its writes; two processes sharing a root at worst lose one's coverage (a rename
    wins whole), which only means a later fetch of the same range.

    Args:
        root: The store's folder; :func:`default_root` when None. Created on the first write.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        """The folder holding ``symbol=…`` folders."""

    @property
    def quarantine(self) -> Path:
        """Where corrupt files go: beside the root, outside the dataset, so that no reader of
        ``root/**/*.parquet`` meets them."""
        return self.root.with_name(f"{self.root.name}.corrupt")

    def path(self, symbol: str, timeframe: str, day_ms: int) -> Path:
        """The file of the partition holding ``day_ms``.

        Raises:
            ValueError: A symbol that cannot be a folder name, or an unknown timeframe.
        """
        timeframe_ms(timeframe)
        date = datetime.fromtimestamp(day_ms // 1000, UTC).strftime("%Y-%m-%d")
        return (
            self.root
            / f"symbol={_symbol(symbol)}"
            / f"timeframe={timeframe}"
            / f"date={date}"
            / FILE_NAME
        )

    def load(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> Stored:
        """The stored bars with ``start_ms <= ts < end_ms`` and what the range lacks.

        Corrupt files met on the way are logged, quarantined and count as missing.

        Args:
            symbol: Symbol, any case.
            timeframe: ``1s``, ``1m``, ``5m`` or ``1h``.
            start_ms: First bar start wanted, ms UTC.
            end_ms: Bar starts before this, ms UTC.

        Returns:
            The bars and the missing ranges (on the timeframe's grid).

        Raises:
            ValueError: A bad symbol or timeframe.
        """
        step = timeframe_ms(timeframe)
        lo, hi = grid_ceil(start_ms, step), grid_ceil(end_ms, step)
        frames: list[pl.DataFrame] = []
        covered: list[Span] = []
        for day in _days(lo, hi):
            part = self._read(symbol, timeframe, day)
            if part is None:
                continue
            bars, spans = part
            frames.append(bars.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi)))
            covered.extend(spans)
        bars = pl.concat(frames) if frames else empty_bars()
        return Stored(bars, subtract([(lo, hi)] if lo < hi else [], covered))

    def read(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> pl.DataFrame:
        """The stored bars with ``start_ms <= ts < end_ms``, ``ts`` as Int64 ms, oldest first.

        Raises:
            ValueError: A bad symbol or timeframe.
        """
        return self.load(symbol, timeframe, start_ms, end_ms).bars

    def missing(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> list[Span]:
        """The ranges of ``[start_ms, end_ms)`` whose bars are neither stored nor known not to
        exist, on the timeframe's grid, oldest first.

        Raises:
            ValueError: A bad symbol or timeframe.
        """
        return self.load(symbol, timeframe, start_ms, end_ms).missing

    def write(
        self, symbol: str, timeframe: str, bars: pl.DataFrame, covered: Iterable[Span]
    ) -> None:
        """Merge fetched bars into their partitions, each rewritten whole and atomically.

        Args:
            symbol: Symbol, any case.
            timeframe: ``1s``, ``1m``, ``5m`` or ``1h``.
            bars: :data:`BARS_SCHEMA` columns (``ts`` Int64 ms or Datetime), every ``ts`` on
                the timeframe's grid and inside ``covered``. A bar already stored is replaced.
            covered: The ranges these bars were fetched for: where a bar has no row, it does not
                exist.

        Raises:
            ValueError: Bad bars (off the grid, outside ``covered``, duplicated, nulls) or a bad
                symbol or timeframe.
            OSError: The disk refused.
        """
        step = timeframe_ms(timeframe)
        spans = merge(covered)
        for start, end in spans:
            if start % step or end % step:
                raise ValueError(f"covered range {start}..{end} is not on the {timeframe} grid")
        new = _checked(_in_memory(bars), step, spans, f"bars to write for {symbol} {timeframe}")
        days = sorted({day for start, end in spans for day in _days(start, end)})
        for day in days:
            day_spans = clip(spans, day, day + DAY_MS)
            rows = new.filter((pl.col("ts") >= day) & (pl.col("ts") < day + DAY_MS))
            old = self._read(symbol, timeframe, day)
            if old is not None:
                old_bars, old_spans = old
                kept = old_bars.filter(~pl.col("ts").is_in(rows["ts"].implode()))
                rows = pl.concat([kept, rows]).sort("ts")
                day_spans = merge([*old_spans, *day_spans])
            _write_atomic(self.path(symbol, timeframe, day), rows, day_spans)

    def _read(
        self, symbol: str, timeframe: str, day: int
    ) -> tuple[pl.DataFrame, list[Span]] | None:
        """One partition, checked; None when absent or corrupt (then quarantined)."""
        path = self.path(symbol, timeframe, day)
        if not path.exists():
            return None
        try:
            return _read_partition(path, day, timeframe_ms(timeframe))
        except CorruptPartition as exc:
            self._quarantine(path, str(exc))
            return None

    def _quarantine(self, path: Path, why: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        dest = (
            self.quarantine
            / path.parent.relative_to(self.root)
            / f"{stamp}-{os.getpid()}-{path.name}"
        )
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
            where = f"moved to {dest}"
        except OSError:
            # Another file system, or no right to write beside the root: out of the dataset is
            # what matters, so remove it.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            where = "removed"
        log.warning(
            "history: %s is corrupt (%s): %s; its bars will be fetched again", path, why, where
        )


def _symbol(symbol: str) -> str:
    name = symbol.strip().upper()
    if not name or name in (".", "..") or any(c in name for c in "/\\=\0") or name.startswith("."):
        raise ValueError(f"symbol {symbol!r} cannot name a history partition")
    return name


def _days(start: int, end: int) -> list[int]:
    """Starts of the UTC days that hold bar starts in ``[start, end)``."""
    if start >= end:
        return []
    first = start - start % DAY_MS
    return list(range(first, end, DAY_MS))


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-overlapping ranges covering the same bars; empty ranges dropped."""
    out: list[list[int]] = []
    for start, end in sorted(s for s in spans if s[0] < s[1]):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def subtract(spans: Iterable[Span], minus: Iterable[Span]) -> list[Span]:
    """The parts of ``spans`` outside ``minus``."""
    holes = merge(minus)
    out: list[Span] = []
    for start, end in merge(spans):
        at = start
        for h_start, h_end in holes:
            if h_end <= at or h_start >= end:
                continue
            if h_start > at:
                out.append((at, h_start))
            at = max(at, h_end)
        if at < end:
            out.append((at, end))
    return out


def clip(spans: Sequence[Span], start: int, end: int) -> list[Span]:
    """The parts of ``spans`` inside ``[start, end)``."""
    return [(max(s, start), min(e, end)) for s, e in spans if s < end and e > start]


def _in_memory(bars: pl.DataFrame) -> pl.DataFrame:
    missing = [name for name in BARS_SCHEMA if name not in bars.columns]
    if missing:
        raise ValueError(f"bars lack the columns {', '.join(missing)}")
    ts = pl.col("ts")
    if isinstance(bars.schema["ts"], pl.Datetime):
        ts = ts.dt.epoch("ms")
    return bars.select(
        ts.cast(pl.Int64), *(pl.col(n).cast(t) for n, t in BARS_SCHEMA.items() if n != "ts")
    )


def _checked(bars: pl.DataFrame, step: int, spans: Sequence[Span], what: str) -> pl.DataFrame:
    """``bars`` sorted, after checking them against the grid and the covered ranges.

    Raises:
        ValueError: What is wrong, naming ``what``.
    """
    if bars.null_count().sum_horizontal().item():
        raise ValueError(f"{what}: null values")
    ts = bars["ts"]
    if len(ts) and (ts % step != 0).any():
        raise ValueError(f"{what}: a bar start off the {step} ms grid")
    if ts.n_unique() != len(ts):
        raise ValueError(f"{what}: two bars with one start")
    if not _inside(ts.to_numpy(), step, spans):
        raise ValueError(f"{what}: a bar outside the ranges it was fetched for")
    return bars.sort("ts")


def _inside(ts: np.ndarray, step: int, spans: Sequence[Span]) -> bool:
    """Whether every bar ``[t, t + step)`` lies inside one of ``spans`` (merged, sorted)."""
    if not len(ts):
        return True
    if not spans:
        return False
    starts = np.array([s for s, _ in spans], dtype=np.int64)
    ends = np.array([e for _, e in spans], dtype=np.int64)
    at = np.searchsorted(starts, ts, side="right") - 1
    return bool(((at >= 0) & (ts + step <= ends[np.maximum(at, 0)])).all())


def _runs(ts: np.ndarray, step: int) -> list[Span]:
    """The ranges covered by bars at sorted starts ``ts``: one per run of consecutive bars."""
    if not len(ts):
        return []
    breaks = np.flatnonzero(np.diff(ts) != step) + 1
    firsts = np.concatenate(([0], breaks))
    lasts = np.concatenate((breaks - 1, [len(ts) - 1]))
    return [(int(ts[f]), int(ts[la]) + step) for f, la in zip(firsts, lasts, strict=True)]


def _read_partition(path: Path, day: int, step: int) -> tuple[pl.DataFrame, list[Span]]:
    """The bars of one file and the ranges it covers.

    Raises:
        CorruptPartition: Unreadable, not Parquet, another schema, bad metadata, or rows
            outside the date, off the grid, unsorted, duplicated or outside the covered ranges.
    """
    try:
        # One read of the bytes: the metadata and the rows come from the same version even if
        # another process renames a new file over this one meanwhile.
        data = io.BytesIO(path.read_bytes())
        meta = pl.read_parquet_metadata(data)
        data.seek(0)
        frame = pl.read_parquet(data)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise CorruptPartition(f"not a readable Parquet file: {exc}") from None
    if list(frame.schema.items()) != list(FILE_SCHEMA.items()):
        found = ", ".join(f"{name} {dtype}" for name, dtype in frame.schema.items())
        raise CorruptPartition(f"columns are {found}, not the store's")
    frame = _in_memory(frame)
    ts = frame["ts"]
    if len(ts) and (ts.min() < day or ts.max() >= day + DAY_MS):  # type: ignore[operator]
        raise CorruptPartition("rows outside its date")
    if len(ts) > 1 and (ts.diff().drop_nulls() <= 0).any():
        raise CorruptPartition("bar starts duplicated or out of order")
    raw = meta.get(COVERED_KEY)
    try:
        spans = _covered(raw, day, step) if raw is not None else _runs(ts.to_numpy(), step)
        return _checked(frame, step, spans, "partition"), spans
    except ValueError as exc:
        raise CorruptPartition(str(exc).removeprefix("partition: ")) from None


def _covered(raw: str, day: int, step: int) -> list[Span]:
    try:
        spans = json.loads(raw)
        out = [(int(s), int(e)) for s, e in spans]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"covered ranges unreadable: {exc}") from None
    for start, end in out:
        if not (day <= start < end <= day + DAY_MS) or start % step or end % step:
            raise ValueError(f"covered range {start}..{end} outside its date or off the grid")
    return merge(out)


def _to_file(bars: pl.DataFrame) -> pl.DataFrame:
    return bars.select(pl.col("ts").cast(FILE_SCHEMA["ts"]), *(n for n in FILE_SCHEMA if n != "ts"))


def _write_atomic(path: Path, bars: pl.DataFrame, spans: Sequence[Span]) -> None:
    """Replace ``path`` by a file holding ``bars`` covering ``spans``, or leave it as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name does not end in .parquet, so readers of root/**/*.parquet skip it.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            _to_file(bars).write_parquet(handle, metadata={COVERED_KEY: json.dumps(spans)})
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # The rename itself is durable only once the folder is.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
