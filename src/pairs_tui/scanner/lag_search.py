"""The residual ADF of many orderings at once: AIC lag search, refit, statistic, p-value.

From each ordering's Gram matrix (:mod:`pairs_tui.scanner.moments`) one Cholesky factor gives the
SSR of every nested lag model on the search's common sample, hence each lag's AIC and the lag
``adfuller`` chooses; a second, smaller factor on the chosen lag's own sample gives the level's t
statistic. Factors of a whole batch come from one ``np.linalg.cholesky`` call on the stack.

Moments square the regression's condition number, so this path is trusted only where it is
provably as good as statsmodels' own rounding: an ordering whose two best lags' AICs are within
:data:`AIC_TIE` of each other, whose quadratic forms cancel more than :data:`CONDITIONING_LIMIT`,
or whose Gram matrix is not numerically positive definite is handed to statsmodels itself
(:func:`statsmodels_test`), so that the chosen lag is always the one statsmodels chooses.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from pairs_tui.scanner.moments import Orderings, refit_gram

AIC_TIE = 1e-4
"""Two lags whose AICs (``nobs·ln SSR + 2·regressors``) differ by less than this are a near
tie, decided by statsmodels. The moment path's AIC is accurate to about ``nobs·1e-12`` here."""

CONDITIONING_LIMIT = 1e6
"""Orderings whose quadratic forms cancel more than this (``R²`` above about ``1 - 2e-6``, or
return correlation of the residual's legs above about ``1 - 1e-6``) go to statsmodels."""


@dataclass(frozen=True)
class LagSearch:
    """The residual ADF of a batch of orderings."""

    lags: np.ndarray
    """Lagged differences chosen by AIC (``-1`` where :attr:`exact` is set)."""
    statistic: np.ndarray
    """The Dickey-Fuller t statistic of the level (NaN where :attr:`exact` is set)."""
    exact: np.ndarray
    """True where the moment path is not trusted and statsmodels must decide."""


