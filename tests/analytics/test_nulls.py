"""Windows not yet full, flat legs and constant input give None, never NaN or a crash."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.reference import synthetic_pair
from pairs_tui.analytics import PairAnalytics, PairStats

FIELDS = [name for name in PairStats.__struct_fields__ if name not in ("n", "bars_needed")]
PAIR_FIELDS = [
    "beta", "alpha", "r2", "beta_se", "spread", "zscore", "corr", "half_life",
    "kalman_beta", "kalman_z", "hedge_beta", "hedge_alpha",
]  # fmt: skip


def _assert_clean(stats: PairStats) -> None:
    for name in FIELDS:
        value = getattr(stats, name)
        assert value is None or (type(value) is float and math.isfinite(value)), (name, value)


def test_values_arrive_as_their_windows_fill() -> None:
    a, b = synthetic_pair(12, seed=1)
    pair = PairAnalytics(5)
    seen = [pair.update(a[t], b[t]) for t in range(len(a))]
    assert [s.n for s in seen] == [1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5]
    assert [s.bars_needed for s in seen] == [5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0]
    for s in seen[:4]:
        assert all(getattr(s, name) is None for name in FIELDS)
    # Bar W: the window's own fit and per-leg levels; nothing that needs bar W + 1.
    assert seen[4].beta is not None and seen[4].mean_a is not None
    for name in ("spread", "zscore", "corr", "vol_a", "kalman_beta", "kalman_z"):
        assert getattr(seen[4], name) is None, name
    # Bar W + 1: everything.
    for name in ("spread", "zscore", "corr", "vol_a", "vol_b", "kalman_beta", "kalman_z"):
        assert getattr(seen[5], name) is not None, name


def test_constant_input_gives_nulls() -> None:
    pair = PairAnalytics(4)
    for _ in range(50):
        stats = pair.update(61_800.0, 2_680.0)
        _assert_clean(stats)
        assert all(getattr(stats, name) is None for name in PAIR_FIELDS)
    assert stats.mean_a == 61_800.0 and stats.std_a == 0.0 and stats.vol_a == 0.0
    assert pair.window_data() is None


@pytest.mark.parametrize("flat_leg", ["a", "b"])
@pytest.mark.parametrize("hedge", ["ols", "ols0", "huber", "kalman"])
def test_a_flat_leg_nulls_the_pair_values_until_it_moves(flat_leg: str, hedge: str) -> None:
    a, b = synthetic_pair(300, seed=2)
    window = 30
    if flat_leg == "a":
        a[100:200] = a[100]
    else:
        b[100:200] = b[100]
    pair = PairAnalytics(window, hedge=hedge)  # type: ignore[arg-type]
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        _assert_clean(stats)
        flat_window = 100 + window - 1 <= t < 200
        if flat_window:
            for name in ("beta", "alpha", "r2", "beta_se", "half_life", "kalman_beta"):
                assert getattr(stats, name) is None, (t, name)
            assert getattr(stats, f"std_{flat_leg}") == 0.0
        if 100 + window <= t < 200:
            assert stats.corr is None and stats.spread is None and stats.zscore is None
        if t >= 200 + window:
            assert stats.beta is not None and stats.zscore is not None
            assert stats.kalman_beta is not None


def test_an_exact_linear_relation_has_no_scale() -> None:
    # ln a = 2 ln b exactly (to rounding): beta 2, R² 1, but the residuals are rounding noise,
    # so z-score and half-life are None rather than noise divided by noise.
    rng = np.random.default_rng(3)
    b = 100.0 * np.exp(np.cumsum(rng.normal(0, 1e-3, 200)))
    a = b**2
    pair = PairAnalytics(50)
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
        _assert_clean(stats)
    assert stats.beta == pytest.approx(2.0, rel=1e-9)
    assert stats.r2 == pytest.approx(1.0, rel=1e-12)
    assert stats.zscore is None and stats.half_life is None


@pytest.mark.filterwarnings("error")
@settings(max_examples=60, deadline=None)
@given(
    closes=st.lists(
        st.tuples(
            st.sampled_from([100.0, 100.5, 101.0, 1e-6, 1e9]),
            st.sampled_from([20.0, 20.01, 1e-3, 5e5]),
        ),
        min_size=1,
        max_size=60,
    ),
    window=st.integers(3, 12),
    hedge=st.sampled_from(["ols", "ols0", "huber", "kalman"]),
    price=st.sampled_from(["log", "raw"]),
)
def test_any_positive_closes_give_floats_or_none(
    closes: list[tuple[float, float]], window: int, hedge: str, price: str
) -> None:
    pair = PairAnalytics(window, price, hedge)  # type: ignore[arg-type]
    for a, b in closes:
        stats = pair.update(a, b)
        _assert_clean(stats)
        msgspec.json.encode(stats)  # encodes: no NaN anywhere


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -1.0])
def test_a_close_that_is_not_a_positive_number_is_refused(bad: float) -> None:
    pair = PairAnalytics(10)
    pair.update(100.0, 20.0)
    with pytest.raises(ValueError, match="positive and finite"):
        pair.update(bad, 20.0)
    with pytest.raises(ValueError, match="positive and finite"):
        pair.update(100.0, bad)
    assert pair.update(100.5, 20.1).n == 2  # the refused bars left no trace


@pytest.mark.parametrize(
    "kwargs",
    [{"window": 2}, {"window": 10, "price": "pct"}, {"window": 10, "hedge": "tls"},
     {"window": 10, "bar_seconds": 0.0}],
)  # fmt: skip
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PairAnalytics(**kwargs)  # type: ignore[arg-type]


def test_kalman_stays_sane_when_prices_span_fifteen_decades() -> None:
    # Found by random search: with the textbook P = R - K h R update, rounding made P
    # indefinite here and Q negative (sqrt of a negative number). Joseph form keeps it PSD.
    closes = [
        (100.0, 20.0), (101.0, 20.01), (1e9, 20.0), (101.0, 5e5), (101.0, 20.01),
        (100.5, 20.01), (1e-6, 20.0), (100.0, 20.01), (101.0, 20.01), (1e9, 20.0), (1e9, 20.0),
        (100.5, 20.01), (100.0, 20.0), (101.0, 20.0), (100.5, 20.0), (1e-6, 1e-3),
        (100.0, 20.01), (100.5, 5e5), (101.0, 20.01), (1e9, 5e5), (1e-6, 5e5), (1e-6, 20.0),
        (100.0, 5e5), (101.0, 20.0),
    ]  # fmt: skip
    pair = PairAnalytics(3, "raw", "ols0")
    for a, b in closes:
        _assert_clean(pair.update(a, b))
    assert pair.last.kalman_beta is not None
