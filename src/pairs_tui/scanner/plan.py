"""The scan's plan and its pieces: tiles of pairs, running them here, ranking the rows.

Both engines share these: the local one (:mod:`pairs_tui.scanner.engine`) runs the tiles in this
process, the Dask one (:mod:`pairs_tui.scanner.cluster`) on workers; the rows come out the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pairs_tui.records import PriceMode
from pairs_tui.scanner.prices import PriceMatrix
from pairs_tui.scanner.rows import LeftOut, LeftOutReason, ScanResult, ScanRow
from pairs_tui.scanner.tile import Tile, TileResult, scan_tile

MIN_BARS = 50
"""Default fewest common bars for a pair to be tested (the monitor's minimum for its tests)."""

MIN_BARS_FLOOR = 30
"""The least ``min_bars`` may be: at 30 bars statsmodels' largest lag is 9, and the AIC search's
largest model (10 regressors) still has twice as many rows (20) as regressors."""

BLOCK = 64
"""Symbols per side of a tile: a tile of 64 by 64 symbols holds up to 4,096 pairs."""

Progress = Callable[[int, int], None]
"""Called as ``progress(pairs_done, pairs_total)`` after each tile."""


@dataclass(frozen=True)
class ScanPlan:
    """The tiles to run and the pairs left out before any test."""

    tiles: list[Tile]
    """Pairs to test, grouped by common sample and symbol block."""
    left_out: list[tuple[int, int, LeftOutReason, str, int]]
    """``(column_a, column_b, reason, detail, bars)`` per pair left out."""
    pairs: int
    """Unordered pairs in the universe."""


def price_levels(prices: PriceMatrix, price: PriceMode) -> tuple[np.ndarray, np.ndarray]:
    """The matrix as tested and in log prices (one array, twice, in log mode).

    Args:
        prices: The closes.
        price: ``"log"`` or ``"raw"``.

    Returns:
        ``(levels, log_levels)``.
    """
    logs = np.log(prices.closes)
    return (logs if price == "log" else prices.closes), logs


def run_local(
    levels: np.ndarray,
    log_levels: np.ndarray,
    tiles: list[Tile],
    *,
    progress: Progress | None = None,
) -> list[TileResult]:
    """Run the tiles one after the other in this process.

    Args:
        levels: The matrix as tested.
        log_levels: The same in log prices.
        tiles: The plan's tiles.
        progress: Called with ``(pairs_done, pairs_total)`` after each tile.

    Returns:
        One result per tile, in the tiles' order.
    """
    total = sum(len(t.pairs) for t in tiles)
    done = 0
    results = []
    for tile in tiles:
        results.append(scan_tile(levels, log_levels, tile))
        done += len(tile.pairs)
        if progress is not None:
            progress(done, total)
    return results


def plan_scan(prices: PriceMatrix, *, min_bars: int = MIN_BARS, block: int = BLOCK) -> ScanPlan:
    """Group the universe's pairs into tiles; leave out those that cannot be tested.

    A pair's common sample is the bars where both legs are present. Pairs with fewer than
    ``min_bars`` of them, or with a leg that is flat over them, are left out here; collinear
    pairs are found (and left out) when their tile runs.

    Args:
        prices: The closes.
        min_bars: Fewest common bars.
        block: Symbols per side of a tile.

    Returns:
        The plan.

    Raises:
        ValueError: If ``min_bars`` is below :data:`MIN_BARS_FLOOR`.
    """
    if min_bars < MIN_BARS_FLOOR:
        raise ValueError(f"min_bars must be at least {MIN_BARS_FLOOR}, not {min_bars}")
    first, stop = prices.ranges()
    i, j = np.triu_indices(len(prices.symbols), 1)
    lo = np.maximum(first[i], first[j])
    hi = np.minimum(stop[i], stop[j])
    bars = np.maximum(hi - lo, 0)
    left_out: list[tuple[int, int, LeftOutReason, str, int]] = []
    for p in np.flatnonzero(bars < min_bars):
        detail = f"{bars[p]} common bars, fewer than {min_bars}"
        left_out.append((int(i[p]), int(j[p]), "too few bars", detail, int(bars[p])))
    keep = np.flatnonzero(bars >= min_bars)
    tiles: list[Tile] = []
    samples = np.unique(np.stack([lo[keep], hi[keep]], axis=1), axis=0)
    for s_lo, s_hi in samples:
        members = keep[(lo[keep] == s_lo) & (hi[keep] == s_hi)]
        columns = np.union1d(i[members], j[members])
        window = prices.closes[s_lo:s_hi, columns]
        flat = set(columns[window.max(axis=0) == window.min(axis=0)].tolist())
        testable = []
        for p in members:
            legs = [c for c in (int(i[p]), int(j[p])) if c in flat]
            if legs:
                names = " and ".join(prices.symbols[c] for c in legs)
                verb = "is" if len(legs) == 1 else "are"
                detail = f"{names} {verb} flat over the {s_hi - s_lo} common bars"
                left_out.append((int(i[p]), int(j[p]), "flat leg", detail, int(s_hi - s_lo)))
            else:
                testable.append(p)
        if not testable:
            continue
        pairs = np.stack([i[testable], j[testable]], axis=1)
        blocks = pairs // block
        order = np.lexsort((pairs[:, 1], pairs[:, 0], blocks[:, 1], blocks[:, 0]))
        pairs, blocks = pairs[order], blocks[order]
        cuts = np.flatnonzero((np.diff(blocks, axis=0) != 0).any(axis=1)) + 1
        for chunk in np.split(pairs, cuts):
            tiles.append(Tile(lo=int(s_lo), hi=int(s_hi), pairs=chunk))
    left_out.sort(key=lambda item: (item[0], item[1]))
    return ScanPlan(tiles=tiles, left_out=left_out, pairs=len(i))


def assemble(
    symbols: Sequence[str],
    ts: np.ndarray,
    timeframe: str,
    price: PriceMode,
    plan: ScanPlan,
    results: list[TileResult],
) -> ScanResult:
    """Rows from the tiles' results, ranked; collinear pairs join the left-out list.

    Args:
        symbols: The universe, in the matrix's column order.
        ts: Bar starts of the matrix's rows.
        timeframe: Bar timeframe.
        price: The price mode tested.
        plan: The plan the results came from.
        results: One per tile, in the plan's order.

    Returns:
        The scan's result.
    """
    left_out = list(plan.left_out)
    cols: dict[str, list[np.ndarray]] = {}
    for tile, result in zip(plan.tiles, results, strict=True):
        tested = ~result.collinear
        for p in np.flatnonzero(result.collinear):
            a, b = (int(c) for c in tile.pairs[p])
            detail = "R² ≥ 1 - 100·√eps: the Engle-Granger test is undefined"
            left_out.append((a, b, "collinear", detail, tile.hi - tile.lo))
        size = int(tested.sum())
        extra = {
            "lo": np.full(size, tile.lo),
            "hi": np.full(size, tile.hi),
            "first": tile.pairs[tested, 0],
            "second": tile.pairs[tested, 1],
        }
        for name, values in extra.items():
            cols.setdefault(name, []).append(values)
        for name in _FIELDS:
            cols.setdefault(name, []).append(getattr(result, name)[tested])
    left_out.sort(key=lambda item: (item[0], item[1]))
    joined = {name: np.concatenate(parts) for name, parts in cols.items()} if cols else {}
    rows: list[ScanRow] = []
    if joined:
        half_life = joined["half_life"]
        order = np.lexsort(
            (
                joined["second"],
                joined["first"],
                np.where(np.isnan(half_life), np.inf, half_life),
                joined["coint_p"],
            )
        )
        for rank, r in enumerate(order, start=1):
            hl = float(half_life[r])
            lo, hi = int(joined["lo"][r]), int(joined["hi"][r])
            rows.append(
                ScanRow(
                    rank=rank,
                    symbol_a=symbols[int(joined["y"][r])],
                    symbol_b=symbols[int(joined["x"][r])],
                    timeframe=timeframe,
                    bars=hi - lo,
                    start_ts=int(ts[lo]),
                    end_ts=int(ts[hi - 1]),
                    price=price,
                    beta=float(joined["beta"][r]),
                    alpha=float(joined["alpha"][r]),
                    r2=float(joined["r2"][r]),
                    coint_t=float(joined["coint_t"][r]),
                    coint_p=float(joined["coint_p"][r]),
                    coint_lags=int(joined["coint_lags"][r]),
                    coint_p_reverse=float(joined["coint_p_reverse"][r]),
                    half_life=None if np.isnan(hl) else hl,
                    corr=float(joined["corr"][r]),
                    resid_z=float(joined["resid_z"][r]),
                    resid_sd=float(joined["resid_sd"][r]),
                )
            )
    return ScanResult(
        rows=rows,
        left_out=[
            LeftOut(
                symbol_a=symbols[a],
                symbol_b=symbols[b],
                reason=reason,
                detail=detail,
                bars=bars,
            )
            for a, b, reason, detail, bars in left_out
        ],
        pairs=plan.pairs,
        exact_orderings=sum(r.exact for r in results),
    )


_FIELDS = (
    "y",
    "x",
    "beta",
    "alpha",
    "r2",
    "coint_t",
    "coint_p",
    "coint_lags",
    "coint_p_reverse",
    "half_life",
    "corr",
    "resid_z",
    "resid_sd",
)
