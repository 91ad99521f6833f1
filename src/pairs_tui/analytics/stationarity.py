"""ADF and Engle-Granger cointegration on demand, equal to statsmodels and off the caller's thread.

:func:`adf_test` is ``statsmodels.tsa.stattools.adfuller`` and :func:`coint_test` is
``statsmodels.tsa.stattools.coint``: same regressions, same lag search, same MacKinnon p-values
and critical values (taken from statsmodels itself). The difference is cost: statsmodels fits one
OLS per candidate lag (67 of them at n = 86,400, about 14 s); the candidate models are nested
column prefixes of one design matrix, so a single QR decomposition gives every model's SSR, and
only the chosen lag is refitted. Should that design ever be rank-deficient the call falls back to
statsmodels.

Which p-value to believe: ADF on residuals of a hedge fitted on the same window uses the wrong
null distribution (too optimistic); the Engle-Granger p-value of :func:`coint_test` accounts for
the fit. ADF is the right test for a spread whose hedge was fixed out of sample.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Literal

import msgspec
import numpy as np

from pairs_tui.analytics.pair import WindowData

MIN_N = 50
"""Below this many observations no test is run: DF tests have next to no power there."""

_SQRTEPS = math.sqrt(np.finfo(np.float64).eps)
_NTREND = {"n": 0, "c": 1, "ct": 2}


class StationarityResult(msgspec.Struct, frozen=True, kw_only=True):
    """One unit-root or cointegration test."""

    test: Literal["adf", "coint"]
    """``adf``: unit root in one series; ``coint``: Engle-Granger on ``y`` and ``x``."""
    statistic: float
    """The Dickey-Fuller t statistic (on the residuals for ``coint``)."""
    pvalue: float
    """MacKinnon (1994) approximate p-value: ADF surfaces, or cointegration surfaces (N = 2)."""
    lags: int
    """Lagged differences chosen (by AIC unless fixed)."""
    n: int
    """Observations passed in (the window)."""
    nobs: int
    """Observations in the test regression (``n - lags - 1``)."""
    critical_values: dict[str, float]
    """MacKinnon (2010) finite-sample critical values at ``"1%"``, ``"5%"``, ``"10%"``."""
    verdict: str
    """The result in plain words, e.g. ``"likely cointegrated"``."""


class InsufficientData(msgspec.Struct, frozen=True, kw_only=True):
    """No test was run: too few observations or a degenerate input."""

    test: Literal["adf", "coint"]
    """The test that was asked for."""
    n: int
    """Observations passed in."""
    min_n: int
    """The minimum the test needs."""
    reason: str
    """Why, e.g. ``"insufficient data (n = 30 < 50)"`` or ``"a leg is constant"``."""

    @property
    def verdict(self) -> str:
        """The reason, so both result types read alike."""
        return self.reason


TestOutcome = StationarityResult | InsufficientData


class StationarityReport(msgspec.Struct, frozen=True, kw_only=True):
    """Both tests on one window."""

    adf: TestOutcome
    """ADF (``regression="c"``, AIC lags) on the window's in-sample residuals."""
    coint: TestOutcome
    """Engle-Granger (``trend="c"``, AIC lags) on the window's ``y`` and ``x``."""
    bars: int
    """The window's last bar (bars seen since the analytics' last reset)."""
    n: int
    """Bars in the window."""


def adf_verdict(pvalue: float) -> str:
    """Plain words for an ADF p-value (null: unit root)."""
    if pvalue < 0.01:
        return "stationary (1%)"
    if pvalue < 0.05:
        return "likely stationary"
    if pvalue < 0.10:
        return "weak evidence of stationarity"
    return "no evidence of stationarity"


def coint_verdict(pvalue: float) -> str:
    """Plain words for an Engle-Granger p-value (null: no cointegration)."""
    if pvalue < 0.01:
        return "cointegrated (1%)"
    if pvalue < 0.05:
        return "likely cointegrated"
    if pvalue < 0.10:
        return "weak evidence of cointegration"
    return "no evidence of cointegration"


