"""The Kalman hedge: pykalman's recursion, warm-started from OLS, unit-variance innovations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pykalman import KalmanFilter

from analytics.reference import ols_fit, prices, synthetic_pair
from pairs_tui.analytics import PairAnalytics
from pairs_tui.analytics.kalman import KalmanHedge


def test_step_is_pykalman_filter_with_fixed_noise() -> None:
    a, b = synthetic_pair(2_000, seed=31)
    y, x = prices(a, b, "log")
    warm = ols_fit(y[:100], x[:100])
    p_beta, p_a = warm["s"] ** 2 / warm["sxx"], warm["s"] ** 2 / 100
    q_beta, q_a, ve = p_beta / 100, p_a / 100, warm["s"] ** 2
    kf = KalmanHedge(adapt_bars=None)
    kf.start(warm["beta"], warm["x_mean"], warm["y_mean"], p_beta, p_a, ve)
    ours = []
    for t in range(100, len(x)):
        kf.step(x[t], y[t], q_beta, q_a)
        ours.append((kf.beta, kf.alpha))

    h = np.column_stack([x[100:] - warm["x_mean"], np.ones(len(x) - 100)])
    vw = np.diag([q_beta, q_a])
    reference = KalmanFilter(
        transition_matrices=np.eye(2),
        observation_matrices=h[:, None, :],
        transition_covariance=vw,
        observation_covariance=np.array([[ve]]),
        initial_state_mean=np.array([warm["beta"], 0.0]),
        # pykalman adds no transition noise before its first observation.
        initial_state_covariance=np.diag([p_beta, p_a]) + vw,
    )
    means, _ = reference.filter(y[100:, None] - warm["y_mean"])
    ours_arr = np.array(ours)
    np.testing.assert_allclose(ours_arr[:, 0], means[:, 0], rtol=1e-12)
    alpha = warm["y_mean"] + means[:, 1] - means[:, 0] * warm["x_mean"]
    np.testing.assert_allclose(ours_arr[:, 1], alpha, rtol=1e-12)


def test_pair_kalman_is_pykalman_with_the_documented_calibration() -> None:
    # Warm start on the first full window; at bar t the transition noise is the OLS parameter
    # covariance of the window ending at t - 1 over W, and Ve follows the covariance matching
    # Ve += (max(e² - hRhᵀ, 0) - Ve)/W, each rebuilt here from first principles.
    a, b = synthetic_pair(1_500, seed=32)
    y, x = prices(a, b, "log")
    w = 100
    pair = PairAnalytics(w)
    got = [pair.update(a[t], b[t]) for t in range(len(a))]

    warm = ols_fit(y[:w], x[:w])
    cx, cy = warm["x_mean"], warm["y_mean"]
    mean = np.array([warm["beta"], 0.0])
    cov = np.diag([warm["s"] ** 2 / warm["sxx"], warm["s"] ** 2 / w])
    ve = warm["s"] ** 2
    kf = KalmanFilter(transition_matrices=np.eye(2), observation_offsets=np.zeros(1))
    for t in range(w, len(x)):
        prev = ols_fit(y[t - w : t], x[t - w : t])
        vw = np.diag([prev["s"] ** 2 / (w * prev["sxx"]), prev["s"] ** 2 / (w * w)])
        h = np.array([[x[t] - cx, 1.0]])
        hrh = (h @ (cov + vw) @ h.T).item()
        e = (y[t] - cy) - (h @ mean).item()
        mean, cov = kf.filter_update(
            mean, cov, observation=np.array([y[t] - cy]), transition_covariance=vw,
            observation_matrix=h, observation_covariance=np.array([[ve]]),
        )  # fmt: skip
        assert got[t].kalman_beta == pytest.approx(float(mean[0]), rel=1e-9), t
        assert got[t].kalman_z == pytest.approx(e / math.sqrt(hrh + ve), rel=1e-9, abs=1e-9), t
        ve += (max(e * e - hrh, 0.0) - ve) / w


def test_innovation_z_has_unit_variance_and_beta_is_a_slope_not_a_price_ratio() -> None:
    a, b = synthetic_pair(100_000, seed=33, beta=0.8)
    pair = PairAnalytics(300)
    z: list[float] = []
    betas: list[float] = []
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        if stats.kalman_z is not None and stats.kalman_beta is not None:
            z.append(stats.kalman_z)
            betas.append(stats.kalman_beta)
    assert 0.85 < float(np.std(z)) < 1.2
    assert float(np.median(betas)) == pytest.approx(0.8, abs=0.03)
    # The trap: Chan's defaults on levels lock beta onto ln a / ln b, here about 1.38.
    assert abs(float(np.median(betas)) - math.log(a[0]) / math.log(b[0])) > 0.5


@pytest.mark.parametrize(
    ("price", "factor_a", "factor_b", "beta_ratio"),
    [("log", 1_000.0, 0.01, 1.0), ("raw", 10.0, 10.0, 1.0), ("raw", 1_000.0, 1.0, 1_000.0)],
)
def test_kalman_is_scale_free(
    price: str, factor_a: float, factor_b: float, beta_ratio: float
) -> None:
    a, b = synthetic_pair(3_000, seed=34)
    base = PairAnalytics(200, price)  # type: ignore[arg-type]
    scaled = PairAnalytics(200, price)  # type: ignore[arg-type]
    for t in range(len(a)):
        s1 = base.update(a[t], b[t])
        s2 = scaled.update(a[t] * factor_a, b[t] * factor_b)
        if s1.kalman_beta is not None:
            assert s2.kalman_beta == pytest.approx(s1.kalman_beta * beta_ratio, rel=1e-8)
            assert s2.kalman_z == pytest.approx(s1.kalman_z, rel=1e-6, abs=1e-8)


def test_kalman_hedge_scores_the_innovation_with_the_prior_state() -> None:
    a, b = synthetic_pair(400, seed=35)
    pair = PairAnalytics(100, hedge="kalman")
    previous = None
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        if previous is not None and previous.kalman_beta is not None:
            assert stats.hedge_beta == previous.kalman_beta
            assert stats.zscore == stats.kalman_z
            y, x = math.log(a[t]), math.log(b[t])
            assert stats.spread == pytest.approx(
                y - stats.hedge_alpha - stats.hedge_beta * x,  # type: ignore[operator]
                abs=1e-12,
            )
        previous = stats
    assert previous is not None and previous.zscore is not None
