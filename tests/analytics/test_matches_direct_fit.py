"""Every rolling field equals a direct per-window numpy/statsmodels computation to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.reference import (
    assert_matches,
    expected,
    half_life,
    prices,
    real_closes,
    scales,
    statsmodels_fit,
    synthetic_pair,
)
from pairs_tui.analytics import PairAnalytics

RTOL = 1e-9


@pytest.fixture(scope="module")
def real() -> tuple[np.ndarray, np.ndarray]:
    return real_closes()


@pytest.mark.parametrize("price", ["log", "raw"])
@pytest.mark.parametrize("window", [20, 60, 300])
def test_every_field_matches_statsmodels_on_real_bars(
    real: tuple[np.ndarray, np.ndarray], window: int, price: str
) -> None:
    a, b = real
    pair = PairAnalytics(window, price)  # type: ignore[arg-type]
    compared = 0
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        if t < window:
            continue
        lo = t - window + 1
        flat = np.ptp(a[lo : t + 1]) == 0 or np.ptp(b[lo : t + 1]) == 0
        flat_prev = np.ptp(a[lo - 1 : t]) == 0 or np.ptp(b[lo - 1 : t]) == 0
        if flat or flat_prev:
            continue  # the null rules have their own tests
        want = expected(a, b, t, window, price)
        assert_matches(stats, want, scales(a, b, t, window, price), RTOL, f"bar {t}")
        compared += 1
    assert compared > len(a) - window - 30


@pytest.mark.parametrize("price", ["log", "raw"])
def test_regression_fields_match_statsmodels_ols(
    real: tuple[np.ndarray, np.ndarray], price: str
) -> None:
    # statsmodels solves [1, x] by pinv: its own error on beta is about eps·cond ≈ 1e-11 in
    # absolute terms, which is 3e-9 of a beta near 0.002. So beta is compared relative to
    # sd(y)/sd(x) (the slope of a perfect fit) when that is larger, alpha relative to the size
    # of the terms it is made of, R² relative to 1.
    a, b = real
    window = 60
    pair = PairAnalytics(window, price)  # type: ignore[arg-type]
    y, x = prices(a, b, price)
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        if t < window - 1:
            continue
        yw, xw = y[t - window + 1 : t + 1], x[t - window + 1 : t + 1]
        if np.ptp(yw) == 0 or np.ptp(xw) == 0:
            continue
        slope = float(yw.std() / xw.std())
        scale = {
            "beta": slope,
            "alpha": float(abs(yw.mean()) + slope * abs(xw.mean())),
            "r2": 1.0,
        }
        assert_matches(stats, statsmodels_fit(yw, xw), scale, RTOL, f"bar {t}")


@pytest.mark.parametrize(("price", "window"), [("log", 300), ("raw", 3_600)])
def test_no_drift_over_300k_synthetic_bars(price: str, window: int) -> None:
    a, b = synthetic_pair(300_000, seed=11)
    pair = PairAnalytics(window, price)  # type: ignore[arg-type]
    last = len(a) - 1
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        if t >= window and (t % 997 == 0 or t == last):
            want = expected(a, b, t, window, price)
            assert_matches(stats, want, scales(a, b, t, window, price), RTOL, f"bar {t}")


def test_day_long_window_matches_direct_fit() -> None:
    a, b = synthetic_pair(100_000, seed=3, phi=0.995)
    window = 86_400
    pair = PairAnalytics(window)
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        if t >= window and (t % 4_999 == 0 or t == len(a) - 1):
            want = expected(a, b, t, window)
            assert_matches(stats, want, scales(a, b, t, window, "log"), RTOL, f"bar {t}")


def test_half_life_recovers_a_known_ar1() -> None:
    # ln 2 / -ln 0.97 = 22.76 bars; with 20,000 bars the AR(1) estimate is within a few %.
    a, b = synthetic_pair(20_001, seed=5, phi=0.97)
    window = 20_000
    pair = PairAnalytics(window)
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
    assert stats.half_life is not None
    assert stats.half_life == pytest.approx(np.log(2) / -np.log(0.97), rel=0.1)
    y, x = prices(a, b, "log")
    assert stats.half_life == pytest.approx(half_life(y[-window:], x[-window:]), rel=1e-9)


def test_half_life_is_none_when_residuals_do_not_revert() -> None:
    # Two independent random walks: the residuals' AR(1) φ is about 1, often above.
    rng = np.random.default_rng(2)
    window = 200
    a = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, 5_000)))
    b = 50 * np.exp(np.cumsum(rng.normal(0, 1e-3, 5_000)))
    pair = PairAnalytics(window)
    nones = 0
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        if t >= window:
            want = half_life(*prices(a[t - window + 1 : t + 1], b[t - window + 1 : t + 1], "log"))
            if want is None:
                nones += 1
                assert stats.half_life is None
            else:
                assert stats.half_life == pytest.approx(want, rel=1e-9)
    assert nones > 0


def test_volatility_is_annualised_for_the_bar_size() -> None:
    a, b = synthetic_pair(400, seed=8)
    one_second = PairAnalytics(60, bar_seconds=1.0)
    one_minute = PairAnalytics(60, bar_seconds=60.0)
    for t in range(len(a)):
        s1 = one_second.update(a[t], b[t])
        s60 = one_minute.update(a[t], b[t])
    assert s1.vol_a is not None and s60.vol_a is not None
    assert s1.vol_a / s60.vol_a == pytest.approx(np.sqrt(60.0), rel=1e-12)
    want = expected(a, b, len(a) - 1, 60, bar_seconds=60.0)
    assert s60.vol_b == pytest.approx(want["vol_b"], rel=1e-9)