def search(o: Orderings, gram: np.ndarray, n: int, lags: int) -> LagSearch:
    """AIC lag search and the chosen lag's statistic, from the search Gram matrices.

    Args:
        o: The orderings.
        gram: Their :func:`~pairs_tui.scanner.moments.search_gram` matrices.
        n: Bars in the sample.
        lags: The largest lag ``K``.

    Returns:
        Lags and statistics, with the orderings statsmodels must decide flagged.
    """
    count = len(o.beta)
    factor, ok = _cholesky(_unit_diagonal(gram))
    target = lags + 1
    # SSR of lag k = target's squared residual after the first k + 1 regressors: the sum of the
    # squares of the target row of the factor from column k + 1 on (diagonal included).
    squares = factor[:, target, :] ** 2
    tail = np.cumsum(squares[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        aic = (n - 1 - lags) * np.log(tail[:, 1:]) + 2.0 * np.arange(1, lags + 2)
    ok &= np.isfinite(aic).all(axis=1)
    aic[~ok] = 0.0
    chosen = np.argmin(aic, axis=1)  # the first minimum: statsmodels' min over (aic, lag)
    if lags > 0:
        best_two = np.partition(aic, 1, axis=1)
        ok &= best_two[:, 1] - best_two[:, 0] >= AIC_TIE
    ok &= o.conditioning <= CONDITIONING_LIMIT
    statistic = np.full(count, np.nan)
    for k in np.unique(chosen[ok]):
        members = np.flatnonzero(ok & (chosen == k))
        sub = _subset(o, members)
        refit = refit_gram(sub, gram[members], lags, int(k))
        factor_k, ok_k = _cholesky(_unit_diagonal(refit))
        p = int(k) + 1
        dof = (n - 1 - int(k)) - p
        t = factor_k[:, p, p - 1] / np.sqrt(factor_k[:, p, p] ** 2 / dof)
        ok_k &= np.isfinite(t)
        statistic[members] = t
        ok[members[~ok_k]] = False
    statistic[~ok] = np.nan
    return LagSearch(lags=np.where(ok, chosen, -1), statistic=statistic, exact=~ok)


def _unit_diagonal(gram: np.ndarray) -> np.ndarray:
    """Scale each Gram matrix to a unit diagonal: t statistics and AIC gaps do not change."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 1.0 / np.sqrt(np.einsum("oii->oi", gram))
    scaled: np.ndarray = gram * scale[:, :, None] * scale[:, None, :]
    return scaled


def _cholesky(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower Cholesky factors of a stack, and which matrices had one."""
    try:
        factor = np.linalg.cholesky(stack)
    except np.linalg.LinAlgError:
        # Rare: one matrix of the batch is not numerically positive definite. Find which.
        factor = np.zeros_like(stack)
        ok = np.ones(len(stack), dtype=bool)
        for i, matrix in enumerate(stack):
            try:
                factor[i] = np.linalg.cholesky(matrix)
            except np.linalg.LinAlgError:
                ok[i] = False
        return factor, ok & _finite(factor)
    return factor, _finite(factor)


def _finite(stack: np.ndarray) -> np.ndarray:
    finite: np.ndarray = np.isfinite(stack).all(axis=(1, 2))
    return finite


def _subset(o: Orderings, members: np.ndarray) -> Orderings:
    return Orderings(
        y=o.y[members],
        x=o.x[members],
        beta=o.beta[members],
        ssr=o.ssr[members],
        syy=o.syy[members],
        f=o.f[:, members],
        lv=o.lv[:, members],
        e_head=o.e_head[members],
        e_last=o.e_last[members],
        d_head=o.d_head[members],
        d_tail=o.d_tail[members],
        conditioning=o.conditioning[members],
    )


def statsmodels_test(y: np.ndarray, x: np.ndarray) -> tuple[float, int]:
    """``coint(y, x, trend="c", autolag="aic")``'s statistic and the lag its ADF chose.

    ``coint`` does not return the lag, so this runs its two steps as it does: OLS of ``y`` on
    ``[x, 1]`` (statsmodels' own fit, rounding included), then ``adfuller`` on the residuals.

    Args:
        y: Target leg, oldest first.
        x: Hedge leg.

    Returns:
        ``(statistic, lags)``.
    """
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tsa.stattools import adfuller
    from statsmodels.tsa.tsatools import add_trend

    design = add_trend(np.asarray(x, dtype=np.float64)[:, None], trend="c", prepend=False)
    resid = OLS(np.asarray(y, dtype=np.float64), design).fit().resid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stat, _, lags, *_ = adfuller(
            resid, maxlag=None, autolag="aic", regression="n", result_object=False
        )
    return float(stat), int(lags)


def coint_pvalue(statistic: np.ndarray) -> np.ndarray:
    """``mackinnonp(statistic, regression="c", N=2)`` for a whole array, bit for bit.

    statsmodels' function takes one number and costs tens of microseconds; this evaluates its
    own coefficient tables (same polynomial, same normal CDF) on the array.

    Args:
        statistic: Engle-Granger t statistics.

    Returns:
        MacKinnon (1994) approximate p-values.
    """
    tables = _mackinnon_tables()
    stat = np.asarray(statistic, dtype=np.float64)
    if tables is None:  # statsmodels moved its tables: fall back to the scalar function
        from statsmodels.tsa.adfvalues import mackinnonp

        return np.array([mackinnonp(s, regression="c", N=2) for s in stat.ravel()]).reshape(
            stat.shape
        )
    from scipy.stats import norm  # type: ignore[import-untyped]

    low, high, star, small, large = tables
    with np.errstate(invalid="ignore"):
        z = np.where(stat <= star, np.polyval(small[::-1], stat), np.polyval(large[::-1], stat))
        p = np.asarray(norm.cdf(z), dtype=np.float64)
        p = np.where(stat > high, 1.0, np.where(stat < low, 0.0, p))
    return p


def _mackinnon_tables() -> tuple[float, float, float, Any, Any] | None:
    try:
        from statsmodels.tsa import adfvalues

        return (
            float(adfvalues._tau_mins["c"][1]),
            float(adfvalues._tau_maxs["c"][1]),
            float(adfvalues._tau_stars["c"][1]),
            np.asarray(adfvalues._tau_smallps["c"][1]),
            np.asarray(adfvalues._tau_largeps["c"][1]),
        )
    except (AttributeError, KeyError, IndexError, ImportError):
        return None
