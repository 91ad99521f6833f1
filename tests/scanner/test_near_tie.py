"""Where two lags' AICs tie to rounding, the scanner chooses the lag statsmodels chooses.

The residual's differences follow ``Δe_t = -0.2·e_(t-1) + c·Δe_(t-1) + ε_t`` with the same
shocks for every ``c``: at ``c = 0.10`` AIC prefers no lag, at ``c = 0.15`` one lag. Bisecting
on statsmodels' own choice narrows ``c`` to two adjacent floats on either side of the switch,
where the two AICs agree to about 1e-12: a tie decided by statsmodels' rounding alone.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant
from statsmodels.tsa.stattools import adfuller

from pairs_tui.scanner import scan
from scanner import reference

N = 300
_rng = np.random.default_rng(4)
X = reference.walk(_rng, N, 50.0, 2e-3)
SHOCKS = _rng.normal(0.0, 1e-3, N)


def y_of(c: float) -> np.ndarray:
    e = np.zeros(N)
    d_prev = 0.0
    for t in range(1, N):
        d = -0.2 * e[t - 1] + c * d_prev + SHOCKS[t]
        e[t] = e[t - 1] + d
        d_prev = d
    return 0.8 * X + 1.0 + e


def statsmodels_aics(y: np.ndarray) -> np.ndarray:
    """AIC of every lag in ``coint``'s residual ADF, as statsmodels computes them."""
    resid = OLS(y, add_constant(X, prepend=False)).fit().resid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = adfuller(
            resid, autolag="aic", regression="n", regresults=True, result_object=False
        )[-1]
    return np.array([store.autolag_results[k].aic for k in sorted(store.autolag_results)])


@pytest.fixture(scope="module")
def switch() -> tuple[float, float]:
    """Adjacent ``c`` values where statsmodels switches from lag 0 to lag 1."""
    lo, hi = 0.10, 0.15
    assert int(np.argmin(statsmodels_aics(y_of(lo)))) == 0
    assert int(np.argmin(statsmodels_aics(y_of(hi)))) == 1
    while True:
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            return lo, hi
        if np.argmin(statsmodels_aics(y_of(mid))) == 0:
            lo = mid
        else:
            hi = mid


@pytest.mark.parametrize(("side", "lag"), [(0, 0), (1, 1)])
def test_a_near_tie_goes_the_way_statsmodels_goes(
    switch: tuple[float, float], side: int, lag: int
) -> None:
    y = y_of(switch[side])
    aics = np.sort(statsmodels_aics(y))
    assert aics[1] - aics[0] < 1e-9  # a real tie: far below the scanner's own rounding margin
    result = scan(reference.matrix(np.column_stack([y, X]), ["YUSDT", "XUSDT"]))
    row = result.rows[0]
    assert (row.symbol_a, row.symbol_b) == ("YUSDT", "XUSDT")
    expected = reference.ordering(y, X)
    assert row.coint_lags == expected["coint_lags"] == lag
    assert row.coint_t == pytest.approx(expected["coint_t"], rel=1e-9)
    assert result.exact_orderings >= 1  # decided by statsmodels, not by the moments


def test_a_clear_choice_is_made_from_the_moments_alone() -> None:
    for c, lag in ((0.10, 0), (0.15, 1)):
        y = y_of(c)
        result = scan(reference.matrix(np.column_stack([y, X]), ["YUSDT", "XUSDT"]))
        assert result.exact_orderings == 0
        assert result.rows[0].coint_lags == reference.ordering(y, X)["coint_lags"] == lag
