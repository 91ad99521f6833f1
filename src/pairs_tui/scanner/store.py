"""Read a universe's closes from the history store, one date partition at a time.

The store is Parquet partitioned ``symbol=SYMBOL/timeframe=TF/date=YYYY-MM-DD/*.parquet`` under a
root, with columns ``ts`` (bar start, Datetime ms UTC), ``open``, ``high``, ``low``, ``close``,
``volume`` and ``trades``. A local root is read with Polars alone; a URL (``s3://…``, or any
fsspec protocol) through fsspec, which comes with ``pairs-tui[cluster]``. Only the date
partitions that can hold the wanted bars are opened.

The pieces (:func:`latest_bar`, :func:`symbol_bars`, :func:`align`) are what the Dask engine's
workers run, each where the data is; :func:`read_closes` runs them here, in the same order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pairs_tui.scanner.prices import PriceMatrix

_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

StorageOptions = Mapping[str, Any] | None
"""Passed to fsspec for a URL root (credentials, endpoint); ignored for a local path."""


def timeframe_ms(timeframe: str) -> int:
    """Length of a bar of ``timeframe`` (``"1s"``, ``"1m"``, ``"5m"``, ``"1h"``, ``"1d"``…).

    Args:
        timeframe: A count and a unit, as Binance writes intervals.

    Returns:
        Milliseconds.

    Raises:
        ValueError: For anything else.
    """
    match = re.fullmatch(r"([1-9][0-9]*)([smhd])", timeframe)
    if match is None:
        raise ValueError(f"timeframe {timeframe!r} is not a count and a unit (s, m, h, d)")
    return int(match[1]) * _UNITS[match[2]]


def latest_bar(
    root: str | Path,
    symbol: str,
    timeframe: str,
    *,
    end: int | None = None,
    storage_options: StorageOptions = None,
) -> int | None:
    """Start of the symbol's last stored bar before ``end`` (ms UTC), or None if it has none.

    Args:
        root: The store's root folder or URL.
        symbol: Upper-case symbol.
        timeframe: Bar timeframe, e.g. ``"1m"``.
        end: Exclusive upper bound on bar starts; None for no bound.
        storage_options: fsspec options for a URL root.

    Returns:
        The bar start, or None.
    """
    store = _Store(root, storage_options)
    for date in sorted(store.dates(symbol, timeframe), reverse=True):
        if end is not None and _day_start(date) >= end:
            continue
        ts = store.read(symbol, timeframe, date)["ts"].to_numpy()
        if end is not None:
            ts = ts[ts < end]
        if len(ts):
            return int(ts.max())
    return None


def symbol_bars(
    root: str | Path,
    symbol: str,
    timeframe: str,
    *,
    start: int,
    end: int,
    storage_options: StorageOptions = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The symbol's bars with ``start <= ts < end``, from the date partitions that hold them.

    Args:
        root: The store's root folder or URL.
        symbol: Upper-case symbol.
        timeframe: Bar timeframe.
        start: First bar start wanted, ms UTC.
        end: Exclusive upper bound, ms UTC.
        storage_options: fsspec options for a URL root.

    Returns:
        ``(ts, close)``: int64 bar starts, increasing, each once (the last copy wins), and
        float64 closes.
    """
    store = _Store(root, storage_options)
    first, last = _date_of(start), _date_of(end - 1)
    frames = [
        store.read(symbol, timeframe, date)
        for date in store.dates(symbol, timeframe)
        if first <= date <= last
    ]
    if not frames:
        return np.empty(0, dtype=np.int64), np.empty(0)
    bars = (
        pl.concat(frames)
        .filter((pl.col("ts") >= start) & (pl.col("ts") < end))
        .unique("ts", keep="last", maintain_order=True)
        .sort("ts")
    )
    return bars["ts"].to_numpy().astype(np.int64), bars["close"].to_numpy().astype(np.float64)


