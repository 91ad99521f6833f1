"""One tile of the scan: a block of pairs over one common sample, both orderings of each.

A tile is the unit of work for both engines: the local engine runs the tiles one after the
other, the Dask engine runs them on workers. Same tile, same inputs, same code: the same bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pairs_tui.scanner.lag_search import coint_pvalue, search, statsmodels_test
from pairs_tui.scanner.moments import block_moments, orderings, search_gram

COLLINEAR_R2 = 1.0 - 100.0 * math.sqrt(np.finfo(np.float64).eps)
"""statsmodels' ``coint`` reports ``-inf`` at or above this R² ("(almost) perfectly colinear");
the scanner leaves such pairs out instead."""

CHUNK = 1024
"""Pairs per batch of the per-ordering stage: the Gram stacks stay near 11 MB each."""

_LN2 = math.log(2.0)


@dataclass(frozen=True)
class Tile:
    """Pairs that share one common sample, between two blocks of symbols."""

    lo: int
    """First bar (row of the price matrix) of the common sample."""
    hi: int
    """One past the last bar."""
    pairs: np.ndarray
    """``(pairs, 2)`` columns of the price matrix, each pair once, in input order."""


@dataclass(frozen=True)
class TileResult:
    """A tile's rows, one per pair, in the tile's pair order, for the chosen ordering."""

    lo: int
    """First bar of the common sample."""
    hi: int
    """One past the last bar."""
    y: np.ndarray
    """Column of ``symbol_a``: the ordering with the lower p-value's ``y``."""
    x: np.ndarray
    """Column of ``symbol_b``."""
    beta: np.ndarray
    """OLS slope."""
    alpha: np.ndarray
    """OLS intercept."""
    r2: np.ndarray
    """R² of the OLS fit."""
    coint_t: np.ndarray
    """Engle-Granger statistic."""
    coint_p: np.ndarray
    """Its MacKinnon p-value."""
    coint_lags: np.ndarray
    """Lags the residual ADF chose by AIC."""
    coint_p_reverse: np.ndarray
    """p-value of the other ordering."""
    half_life: np.ndarray
    """AR(1) half-life of the residuals in bars; NaN where there is none."""
    corr: np.ndarray
    """Correlation of the two legs' log returns."""
    resid_z: np.ndarray
    """Last residual over :attr:`resid_sd`."""
    resid_sd: np.ndarray
    """``sqrt(SSR / (bars - 2))``."""
    collinear: np.ndarray
    """True for pairs whose R² is at or above :data:`COLLINEAR_R2` (no test; left out)."""
    exact: int
    """Orderings decided by statsmodels itself (near-tie lags, ill-conditioned fits)."""


