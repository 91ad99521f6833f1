"""The hedge a user picks for the spread: through the origin, Huber; each against its reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from analytics.reference import prices, real_closes, synthetic_pair
from pairs_tui.analytics import PairAnalytics
from pairs_tui.records import HedgeMethod

RTOL = 1e-9


def _close(actual: float | None, want: float, scale: float, rtol: float = RTOL) -> bool:
    return actual is not None and abs(actual - want) <= rtol * max(abs(want), scale)


@pytest.mark.parametrize("price", ["log", "raw"])
def test_ols0_spread_and_zscore_match_a_no_intercept_fit(price: str) -> None:
    a, b = real_closes()
    window = 60
    y, x = prices(a, b, price)
    pair = PairAnalytics(window, price, "ols0")  # type: ignore[arg-type]
    checked = 0
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        if t < window:
            continue
        yp, xp = y[t - window : t], x[t - window : t]
        if np.ptp(yp) == 0 or np.ptp(xp) == 0:
            continue
        res = sm.OLS(yp, xp).fit()  # no constant: y = beta·x
        beta = float(res.params[0])
        s0 = math.sqrt(float(res.ssr) / (window - 1))
        spread = y[t] - beta * x[t]
        z = spread / (s0 * math.sqrt(1 + x[t] ** 2 / float(xp @ xp)))
        assert stats.hedge_beta == pytest.approx(beta, rel=RTOL)
        assert stats.hedge_alpha == 0.0
        assert _close(stats.spread, spread, s0), (t, stats.spread, spread)
        assert _close(stats.zscore, z, 1.0), (t, stats.zscore, z)
        checked += 1
    assert checked > 200


def _rlm(y: np.ndarray, x: np.ndarray, centred: bool) -> tuple[float, float, float]:
    """``(alpha, beta, scale)`` of statsmodels RLM(HuberT) on one window."""
    norm = sm.robust.norms.HuberT()
    if not centred:
        res = sm.RLM(y, sm.add_constant(x), M=norm).fit()
        return float(res.params[0]), float(res.params[1]), float(res.scale)
    xm, ym = x.mean(), y.mean()
    sd = (y - ym).std()
    exog = np.column_stack([np.ones(len(x)), x - xm])
    res = sm.RLM((y - ym) / sd, exog, M=norm).fit(conv="coefs", tol=1e-12, maxiter=200)
    beta = float(res.params[1]) * sd
    return float(ym + res.params[0] * sd - beta * xm), beta, float(res.scale) * sd


def test_huber_spread_and_zscore_match_statsmodels_rlm() -> None:
    a, b = synthetic_pair(200, seed=9)
    window = 100
    y, x = prices(a, b, "log")
    pair = PairAnalytics(window, hedge="huber")
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        if t < window or t % 10:
            continue
        yp, xp = y[t - window : t], x[t - window : t]
        alpha, beta, scale = _rlm(yp, xp, centred=True)
        xc = xp - xp.mean()
        spread = (y[t] - alpha) - beta * x[t]
        z = spread / (scale * math.sqrt(1 + 1 / window + (x[t] - xp.mean()) ** 2 / (xc @ xc)))
        assert stats.hedge_beta == pytest.approx(beta, rel=RTOL)
        assert _close(stats.spread, spread, scale)
        assert _close(stats.zscore, z, 1.0)
        # The textbook call on raw log prices is the same estimator, but its iterations never
        # settle in float64 (the scale wanders at about 1e-6), so it only agrees to that.
        raw_alpha, raw_beta, raw_scale = _rlm(yp, xp, centred=False)
        assert scale == pytest.approx(raw_scale, rel=1e-4)
        assert stats.hedge_beta == pytest.approx(raw_beta, rel=1e-6)
        assert stats.spread == pytest.approx((y[t] - raw_alpha) - raw_beta * x[t], abs=1e-4 * scale)


def test_huber_hedge_shrugs_off_a_fat_finger_print() -> None:
    a, b = synthetic_pair(301, seed=12)
    clean_a = a.copy()
    a[250] *= 1.01  # one print 1% off on leg A, inside the window of the last bar
    window = 200

    def last_hedge(hedge: str, closes_a: np.ndarray) -> float:
        pair = PairAnalytics(window, hedge=hedge)  # type: ignore[arg-type]
        for t in range(len(closes_a)):
            stats = pair.update(closes_a[t], b[t])
        assert stats.hedge_beta is not None
        return stats.hedge_beta

    huber_shift = abs(last_hedge("huber", a) - last_hedge("huber", clean_a))
    ols_shift = abs(last_hedge("ols", a) - last_hedge("ols", clean_a))
    assert ols_shift > 10 * huber_shift


def test_every_method_reports_the_same_window_fit() -> None:
    # beta/alpha/r2 are the window's OLS whatever the hedge; only spread/zscore change.
    a, b = synthetic_pair(150, seed=13)
    methods: tuple[HedgeMethod, ...] = ("ols", "ols0", "huber", "kalman")
    runs = {h: PairAnalytics(50, hedge=h) for h in methods}
    for t in range(len(a)):
        out = {h: p.update(a[t], b[t]) for h, p in runs.items()}
    betas = {out[h].beta for h in out}
    assert len(betas) == 1
    assert len({out[h].zscore for h in out}) == 4
