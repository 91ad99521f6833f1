"""Cross moments of a block of symbols, and every ordering's Dickey-Fuller Gram matrix from them.

The Engle-Granger test of ``y`` on ``x`` is an ADF regression on the residual
``e = y - alpha - beta·x``: target ``Δe_t``, regressors ``e_(t-1)`` and ``Δe_(t-1..t-k)``. Every
entry of its Gram matrix is a quadratic form in per-symbol moments,
``M_yy - beta·(M_yx + M_xy) + beta²·M_xx``, because ``Δe = Δy - beta·Δx`` and, with each
level centred on the sample mean, ``e = y - beta·x``. So a handful of matrix products over the
symbols (BLAS) replaces one least-squares fit per lag per ordering.

Indexing follows ``adfuller``: with ``n`` levels and ``K`` the largest lag, ``d_s = e_(s+1) -
e_s`` for ``s = 0..n-2``; the AIC search runs on rows ``j = K..n-2`` (target ``d_j``, level
``e_j``, lags ``d_(j-1..j-K)``). The moments are taken once on exactly those rows for lag shift
0; the entry for shifts ``(i, i + h)`` runs over rows ``K-i..n-2-i`` instead, which differs from
shift 0 only by ``i`` rows at each end: those edge terms are added per ordering from the
residual's first and last ``2K`` differences, exactly. The refit of the chosen lag ``k`` runs on
rows ``k..n-2``: the ``K - k`` extra rows are added the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def max_lag(n: int) -> int:
    """statsmodels' default largest ADF lag for ``n`` residuals with no deterministic terms."""
    return min(n // 2 - 1, int(np.ceil(12.0 * np.power(n / 100.0, 1 / 4.0))))


@dataclass(frozen=True)
class BlockMoments:
    """Moments of one block of symbols over one common sample of ``n`` bars.

    Pairs are ``(a, b)`` with ``a`` from the block's ``left`` symbols and ``b`` from its
    ``right`` symbols; ``*_cross`` arrays hold one value per pair, ``*_own`` arrays one per
    symbol of the block (columns of ``levels``).
    """

    n: int
    """Bars in the sample."""
    lags: int
    """The largest lag ``K`` of the AIC search."""
    mean: np.ndarray
    """Each symbol's mean level over the sample."""
    s_own: np.ndarray
    """``Σ (p - mean)²`` per symbol over all ``n`` bars."""
    s_cross: np.ndarray
    """``Σ (p_a - mean_a)(p_b - mean_b)`` per pair."""
    r_own: np.ndarray
    """Centred sum of squared log returns per symbol (``n - 1`` returns)."""
    r_cross: np.ndarray
    """Centred sum of cross products of the two legs' log returns, per pair."""
    f_own: np.ndarray
    """``(K+1, symbols)``: ``Σ_(s=K..n-2) Δp_s·Δp_(s-h)`` for ``h = 0..K``."""
    f_cross: np.ndarray
    """``(K+1, pairs)``: ``Σ_s Δa_s·Δb_(s-h) + Δb_s·Δa_(s-h)``."""
    l_own: np.ndarray
    """``(K+1, symbols)``: ``Σ_(j=K..n-2) p_j·Δp_(j-i)`` (centred level), ``i = 0..K``."""
    l_cross: np.ndarray
    """``(K+1, pairs)``: ``Σ_j a_j·Δb_(j-i) + b_j·Δa_(j-i)``."""
    head: np.ndarray
    """Centred levels of bars ``0..K``, ``(K+1, symbols)``."""
    last: np.ndarray
    """Centred level of the last bar, per symbol."""
    d_head: np.ndarray
    """Differences ``Δp_0..Δp_(K-1)``, ``(K, symbols)``."""
    d_tail: np.ndarray
    """Differences ``Δp_(n-1-2K)..Δp_(n-2)``, ``(2K, symbols)``."""


def block_moments(
    levels: np.ndarray,
    log_levels: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    pair_left: np.ndarray,
    pair_right: np.ndarray,
) -> BlockMoments:
    """Every moment the block's pairs need, from a few matrix products.

    Args:
        levels: ``(n, symbols)`` prices as tested (log or raw), finite, oldest first.
        log_levels: The same bars' log prices, for the correlation of returns.
        left: Columns of ``levels`` that hold the pairs' first symbols (sorted, unique).
        right: Columns that hold their second symbols.
        pair_left: Per pair, the index of its first symbol in ``left``.
        pair_right: Per pair, the index of its second symbol in ``right``.

    Returns:
        The block's moments.
    """
    n = levels.shape[0]
    k = max_lag(n)
    mean = levels.mean(axis=0)
    p = levels - mean
    d = np.diff(levels, axis=0)
    last = n - 1  # rows j = K..n-2 are p[k:last] and d[k:last]
    pl, pr = p[:, left], p[:, right]
    dl, dr = d[:, left], d[:, right]
    rows_l, rows_r = pl[k:last], pr[k:last]
    d_now = d[k:last]
    f_cross = np.empty((k + 1, len(pair_left)))
    l_cross = np.empty((k + 1, len(pair_left)))
    f_own = np.empty((k + 1, levels.shape[1]))
    l_own = np.empty((k + 1, levels.shape[1]))
    for h in range(k + 1):
        lagged = slice(k - h, last - h)
        dl_lag, dr_lag = dl[lagged], dr[lagged]
        block = dl[k:last].T @ dr_lag + dl_lag.T @ dr[k:last]
        f_cross[h] = block[pair_left, pair_right]
        block = rows_l.T @ dr_lag + dl_lag.T @ rows_r
        l_cross[h] = block[pair_left, pair_right]
        d_lag = d[lagged]
        f_own[h] = np.einsum("sj,sj->j", d_now, d_lag)
        l_own[h] = np.einsum("sj,sj->j", p[k:last], d_lag)
    returns = np.diff(log_levels, axis=0)
    returns = returns - returns.mean(axis=0)
    return BlockMoments(
        n=n,
        lags=k,
        mean=mean,
        s_own=np.einsum("sj,sj->j", p, p),
        s_cross=(pl.T @ pr)[pair_left, pair_right],
        r_own=np.einsum("sj,sj->j", returns, returns),
        r_cross=(returns[:, left].T @ returns[:, right])[pair_left, pair_right],
        f_own=f_own,
        f_cross=f_cross,
        l_own=l_own,
        l_cross=l_cross,
        head=p[: k + 1].copy(),
        last=p[last].copy(),
        d_head=d[:k].copy(),
        d_tail=d[last - 2 * k : last].copy(),
    )


@dataclass(frozen=True)
class Orderings:
    """A batch of orderings ``(y, x)``: the OLS fit, the Gram entries, the residual's edges."""

    y: np.ndarray
    """Column of ``y`` in the block."""
    x: np.ndarray
    """Column of ``x``."""
    beta: np.ndarray
    """OLS slope of ``y`` on ``x`` with a constant."""
    ssr: np.ndarray
    """Sum of squared residuals over all ``n`` bars."""
    syy: np.ndarray
    """Centred sum of squares of ``y``."""
    f: np.ndarray
    """``(K+1, orderings)``: ``Σ_(s=K..n-2) d_s·d_(s-h)``, the residual's lagged differences."""
    lv: np.ndarray
    """``(K+1, orderings)``: ``Σ_(j=K..n-2) e_j·d_(j-i)``, level against lagged differences."""
    e_head: np.ndarray
    """``(orderings, K+1)``: residuals of bars ``0..K``."""
    e_last: np.ndarray
    """Residual of the last bar."""
    d_head: np.ndarray
    """``(orderings, K)``: residual differences ``0..K-1``."""
    d_tail: np.ndarray
    """``(orderings, 2K)``: residual differences ``n-1-2K..n-2``."""
    conditioning: np.ndarray
    """How much the quadratic forms cancel: the larger of ``(S_yy + beta²·S_xx) / SSR`` and
    the same ratio for the differences. Rounding in a Gram entry grows with it."""


def orderings(m: BlockMoments, y: np.ndarray, x: np.ndarray, pair: np.ndarray) -> Orderings:
    """The OLS fit, Gram entries and residual edges of the orderings ``(y[o], x[o])``.

    Args:
        m: The block's moments.
        y: Column of each ordering's ``y``.
        x: Column of each ordering's ``x``.
        pair: Each ordering's pair, an index into the block's ``*_cross`` arrays.

    Returns:
        The orderings.
    """
    s_xy = m.s_cross[pair]
    beta = s_xy / m.s_own[x]
    beta2 = beta * beta
    syy = m.s_own[y]
    ssr = syy - beta * s_xy
    f = m.f_own[:, y] - beta * m.f_cross[:, pair] + beta2 * m.f_own[:, x]
    lv = m.l_own[:, y] - beta * m.l_cross[:, pair] + beta2 * m.l_own[:, x]
    b = beta[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        # A residual without differences (inf) is beyond any limit: statsmodels decides it.
        conditioning = np.maximum(
            (syy + beta2 * m.s_own[x]) / ssr, (m.f_own[0, y] + beta2 * m.f_own[0, x]) / f[0]
        )
    return Orderings(
        y=y,
        x=x,
        beta=beta,
        ssr=ssr,
        syy=syy,
        f=f,
        lv=lv,
        e_head=m.head[:, y].T - b * m.head[:, x].T,
        e_last=m.last[y] - beta * m.last[x],
        d_head=m.d_head[:, y].T - b * m.d_head[:, x].T,
        d_tail=m.d_tail[:, y].T - b * m.d_tail[:, x].T,
        conditioning=np.where(np.isnan(conditioning), np.inf, conditioning),
    )


def search_gram(o: Orderings, lags: int) -> np.ndarray:
    """Gram matrices of the AIC search, ``(orderings, K+2, K+2)``.

    Order: level ``e_j``, lags ``d_(j-1)..d_(j-K)``, target ``d_j``, over rows ``K..n-2``
    (``adfuller``'s common sample), so that lag ``k``'s regressors are the first ``k + 1``.

    Args:
        o: The orderings.
        lags: ``K``.

    Returns:
        The Gram matrices.
    """
    k = lags
    count = len(o.beta)
    dd = np.empty((count, k + 1, k + 1))  # by lag shift 0..K
    for h in range(k + 1):
        shifts = k - h + 1  # shift i = 0..K-h pairs with shift i + h
        values = np.broadcast_to(o.f[h][:, None], (count, shifts)).copy()
        if shifts > 1:
            # Shift i runs over rows K-i..n-2-i: i more rows at the start (d_(K-i..K-1)),
            # i fewer at the end (d_(n-1-i..n-2)). Both are running sums over i.
            s = np.arange(k - 1, h - 1, -1)  # K-1, K-2, ..., h
            values[:, 1:] += np.cumsum(o.d_head[:, s] * o.d_head[:, s - h], axis=1)
            t = 2 * k - np.arange(1, shifts)  # d_tail index of d_(n-1-r), r = 1..K-h
            values[:, 1:] -= np.cumsum(o.d_tail[:, t] * o.d_tail[:, t - h], axis=1)
        i = np.arange(shifts)
        dd[:, i, i + h] = values
        dd[:, i + h, i] = values
    order = np.r_[1 : k + 1, 0]  # lags 1..K, then the target (shift 0)
    gram = np.empty((count, k + 2, k + 2))
    gram[:, 1:, 1:] = dd[:, order][:, :, order]
    gram[:, 0, 1:] = o.lv[order].T
    gram[:, 1:, 0] = gram[:, 0, 1:]
    # Rows K..n-2 leave out bars 0..K-1 and the last one.
    gram[:, 0, 0] = o.ssr - np.einsum("ot,ot->o", o.e_head[:, :k], o.e_head[:, :k]) - o.e_last**2
    return gram


def refit_gram(o: Orderings, gram: np.ndarray, lags: int, k: int) -> np.ndarray:
    """Gram matrices of the chosen lag ``k`` on its own sample, rows ``k..n-2``.

    Order: lags ``d_(j-1)..d_(j-k)``, level ``e_j``, target ``d_j`` (the level last, so that its
    t statistic reads off the Cholesky factor).

    Args:
        o: The orderings (all of which chose ``k``).
        gram: Their :func:`search_gram` matrices.
        lags: ``K``.
        k: The chosen lag.

    Returns:
        ``(orderings, k+2, k+2)``.
    """
    pick = np.r_[1 : k + 1, 0, lags + 1]
    refit = gram[:, pick][:, :, pick]
    if k < lags:
        # Rows j = k..K-1 are in this sample but not in the search's.
        j = np.arange(k, lags)
        rows = np.empty((len(o.beta), lags - k, k + 2))
        rows[:, :, :k] = o.d_head[:, j[:, None] - 1 - np.arange(k)[None, :]]
        rows[:, :, k] = o.e_head[:, j]
        rows[:, :, k + 1] = o.d_head[:, j]
        refit += np.matmul(rows.transpose(0, 2, 1), rows)
    return refit
