"""ADF and Engle-Granger: published answers, statsmodels equality, the right p-value, off-thread."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.datasets import macrodata
from statsmodels.tsa.stattools import adfuller, coint

from analytics.reference import synthetic_pair
from pairs_tui.analytics import PairAnalytics
from pairs_tui.analytics.blas import blas_threads
from pairs_tui.analytics.stationarity import (
    InsufficientData,
    StationarityResult,
    adf_test,
    coint_test,
    run_stationarity,
    stationarity_report,
)

MACRO = macrodata.load_pandas().data
REALGDP = MACRO["realgdp"].to_numpy()
REALCONS = MACRO["realcons"].to_numpy()
INFL = MACRO["infl"].to_numpy()


def _result(outcome: object) -> StationarityResult:
    assert isinstance(outcome, StationarityResult), outcome
    return outcome


# Stata `dfuller` values asserted by statsmodels' own tests (tsa/tests/test_stattools.py):
# statistic and p-value to 5 decimals, critical values to 2 (Stata's tables are older).
@pytest.mark.parametrize(
    ("series", "regression", "maxlag", "stat", "pvalue", "crit"),
    [
        (REALGDP, "c", 4, 0.97505319, 0.99399563, [-3.476, -2.883, -2.573]),
        (REALGDP, "ct", 4, -1.8566374, 0.67682968, [-4.007, -3.437, -3.137]),
        (REALGDP, "n", 4, 3.5227498, 0.99999, [-2.587, -1.950, -1.617]),
        (INFL, "c", 1, -4.3346988, 0.00038661, [-3.476, -2.883, -2.573]),
        (INFL, "n", 1, -2.4511596, 0.013747, [-2.587, -1.950, -1.617]),
    ],
)
def test_adf_reproduces_statas_dfuller_on_macrodata(
    series: np.ndarray, regression: Any, maxlag: int, stat: float, pvalue: float,
    crit: list[float],
) -> None:  # fmt: skip
    res = _result(adf_test(series, regression=regression, maxlag=maxlag, autolag=None))
    assert res.statistic == pytest.approx(stat, abs=1.5e-5)
    assert res.pvalue == pytest.approx(pvalue, abs=1.5e-5)
    assert res.lags == maxlag and res.n == 203 and res.nobs == 203 - maxlag - 1
    got = [res.critical_values[k] for k in ("1%", "5%", "10%")]
    np.testing.assert_allclose(got, crit, atol=0.015)


def test_adf_with_aic_lags_reproduces_the_inflation_reference() -> None:
    # inflation = diff(log(cpi)): arch's test suite asserts -3.09310 with 2 lags, p 0.027067;
    # R urca ur.df(type="drift", lags=2) gives -3.093112.
    inflation = np.diff(np.log(MACRO["cpi"].to_numpy()))
    res = _result(adf_test(inflation))
    assert res.statistic == pytest.approx(-3.093112, abs=1e-6)
    assert res.lags == 2
    assert res.pvalue == pytest.approx(0.027067, abs=1e-6)
    assert res.verdict == "likely stationary"


def test_coint_reproduces_the_macrodata_engle_granger_answer() -> None:
    res = _result(coint_test(REALCONS, REALGDP, maxlag=0, autolag=None))
    assert res.statistic == pytest.approx(-1.830170986148, abs=1e-9)
    assert res.pvalue == pytest.approx(0.61495, abs=1e-5)
    assert res.verdict == "no evidence of cointegration"


def _stata_egranger_data() -> np.ndarray:
    # statsmodels test_coint: Stata `egranger` on generated data (rounded to 4 decimals).
    rs = np.random.RandomState(123)
    unit = rs.randn(200).cumsum()
    y = rs.randn(200, 4)
    y[:, :2] += unit[:, None]
    y += [1, 0, 0.5, 0]
    return np.round(y, 4)


@pytest.mark.parametrize(
    ("trend", "stat", "crit"),
    [
        ("c", -5.760696844656, [-3.952321293401682, -3.367006313729, -3.065831247948]),
        ("ct", -5.615251442239, [-4.406102369132, -3.82866685109, -3.532082997903]),
    ],
)
def test_coint_reproduces_stata_egranger(trend: Any, stat: float, crit: list[float]) -> None:
    y = _stata_egranger_data()
    res = _result(coint_test(y[:, 0], y[:, 1], trend=trend, maxlag=4, autolag=None))
    assert res.statistic == pytest.approx(stat, rel=1e-11)
    got = [res.critical_values[k] for k in ("1%", "5%", "10%")]
    np.testing.assert_allclose(got, crit, rtol=0, atol=6e-7)


def test_coint_pvalue_differs_from_naive_adf_on_the_same_residuals() -> None:
    # The same Dickey-Fuller statistic on residuals of a hedge fitted to the same data: ADF's
    # p-value ignores the fit (too small), Engle-Granger's accounts for it.
    X = np.column_stack([REALGDP, np.ones_like(REALGDP)])
    resid = REALCONS - X @ np.linalg.lstsq(X, REALCONS, rcond=None)[0]
    naive = _result(adf_test(resid, regression="n", maxlag=0, autolag=None))
    eg = _result(coint_test(REALCONS, REALGDP, maxlag=0, autolag=None))
    assert naive.statistic == pytest.approx(eg.statistic, rel=1e-9)
    assert naive.pvalue < 0.1 < 0.5 < eg.pvalue
    assert _result(adf_test(resid)).pvalue == pytest.approx(0.370, abs=0.005)


def test_on_the_pairs_window_coint_is_more_sceptical_than_adf() -> None:
    a, b = synthetic_pair(2_000, seed=51, phi=0.995)
    pair = PairAnalytics(1_000)
    for t in range(len(a)):
        pair.update(a[t], b[t])
    data = pair.window_data()
    assert data is not None
    report = stationarity_report(data)
    adf, eg = _result(report.adf), _result(report.coint)
    assert adf.pvalue < eg.pvalue
    # Same statistic family: EG is ADF without constant on the same in-sample residuals.
    plain = _result(adf_test(data.residuals, regression="n"))
    assert plain.statistic == pytest.approx(eg.statistic, rel=1e-9)
    assert plain.pvalue < eg.pvalue


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(50, 1_000),
    phi=st.floats(0.3, 1.0),
    regression=st.sampled_from(["c", "n", "ct"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_adf_and_coint_equal_statsmodels(n: int, phi: float, regression: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    e = np.zeros(n)
    shocks = rng.standard_t(4, n)
    for i in range(1, n):
        e[i] = phi * e[i - 1] + shocks[i]
    stat, pvalue, lags, nobs, crit, _ = adfuller(
        e, regression=regression, autolag="AIC", result_object=False
    )
    res = _result(adf_test(e, regression=regression))  # type: ignore[arg-type]
    assert (res.lags, res.nobs) == (lags, nobs)
    assert res.statistic == pytest.approx(stat, rel=1e-9)
    assert res.pvalue == pytest.approx(pvalue, rel=1e-9, abs=1e-300)
    assert res.critical_values == pytest.approx(crit, rel=1e-12)

    x = np.cumsum(rng.normal(size=n))
    y = 0.7 * x + e
    want = coint(y, x, trend="c")
    got = _result(coint_test(y, x))
    assert got.statistic == pytest.approx(want.coint_t, rel=1e-9)
    assert got.pvalue == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)
    assert list(got.critical_values.values()) == pytest.approx(list(want.critical_values))


def test_below_the_minimum_n_the_answer_is_insufficient_data() -> None:
    rng = np.random.default_rng(0)
    e = rng.normal(size=49)
    short = adf_test(e)
    assert isinstance(short, InsufficientData)
    assert short.reason == "insufficient data (n = 49 < 50)" == short.verdict
    assert isinstance(coint_test(e, rng.normal(size=49)), InsufficientData)
    assert isinstance(adf_test(np.append(e, 0.3)), StationarityResult)


def test_degenerate_inputs_are_answered_not_raised() -> None:
    flat = np.full(100, 3.0)
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.normal(size=100))
    assert adf_test(flat).reason == "the series is constant"  # type: ignore[union-attr]
    assert coint_test(walk, flat).reason == "a leg is constant"  # type: ignore[union-attr]
    # statsmodels answers -inf with p = 0 here; we say why there is no answer instead.
    collinear = coint_test(2.0 * walk + 1.0, walk)
    assert isinstance(collinear, InsufficientData)
    assert "collinear" in collinear.reason
    with pytest.raises(ValueError, match="NaN"):
        adf_test(np.append(walk, np.nan))


def test_report_runs_off_the_callers_thread() -> None:
    a, b = synthetic_pair(400, seed=52)
    pair = PairAnalytics(300)
    for t in range(len(a)):
        pair.update(a[t], b[t])
    data = pair.window_data()
    assert data is not None
    threads: list[str] = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            def run() -> Any:
                threads.append(threading.current_thread().name)
                return fn(*args, **kwargs)

            return super().submit(run)

    async def main() -> Any:
        with Recording(max_workers=1, thread_name_prefix="worker") as pool:
            return await run_stationarity(data, executor=pool)

    report = asyncio.run(main())
    assert threads and threads[0].startswith("worker")
    assert threads[0] != threading.current_thread().name
    assert report == stationarity_report(data)
    assert report.bars == 400 and report.n == 300


def test_default_worker_pins_blas_to_one_thread() -> None:
    a, b = synthetic_pair(200, seed=53)
    pair = PairAnalytics(100)
    for t in range(len(a)):
        pair.update(a[t], b[t])
    data = pair.window_data()
    assert data is not None
    report = asyncio.run(run_stationarity(data))
    assert isinstance(report.adf, StationarityResult)
    counts = blas_threads()
    if not counts:
        pytest.skip("no OpenBLAS library found in this process")
    assert set(counts) == {1}


def test_window_data_is_the_current_window_and_its_residuals() -> None:
    a, b = synthetic_pair(500, seed=54)
    pair = PairAnalytics(200)
    for t in range(199):
        pair.update(a[t], b[t])
    assert pair.window_data() is None
    for t in range(199, len(a)):
        stats = pair.update(a[t], b[t])
    data = pair.window_data()
    assert data is not None
    np.testing.assert_array_equal(data.y, np.log(a[-200:]))
    np.testing.assert_array_equal(data.x, np.log(b[-200:]))
    assert data.beta == pytest.approx(stats.beta, rel=1e-9)
    assert data.alpha == pytest.approx(stats.alpha, rel=1e-9)
    np.testing.assert_allclose(data.residuals, data.y - data.alpha - data.beta * data.x, atol=1e-12)
    assert abs(data.residuals.mean()) < 1e-12


def test_coint_on_log_price_levels_keeps_the_residuals_exact() -> None:
    # ln prices near 8 that move by 1e-4: an uncentred [1, x] regression loses digits of the
    # residuals (statsmodels' coint: about 3e-8 of their scale here); the centred fit does not.
    a, b = synthetic_pair(3_600, seed=2)
    y, x = np.log(a), np.log(b)
    yl, xl = y.astype(np.longdouble), x.astype(np.longdouble)
    xc, yc = xl - xl.mean(), yl - yl.mean()
    exact = (yc - (xc @ yc) / (xc @ xc) * xc).astype(np.float64)
    want = _result(adf_test(exact, regression="n"))
    got = _result(coint_test(y, x))
    assert got.lags == want.lags
    assert got.statistic == pytest.approx(want.statistic, rel=1e-11)
    assert got.statistic == pytest.approx(coint(y, x).coint_t, rel=1e-7)
