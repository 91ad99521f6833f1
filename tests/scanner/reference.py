"""Per-pair references for the scanner, computed the way a reader would: one pair at a time.

statsmodels' ``coint`` for the statistic and p-value of each ordering, its own two steps (OLS,
then ``adfuller``) for the lag it chose, numpy least squares for the fit and the half-life.
Nothing here shares code with :mod:`pairs_tui.scanner`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant
from statsmodels.tsa.stattools import adfuller, coint

from pairs_tui.scanner import PriceMatrix

T0 = 1_723_161_600_000  # 2024-08-09T00:00Z
MINUTE = 60_000


def ordering(y: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """``coint(y, x, trend="c", autolag="aic")`` and the lag its residual ADF chose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stat, pvalue, _ = coint(y, x, trend="c", autolag="aic")
        resid = OLS(y, add_constant(x, prepend=False)).fit().resid
        lags = adfuller(resid, maxlag=None, autolag="aic", regression="n", result_object=False)[2]
    return {"coint_t": float(stat), "coint_p": float(pvalue), "coint_lags": int(lags)}


def exact_statistic(y: np.ndarray, x: np.ndarray) -> float:
    """The residual ADF statistic on residuals computed to full precision (centred lstsq).

    statsmodels fits ``y`` on uncentred ``[x, 1]``; on log prices near 11 with a tiny spread its
    residuals carry rounding of ~1e-9 relative. This isolates that from the scanner's own.
    """
    xc, yc = x - x.mean(), y - y.mean()
    e = yc - (xc @ yc) / (xc @ xc) * xc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(adfuller(e, maxlag=None, autolag="aic", regression="n")[0])


def row(y: np.ndarray, x: np.ndarray, log_y: np.ndarray, log_x: np.ndarray) -> dict[str, Any]:
    """Every field of the scanner's row for the ordering ``(y, x)``, one pair at a time."""
    n = len(y)
    design = np.column_stack([x, np.ones(n)])
    beta, alpha = np.linalg.lstsq(design, y, rcond=None)[0]
    e = y - alpha - beta * x
    ssr = float(e @ e)
    yc = y - y.mean()
    phi = float(np.linalg.lstsq(np.column_stack([np.ones(n - 1), e[:-1]]), e[1:], rcond=None)[0][1])
    resid_sd = math.sqrt(ssr / (n - 2))
    return {
        **ordering(y, x),
        "coint_p_reverse": ordering(x, y)["coint_p"],
        "beta": float(beta),
        "alpha": float(alpha),
        "r2": 1.0 - ssr / float(yc @ yc),
        "half_life": -math.log(2.0) / math.log(phi) if 0.0 < phi < 1.0 else None,
        "corr": float(np.corrcoef(np.diff(log_y), np.diff(log_x))[0, 1]),
        "resid_sd": resid_sd,
        "resid_z": float(e[-1]) / resid_sd,
    }


def ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """An AR(1) path from 0."""
    e = np.zeros(n)
    shocks = rng.normal(0.0, sd, n)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + shocks[t]
    return e


def walk(rng: np.random.Generator, n: int, start: float, sd: float = 1e-3) -> np.ndarray:
    """Log prices of a random walk from ``ln start``."""
    return math.log(start) + np.cumsum(rng.normal(0.0, sd, n))


def matrix(log_closes: np.ndarray, symbols: list[str], timeframe: str = "1m") -> PriceMatrix:
    """A price matrix of ``exp(log_closes)`` on a minute grid from :data:`T0`."""
    bars = log_closes.shape[0]
    return PriceMatrix(np.exp(log_closes), tuple(symbols), T0 + MINUTE * np.arange(bars), timeframe)


def mixed_universe(n: int, seed: int) -> PriceMatrix:
    """Six symbols: two cointegrated pairs sharing no leg, a pair with a common factor and
    correlated returns but no cointegration, and independent walks among the rest."""
    rng = np.random.default_rng(seed)
    btc = walk(rng, n, 61_800.0)
    eth = 0.9 * (btc - math.log(61_800.0)) + math.log(2_680.0) + ar1(rng, n, 0.9, 4e-4)
    sol = walk(rng, n, 140.0, 2e-3)
    avax = 1.3 * (sol - math.log(140.0)) + math.log(21.0) + ar1(rng, n, 0.97, 1e-3)
    doge = 0.5 * (btc - math.log(61_800.0)) + walk(rng, n, 0.1)
    link = walk(rng, n, 10.0)
    logs = np.column_stack([btc, eth, sol, avax, doge, link])
    return matrix(logs, ["BTCUSDT", "ETHUSDT", "SOLUSDT", "AVAXUSDT", "DOGEUSDT", "LINKUSDT"])