def adf_test(
    series: np.ndarray,
    *,
    regression: Literal["c", "n", "ct"] = "c",
    maxlag: int | None = None,
    autolag: Literal["AIC"] | None = "AIC",
    min_n: int = MIN_N,
) -> TestOutcome:
    """Augmented Dickey-Fuller test, as ``adfuller(series, maxlag, regression, autolag)``.

    Args:
        series: The series, oldest first (e.g. :attr:`WindowData.residuals`).
        regression: Deterministic terms: constant (``"c"``), none, or constant and trend.
        maxlag: Largest lag tried; statsmodels' default ``⌈12·(n/100)^¼⌉`` when None.
        autolag: ``"AIC"`` to choose the lag, None to use ``maxlag``.
        min_n: Fewest observations to test.

    Returns:
        The result, or :class:`InsufficientData` below ``min_n`` or for a constant series.

    Raises:
        ValueError: On non-finite values or a ``maxlag`` too large for the series.
    """
    x = _as_series(series)
    n = len(x)
    if n < min_n:
        return _insufficient("adf", n, min_n)
    if x.max() == x.min():
        return InsufficientData(test="adf", n=n, min_n=min_n, reason="the series is constant")
    fitted = _adf(x, regression, maxlag, autolag)
    return _judged("adf", fitted, n=n, min_n=min_n, regression=regression, legs=1)


def coint_test(
    y: np.ndarray,
    x: np.ndarray,
    *,
    trend: Literal["c", "ct"] = "c",
    maxlag: int | None = None,
    autolag: Literal["AIC"] | None = "AIC",
    min_n: int = MIN_N,
) -> TestOutcome:
    """Engle-Granger test of ``y`` on ``x``, as ``coint(y, x, trend, maxlag=, autolag=)``.

    OLS of ``y`` on ``[x, deterministic terms]``, then ADF without deterministic terms on its
    residuals, judged against MacKinnon's cointegration (N = 2) p-values and critical values.

    Args:
        y: Target leg, oldest first.
        x: Hedge leg, same length.
        trend: Deterministic terms of the cointegrating regression.
        maxlag: Largest lag tried in the residual ADF; statsmodels' default when None.
        autolag: ``"AIC"`` to choose the lag, None to use ``maxlag``.
        min_n: Fewest observations to test.

    Returns:
        The result, or :class:`InsufficientData` below ``min_n``, for a constant leg, or for
        legs so collinear that statsmodels would report ``-inf`` (R² ≥ 1 - 100·√eps).

    Raises:
        ValueError: On non-finite values, unequal lengths or a ``maxlag`` too large.
    """
    yv = _as_series(y)
    xv = _as_series(x)
    n = len(yv)
    if len(xv) != n:
        raise ValueError(f"y and x differ in length: {n} and {len(xv)}")
    if n < min_n:
        return _insufficient("coint", n, min_n)
    if yv.max() == yv.min() or xv.max() == xv.min():
        return InsufficientData(test="coint", n=n, min_n=min_n, reason="a leg is constant")
    # Centring is the constant; the trend column, centred too, is added for "ct".
    yc = yv - yv.mean()
    cols = [xv - xv.mean()]
    if trend == "ct":
        t = np.arange(1.0, n + 1.0)
        cols.append(t - t.mean())
    design = np.column_stack(cols)
    coef = np.linalg.lstsq(design, yc, rcond=None)[0]
    resid = yc - design @ coef
    r2 = 1.0 - float(resid @ resid) / float(yc @ yc)
    if not r2 < 1.0 - 100.0 * _SQRTEPS:
        return InsufficientData(
            test="coint",
            n=n,
            min_n=min_n,
            reason="legs are (almost) perfectly collinear: the test is not reliable",
        )
    fitted = _adf(resid, "n", maxlag, autolag)
    return _judged("coint", fitted, n=n, min_n=min_n, regression=trend, legs=2)