def align(grid: np.ndarray, series: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Closes of each series on the grid: NaN before a symbol's first bar and after its last,
    the previous close inside its history where a bar is missing (a bar without trades).

    Args:
        grid: Bar starts, int64, increasing.
        series: ``(ts, close)`` per symbol, as :func:`symbol_bars` returns.

    Returns:
        ``(len(grid), len(series))`` closes.
    """
    closes = np.full((len(grid), len(series)), np.nan)
    for col, (ts, close) in enumerate(series):
        at = np.searchsorted(grid, ts)
        on_grid = (at < len(grid)) & (grid[np.minimum(at, len(grid) - 1)] == ts)
        if not on_grid.any():
            continue
        rows = at[on_grid]
        closes[rows, col] = close[on_grid]
        inside = closes[rows[0] : rows[-1] + 1, col]
        # Forward-fill: each row takes the close of the latest row at or before it that has one.
        latest = np.maximum.accumulate(np.where(np.isnan(inside), 0, np.arange(len(inside))))
        closes[rows[0] : rows[-1] + 1, col] = inside[latest]
    return closes


def read_closes(
    root: str | Path,
    symbols: Sequence[str],
    timeframe: str,
    bars: int,
    *,
    end: int | None = None,
    storage_options: StorageOptions = None,
) -> PriceMatrix:
    """The last ``bars`` bars of every symbol on one grid.

    The grid ends at the latest bar any of the symbols has before ``end`` and steps back by the
    timeframe; a symbol with no bar on the grid is all NaN (its pairs are left out by the scan).

    Args:
        root: The store's root folder or URL.
        symbols: The universe, upper case.
        timeframe: Bar timeframe, e.g. ``"1m"``.
        bars: Bars wanted.
        end: Exclusive upper bound on bar starts (ms UTC); None for all that is stored.
        storage_options: fsspec options for a URL root.

    Returns:
        The closes.

    Raises:
        ValueError: If no symbol has a bar in the store.
    """
    ends = [
        latest_bar(root, s, timeframe, end=end, storage_options=storage_options) for s in symbols
    ]
    grid = grid_for(symbols, ends, timeframe, bars, root)
    series = [
        symbol_bars(
            root,
            s,
            timeframe,
            start=int(grid[0]),
            end=int(grid[-1]) + 1,
            storage_options=storage_options,
        )
        for s in symbols
    ]
    return PriceMatrix(align(grid, series), tuple(symbols), grid, timeframe)


def grid_for(
    symbols: Sequence[str], ends: Sequence[int | None], timeframe: str, bars: int, root: object
) -> np.ndarray:
    """The grid of ``bars`` bar starts ending at the latest of ``ends``.

    Args:
        symbols: The universe (for the error message).
        ends: Each symbol's :func:`latest_bar`.
        timeframe: Bar timeframe.
        bars: Bars wanted.
        root: The store (for the error message).

    Returns:
        int64 bar starts, oldest first.

    Raises:
        ValueError: If no symbol has a bar, or ``bars`` is not positive.
    """
    if bars < 1:
        raise ValueError(f"bars must be positive, not {bars}")
    known = [e for e in ends if e is not None]
    if not known:
        raise ValueError(
            f"no {timeframe} bars of {', '.join(symbols)} in the history store at {root}"
        )
    step = timeframe_ms(timeframe)
    return max(known) - step * np.arange(bars - 1, -1, -1, dtype=np.int64)


class _Store:
    """Listing and reading partitions, on the local disk or through fsspec."""

    def __init__(self, root: str | Path, storage_options: StorageOptions) -> None:
        text = str(root)
        self._fs: Any = None
        if "://" in text and not text.startswith("file://"):
            try:
                import fsspec  # type: ignore[import-untyped, import-not-found, unused-ignore]
            except ImportError as e:
                raise ImportError(
                    f'reading {text} needs fsspec: pip install "pairs-tui[cluster]"'
                ) from e
            self._fs, self._root = fsspec.core.url_to_fs(text, **dict(storage_options or {}))
        else:
            self._root = text.removeprefix("file://")

    def _folder(self, symbol: str, timeframe: str) -> str:
        return f"{self._root.rstrip('/')}/symbol={symbol}/timeframe={timeframe}"

    def dates(self, symbol: str, timeframe: str) -> list[str]:
        folder = self._folder(symbol, timeframe)
        if self._fs is None:
            path = Path(folder)
            names = [p.name for p in path.iterdir() if p.is_dir()] if path.is_dir() else []
        else:
            if not self._fs.isdir(folder):
                return []
            names = [
                str(p).rstrip("/").rsplit("/", 1)[-1] for p in self._fs.ls(folder, detail=False)
            ]
        return sorted(n.removeprefix("date=") for n in names if n.startswith("date="))

    def read(self, symbol: str, timeframe: str, date: str) -> pl.DataFrame:
        folder = f"{self._folder(symbol, timeframe)}/date={date}"
        local = self._fs is None
        if local:
            files = sorted(str(p) for p in Path(folder).glob("*.parquet"))
        else:
            files = sorted(self._fs.glob(f"{folder}/*.parquet"))
        frames = []
        for f in files:
            try:
                if local:
                    frames.append(pl.read_parquet(f, columns=["ts", "close"]))
                else:
                    with self._fs.open(f, "rb") as handle:
                        frames.append(pl.read_parquet(handle, columns=["ts", "close"]))
            except (pl.exceptions.PolarsError, OSError) as e:
                raise ValueError(f"cannot read {f} from the history store: {e}") from e
        if not frames:
            return pl.DataFrame(
                {"ts": [], "close": []}, schema={"ts": pl.Int64, "close": pl.Float64}
            )
        frame = pl.concat(frames)
        ts = frame["ts"]
        if ts.dtype != pl.Int64:
            ts = ts.dt.epoch("ms") if isinstance(ts.dtype, pl.Datetime) else ts.cast(pl.Int64)
        return pl.DataFrame({"ts": ts, "close": frame["close"].cast(pl.Float64)})


def _date_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC).strftime("%Y-%m-%d")


def _day_start(date: str) -> int:
    day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(day.timestamp() * 1000)
