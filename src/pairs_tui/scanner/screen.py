"""``--screen K``: test exactly only the K pairs a cheap statistic ranks best; leave out the rest.

The screen is the Dickey-Fuller statistic of each ordering's OLS residual with no lagged
differences (the AIC search's cheapest model), for both orderings of every pair, from three
cross-moment matrices per common sample: ``ΔPᵀP₋₁``, ``P₋₁ᵀP₋₁`` and ``ΔPᵀΔP`` of the centred
levels, plus ``PᵀP`` for the hedge ratios. A pair's score is the lower of its two statistics;
the ``K`` lowest are kept (ties by the universe's order). The kept pairs are then tested exactly
like any other: their rows are the rows a full scan gives them. Without ``--screen`` no pair is
dropped.
"""

from __future__ import annotations

import numpy as np

from pairs_tui.scanner.plan import ScanPlan
from pairs_tui.scanner.tile import Tile


def lag0_statistics(levels: np.ndarray, tile: Tile) -> np.ndarray:
    """The lower lag-0 Dickey-Fuller statistic of both orderings, per pair of the tile.

    Args:
        levels: The price matrix as tested, ``(bars, symbols)``.
        tile: Pairs sharing one common sample.

    Returns:
        One statistic per pair, in the tile's order (``-inf`` for a residual that is exactly
        zero: collinear legs, which the exact test leaves out anyway).
    """
    columns = np.union1d(tile.pairs[:, 0], tile.pairs[:, 1])
    window = levels[tile.lo : tile.hi][:, columns]
    p = window - window.mean(axis=0)
    d, lag = np.diff(p, axis=0), p[:-1]
    s, a, b, c = p.T @ p, d.T @ lag, lag.T @ lag, d.T @ d
    i = np.searchsorted(columns, tile.pairs[:, 0])
    j = np.searchsorted(columns, tile.pairs[:, 1])
    n = window.shape[0]
    lower: np.ndarray = np.minimum(_statistic(s, a, b, c, i, j, n), _statistic(s, a, b, c, j, i, n))
    return lower


def _statistic(
    s: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, y: np.ndarray, x: np.ndarray, n: int
) -> np.ndarray:
    beta = s[y, x] / s[x, x]
    num = a[y, y] - beta * (a[y, x] + a[x, y]) + beta**2 * a[x, x]
    den = b[y, y] - 2 * beta * b[y, x] + beta**2 * b[x, x]
    q = c[y, y] - 2 * beta * c[y, x] + beta**2 * c[x, x]
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = num / den
        ssr = np.maximum(q - num * rho, 0.0)
        t = rho / np.sqrt(ssr / (n - 2) / den)
    return np.where(np.isfinite(t), t, -np.inf)


def screen_plan(
    plan: ScanPlan, levels: np.ndarray, keep: int, symbols: tuple[str, ...]
) -> ScanPlan:
    """The plan with only the ``keep`` best-screened pairs left to test.

    Args:
        plan: From :func:`~pairs_tui.scanner.plan.plan_scan`.
        levels: The price matrix as tested.
        keep: Pairs to keep, at least 1.
        symbols: The universe (for the left-out details).

    Returns:
        A plan whose tiles hold the kept pairs; the others join its left-out list as
        ``"screened out"``.

    Raises:
        ValueError: ``keep`` below 1.
    """
    if keep < 1:
        raise ValueError(f"screen must keep at least 1 pair, not {keep}")
    testable = sum(len(t.pairs) for t in plan.tiles)
    if testable <= keep:
        return plan
    scores = [lag0_statistics(levels, tile) for tile in plan.tiles]
    flat = np.concatenate(scores)
    firsts = np.concatenate([t.pairs[:, 0] for t in plan.tiles])
    seconds = np.concatenate([t.pairs[:, 1] for t in plan.tiles])
    order = np.lexsort((seconds, firsts, flat))
    kept = np.zeros(len(flat), dtype=bool)
    kept[order[:keep]] = True
    cutoff = flat[order[keep - 1]]
    tiles: list[Tile] = []
    left_out = list(plan.left_out)
    at = 0
    for tile, score in zip(plan.tiles, scores, strict=True):
        mine = kept[at : at + len(tile.pairs)]
        at += len(tile.pairs)
        for (a, b), value in zip(tile.pairs[~mine], score[~mine], strict=True):
            detail = (
                f"{symbols[a]}/{symbols[b]}: lag-0 Dickey-Fuller {value:.3f} above the "
                f"screen's cut {cutoff:.3f} (--screen {keep})"
            )
            left_out.append((int(a), int(b), "screened out", detail, tile.hi - tile.lo))
        if mine.any():
            tiles.append(Tile(lo=tile.lo, hi=tile.hi, pairs=tile.pairs[mine]))
    left_out.sort(key=lambda item: (item[0], item[1]))
    return ScanPlan(tiles=tiles, left_out=left_out, pairs=plan.pairs)