def _judged(
    test: Literal["adf", "coint"],
    fitted: tuple[float, int, int] | None,
    *,
    n: int,
    min_n: int,
    regression: Literal["c", "n", "ct"],
    legs: Literal[1, 2],
) -> TestOutcome:
    """An ADF fit judged against MacKinnon's tables for ``legs`` series (1: ADF, 2: coint)."""
    if fitted is None:
        return InsufficientData(
            test=test, n=n, min_n=min_n, reason="degenerate regression (exact fit)"
        )
    stat, lags, nobs = fitted
    mackinnonp, mackinnoncrit = _mackinnon()
    pvalue = float(mackinnonp(stat, regression=regression, N=legs))
    # coint's critical values use n - 1, not nobs: statsmodels does this to match Stata's egranger.
    crit = mackinnoncrit(N=legs, regression=regression, nobs=nobs if legs == 1 else n - 1)
    return StationarityResult(
        test=test,
        statistic=stat,
        pvalue=pvalue,
        lags=lags,
        n=n,
        nobs=nobs,
        critical_values=_crit_dict(crit),
        verdict=adf_verdict(pvalue) if legs == 1 else coint_verdict(pvalue),
    )


def stationarity_report(data: WindowData, *, min_n: int = MIN_N) -> StationarityReport:
    """ADF on the window's residuals and Engle-Granger on its legs (blocking; see below).

    Args:
        data: The window, from :meth:`PairAnalytics.window_data`.
        min_n: Fewest observations to test.

    Returns:
        Both results.
    """
    return StationarityReport(
        adf=adf_test(data.residuals, min_n=min_n),
        coint=coint_test(data.y, data.x, min_n=min_n),
        bars=data.bars,
        n=len(data.y),
    )


_executor: ThreadPoolExecutor | None = None


def _worker_start() -> None:
    # statsmodels pulls in scipy and its own OpenBLAS: load both, then pin them.
    from statsmodels.tsa import adfvalues  # noqa: F401

    from pairs_tui.analytics.blas import pin_blas_to_one_thread

    pin_blas_to_one_thread()


def stationarity_executor() -> ThreadPoolExecutor:
    """The shared one-thread executor for the tests, with BLAS pinned to one thread."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="pairs-tui-stationarity", initializer=_worker_start
        )
    return _executor


async def run_stationarity(
    data: WindowData, *, executor: Executor | None = None, min_n: int = MIN_N
) -> StationarityReport:
    """Run :func:`stationarity_report` off the event loop's thread.

    Args:
        data: The window (a frozen copy: the analytics can move on meanwhile).
        executor: Where to run; the shared :func:`stationarity_executor` when None.
        min_n: Fewest observations to test.

    Returns:
        Both results, tagged with the window's last bar.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor or stationarity_executor(), _report, data, min_n)


def _report(data: WindowData, min_n: int) -> StationarityReport:
    return stationarity_report(data, min_n=min_n)


# -- the Dickey-Fuller regression ---------------------------------------------------------


