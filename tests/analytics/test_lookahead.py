"""No look-ahead: the hedge behind a bar's spread and z-score never saw that bar."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.reference import ols_fit, synthetic_pair
from pairs_tui.analytics import PairAnalytics

METHODS = ["ols", "ols0", "huber", "kalman"]


def _feed(pair: PairAnalytics, a: np.ndarray, b: np.ndarray) -> None:
    for t in range(len(a)):
        pair.update(a[t], b[t])


@pytest.mark.parametrize("hedge", METHODS)
def test_zscore_uses_previous_fit(hedge: str) -> None:
    # Two runs share every bar but the last, where A jumps 3%. If the last bar were in its own
    # fit, the hedge would move with it; it must not, and the spread must move by exactly the
    # jump in ln A (x is unchanged, so the z denominator is unchanged too).
    a, b = synthetic_pair(400, seed=21)
    window = 120
    calm = PairAnalytics(window, hedge=hedge)  # type: ignore[arg-type]
    jump = PairAnalytics(window, hedge=hedge)  # type: ignore[arg-type]
    _feed(calm, a[:-1], b[:-1])
    _feed(jump, a[:-1], b[:-1])
    s1 = calm.update(a[-1], b[-1])
    s2 = jump.update(a[-1] * 1.03, b[-1])
    assert s1.hedge_beta is not None and s1.zscore is not None and s2.zscore is not None
    assert s2.hedge_beta == s1.hedge_beta
    assert s2.hedge_alpha == s1.hedge_alpha
    assert s2.spread - s1.spread == pytest.approx(math.log(1.03), rel=1e-9)  # type: ignore[operator]
    assert s2.zscore / s1.zscore == pytest.approx(s2.spread / s1.spread, rel=1e-9)  # type: ignore[operator]
    # ... while the in-window fit does see the jump.
    assert s2.beta != s1.beta


def test_zscore_is_the_out_of_sample_prediction_error() -> None:
    a, b = synthetic_pair(500, seed=4)
    y, x = np.log(a), np.log(b)
    window = 200
    pair = PairAnalytics(window)
    _feed(pair, a[:-1], b[:-1])
    stats = pair.update(a[-1], b[-1])
    prev = ols_fit(y[-window - 1 : -1], x[-window - 1 : -1])
    now = ols_fit(y[-window:], x[-window:])
    predictive = (y[-1] - prev["alpha"] - prev["beta"] * x[-1]) / (
        prev["s"] * math.sqrt(1 + 1 / window + (x[-1] - prev["x_mean"]) ** 2 / prev["sxx"])
    )
    in_sample = (y[-1] - now["alpha"] - now["beta"] * x[-1]) / now["s"]
    assert stats.zscore == pytest.approx(predictive, rel=1e-9)
    assert abs(predictive - in_sample) > 1e-3


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.floats(-0.002, 0.002), min_size=30, max_size=60),
    shock=st.floats(-0.2, 0.2).filter(lambda v: abs(v) > 1e-6),
    hedge=st.sampled_from(METHODS),
)
def test_no_value_of_the_held_hedge_depends_on_the_bar_it_scores(
    steps: list[float], shock: float, hedge: str
) -> None:
    rng = np.random.default_rng(len(steps))
    b = 2_000.0 * np.exp(np.cumsum(rng.normal(0, 1e-3, len(steps))))
    a = 50_000.0 * np.exp(np.cumsum(steps))
    first = PairAnalytics(10, hedge=hedge)  # type: ignore[arg-type]
    second = PairAnalytics(10, hedge=hedge)  # type: ignore[arg-type]
    _feed(first, a[:-1], b[:-1])
    _feed(second, a[:-1], b[:-1])
    s1 = first.update(a[-1], b[-1])
    s2 = second.update(a[-1] * math.exp(shock), b[-1] * math.exp(-shock))
    assert s1.hedge_beta == s2.hedge_beta
    assert s1.hedge_alpha == s2.hedge_alpha