def scan_tile(levels: np.ndarray, log_levels: np.ndarray, tile: Tile) -> TileResult:
    """Test both orderings of every pair of a tile.

    Args:
        levels: The whole price matrix as tested, ``(bars, symbols)`` (log or raw closes).
        log_levels: The same matrix in log prices (the same object in log mode).
        tile: The pairs and their common sample; every leg must be finite there.

    Returns:
        One row per pair.
    """
    first, second = tile.pairs[:, 0], tile.pairs[:, 1]
    columns = np.union1d(first, second)
    left, right = np.unique(first), np.unique(second)
    sample = slice(tile.lo, tile.hi)
    values = levels[sample][:, columns]
    logs = values if log_levels is levels else log_levels[sample][:, columns]
    m = block_moments(
        values,
        logs,
        np.searchsorted(columns, left),
        np.searchsorted(columns, right),
        np.searchsorted(left, first),
        np.searchsorted(right, second),
    )
    a = np.searchsorted(columns, first)
    b = np.searchsorted(columns, second)
    count = len(a)
    n, lags = m.n, m.lags
    fields = {
        name: np.full(2 * count, np.nan)
        for name in ("beta", "alpha", "r2", "t", "half_life", "resid_z", "resid_sd")
    }
    chosen_lags = np.full(2 * count, -1, dtype=np.int64)
    r2_pair = m.s_cross**2 / (m.s_own[a] * m.s_own[b])
    collinear = ~(r2_pair < COLLINEAR_R2)
    exact = 0
    for start in range(0, count, CHUNK):
        idx = np.arange(start, min(start + CHUNK, count))
        idx = idx[~collinear[idx]]
        if not len(idx):
            continue
        where = np.r_[idx, idx + count]  # ordering (a, b), then (b, a)
        y, x = np.r_[a[idx], b[idx]], np.r_[b[idx], a[idx]]
        o = orderings(m, y, x, np.r_[idx, idx])
        found = search(o, search_gram(o, lags), n, lags)
        t, k = found.statistic, found.lags
        for i in np.flatnonzero(found.exact):
            t[i], k[i] = statsmodels_test(values[:, y[i]], values[:, x[i]])
        exact += int(found.exact.sum())
        fields["t"][where] = t
        chosen_lags[where] = k
        fields["beta"][where] = o.beta
        fields["alpha"][where] = m.mean[y] - o.beta * m.mean[x]
        fields["r2"][where] = 1.0 - o.ssr / o.syy
        resid_sd = np.sqrt(o.ssr / (n - 2))
        fields["resid_sd"][where] = resid_sd
        fields["resid_z"][where] = o.e_last / resid_sd
        fields["half_life"][where] = _half_life(o.ssr, o.e_head, o.e_last, o.d_head, o.lv[0], n)
    p = coint_pvalue(fields["t"])
    p_first, p_second = p[:count], p[count:]
    t_first, t_second = fields["t"][:count], fields["t"][count:]
    # The lower p-value; if both are equal (0 or 1 at the table's ends), the lower statistic.
    swap = (p_second < p_first) | ((p_second == p_first) & (t_second < t_first))
    pick = np.where(swap, np.arange(count) + count, np.arange(count))
    corr = np.clip(m.r_cross / np.sqrt(m.r_own[a] * m.r_own[b]), -1.0, 1.0)
    return TileResult(
        lo=tile.lo,
        hi=tile.hi,
        y=np.where(swap, second, first),
        x=np.where(swap, first, second),
        beta=fields["beta"][pick],
        alpha=fields["alpha"][pick],
        r2=fields["r2"][pick],
        coint_t=fields["t"][pick],
        coint_p=p[pick],
        coint_lags=chosen_lags[pick],
        coint_p_reverse=np.where(swap, p_first, p_second),
        half_life=fields["half_life"][pick],
        corr=corr,
        resid_z=fields["resid_z"][pick],
        resid_sd=fields["resid_sd"][pick],
        collinear=collinear,
        exact=exact,
    )


def _half_life(
    ssr: np.ndarray,
    e_head: np.ndarray,
    e_last: np.ndarray,
    d_head: np.ndarray,
    lv0: np.ndarray,
    n: int,
) -> np.ndarray:
    """The monitor's half-life (``PairAnalytics._half_life``) of each ordering's residuals.

    AR(1) ``e_i = a + phi·e_(i-1)`` over the ``n - 1`` lagged pairs; ``-ln 2 / ln phi`` where
    ``0 < phi < 1``, NaN otherwise. The residuals sum to zero, so the lagged and leading sums
    are minus the last and minus the first residual; ``Σ e_t·e_(t+1) = Σ e_t² + Σ e_t·Δe_t``.
    """
    m = n - 1
    sum_l = -e_last
    sum_f = -e_head[:, 0]
    sq_l = ssr - e_last * e_last
    k = d_head.shape[1]
    lagged = sq_l + lv0 + np.einsum("ot,ot->o", e_head[:, :k], d_head)
    s_uu = sq_l - sum_l * sum_l / m
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = (lagged - sum_l * sum_f / m) / s_uu
        ok = (s_uu > 1e-9 * ssr) & (phi > 0.0) & (phi < 1.0)
        return np.where(ok, -_LN2 / np.log(np.where(ok, phi, 0.5)), np.nan)