def _adf(
    x: np.ndarray, regression: str, maxlag: int | None, autolag: str | None
) -> tuple[float, int, int] | None:
    """``(statistic, lags, nobs)`` exactly as adfuller computes them; None for an exact fit."""
    nobs0 = len(x)
    ntrend = _NTREND[regression]
    if maxlag is None:
        maxlag = min(nobs0 // 2 - ntrend - 1, math.ceil(12.0 * (nobs0 / 100.0) ** 0.25))
        if maxlag < 0:
            raise ValueError("sample size is too short to use selected regression component")
    elif maxlag > nobs0 // 2 - ntrend - 1:
        raise ValueError(
            "maxlag must be less than (nobs/2 - 1 - ntrend) where ntrend is the number of "
            "included deterministic regressors"
        )
    dx = np.diff(x)
    lags = maxlag
    if autolag is not None:
        # Every candidate lag 0..maxlag is fitted on the same sample (that of maxlag); their
        # regressors are prefixes of [trend terms, level, Δx_(t-1), ..., Δx_(t-maxlag)].
        r = _qr_r(_design(x, dx, maxlag, ntrend, maxlag, level_last=False))
        if r is None:
            return _statsmodels_adf(x, regression, maxlag, autolag)
        p = r.shape[1] - 1
        tail = np.cumsum(r[::-1, p] ** 2)[::-1]  # tail[i] = Σ_{j ≥ i} R[j, p]²
        nobs = nobs0 - 1 - maxlag
        best = None
        for k in range(maxlag + 1):
            cols = ntrend + 1 + k
            ssr = float(tail[cols])
            if ssr <= 0.0:
                return None
            # statsmodels' aic = -2·llf + 2·rank; llf's constant terms are the same for all k.
            aic = nobs * math.log(ssr / nobs) + 2.0 * cols
            if best is None or aic < best[0]:
                best = (aic, k)
        assert best is not None
        lags = best[1]
    r = _qr_r(_design(x, dx, lags, ntrend, lags, level_last=True))
    if r is None:
        return _statsmodels_adf(x, regression, maxlag, autolag)
    p = r.shape[1] - 1
    nobs = nobs0 - 1 - lags
    ssr = float(r[p, p] ** 2)
    if ssr <= 0.0:
        return None
    s = math.sqrt(ssr / (nobs - p))
    # With the level as the last regressor its t statistic is (Qᵀy)_last·sign(R_last,last)/s.
    stat = float(r[p - 1, p] * math.copysign(1.0, r[p - 1, p - 1]) / s)
    if not math.isfinite(stat):
        return None
    return stat, lags, nobs


def _design(
    x: np.ndarray, dx: np.ndarray, lags: int, ntrend: int, trim: int, level_last: bool
) -> np.ndarray:
    """``[regressors | Δx_t]`` on the sample after dropping the first ``trim + 1`` points."""
    nobs = len(dx) - trim
    columns = []
    if ntrend >= 1:
        columns.append(np.ones(nobs))
    if ntrend == 2:
        columns.append(np.arange(1.0, nobs + 1.0))
    level = x[trim : trim + nobs]
    if not level_last:
        columns.append(level)
    for j in range(1, lags + 1):
        columns.append(dx[trim - j : trim - j + nobs])
    if level_last:
        columns.append(level)
    columns.append(dx[trim:])
    return np.column_stack(columns)


def _qr_r(a: np.ndarray) -> np.ndarray | None:
    """R of the QR of ``a``, or None if its regressor columns are (numerically) collinear."""
    r: np.ndarray = np.linalg.qr(a, mode="r")  # type: ignore[assignment]
    diag = np.abs(np.diag(r)[:-1])
    if diag.size == 0 or diag.min() <= 1e-10 * diag.max():
        return None
    return r


def _statsmodels_adf(
    x: np.ndarray, regression: str, maxlag: int, autolag: str | None
) -> tuple[float, int, int] | None:
    from statsmodels.tsa.stattools import adfuller

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stat, _, lags, nobs, *_ = adfuller(
            x, maxlag=maxlag, regression=regression, autolag=autolag, result_object=False
        )
    if not math.isfinite(stat):
        return None
    return float(stat), int(lags), int(nobs)


def _mackinnon() -> tuple[Any, Any]:
    """statsmodels' MacKinnon p-value and critical-value functions (imported on first use:
    statsmodels takes over a second to import)."""
    from statsmodels.tsa.adfvalues import (
        mackinnoncrit,
        mackinnonp,
    )

    return mackinnonp, mackinnoncrit


def _as_series(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"expected a 1-d series, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("the series has NaN or inf values")
    return v


def _insufficient(test: Literal["adf", "coint"], n: int, min_n: int) -> InsufficientData:
    return InsufficientData(
        test=test, n=n, min_n=min_n, reason=f"insufficient data (n = {n} < {min_n})"
    )


def _crit_dict(crit: np.ndarray) -> dict[str, float]:
    return {"1%": float(crit[0]), "5%": float(crit[1]), "10%": float(crit[2])}
