"""Two symbols' stored bars as the pipeline's pair bars: one grid, each leg forward-filled."""

from __future__ import annotations

import numpy as np
import polars as pl

from pairs_tui.history.store import grid_ceil
from pairs_tui.records import Bar, PairBar


def pair_bars(
    a: pl.DataFrame, b: pl.DataFrame, start_ms: int, end_ms: int, timeframe_ms: int
) -> list[PairBar]:
    """Both legs on the grid of ``[start_ms, end_ms)``, as the live bar builder would give them.

    A grid point where a leg has no bar repeats that leg's previous close with volume 0 (a bar
    of the frame before ``start_ms`` counts as previous); before a leg's first bar the leg is
    None. Bars off the grid are ignored.

    Args:
        a: The target leg's bars (``ts`` Int64 ms or Datetime, ``open``… ``trades``), sorted.
        b: The hedge leg's bars.
        start_ms: First bar start (rounded up to the grid).
        end_ms: Bar starts before this.
        timeframe_ms: Bar length.

    Returns:
        One pair bar per grid point, oldest first.
    """
    grid = np.arange(grid_ceil(start_ms, timeframe_ms), end_ms, timeframe_ms, dtype=np.int64)
    legs_a, legs_b = _leg(a, grid), _leg(b, grid)
    return [
        PairBar(int(ts), bar_a, bar_b)
        for ts, bar_a, bar_b in zip(grid.tolist(), legs_a, legs_b, strict=True)
    ]


def _leg(bars: pl.DataFrame, grid: np.ndarray) -> list[Bar | None]:
    ts_col = bars["ts"]
    if isinstance(ts_col.dtype, pl.Datetime):
        ts_col = ts_col.dt.epoch("ms")
    ts = ts_col.cast(pl.Int64).to_numpy()
    # The latest bar at or before each grid point.
    at = np.searchsorted(ts, grid, side="right") - 1
    opens, highs, lows, closes, volumes = (
        bars[n].to_list() for n in ("open", "high", "low", "close", "volume")
    )
    trades = bars["trades"].to_list()
    out: list[Bar | None] = []
    for point, i in zip(grid.tolist(), at.tolist(), strict=True):
        if i < 0:
            out.append(None)
        elif ts[i] == point:
            out.append(Bar(opens[i], highs[i], lows[i], closes[i], volumes[i], trades[i]))
        else:
            out.append(Bar.flat(closes[i]))
    return out
