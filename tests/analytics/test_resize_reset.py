"""The window changes live (the UI's +/- keys) and the state can be dropped."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from analytics.reference import assert_matches, expected, scales, synthetic_pair
from pairs_tui.analytics import PairAnalytics, PairStats

ROLLING = [
    "beta", "alpha", "r2", "beta_se", "spread", "zscore", "corr", "half_life", "hedge_beta",
    "hedge_alpha", "mean_a", "std_a", "return_a", "vol_a", "mean_b", "std_b", "return_b", "vol_b",
]  # fmt: skip


def _run(pair: PairAnalytics, a: np.ndarray, b: np.ndarray) -> PairStats:
    stats = PairStats()
    for t in range(len(a)):
        stats = pair.update(a[t], b[t])
    return stats


@pytest.mark.parametrize(("before", "after"), [(300, 60), (60, 300), (60, 1_000)])
def test_resize_gives_what_the_new_window_would_have_given(before: int, after: int) -> None:
    a, b = synthetic_pair(1_500, seed=41)
    live = PairAnalytics(before)
    _run(live, a[:1_200], b[:1_200])
    resized = live.resize(after)
    always = PairAnalytics(after)
    same = _run(always, a[:1_200], b[:1_200])
    t = 1_199
    assert resized.n == same.n == after
    assert_matches(resized, expected(a, b, t, after), scales(a, b, t, after, "log"), 1e-9, "resize")
    # ... and keeps matching as bars come in.
    for t in range(1_200, len(a)):
        s1 = live.update(a[t], b[t])
        s2 = always.update(a[t], b[t])
    for name in ROLLING:
        assert getattr(s1, name) == pytest.approx(getattr(s2, name), rel=1e-9, abs=1e-12), name
    assert_matches(s1, expected(a, b, t, after), scales(a, b, t, after, "log"), 1e-9, "later")


def test_resize_restarts_the_kalman_filter_on_the_kept_closes() -> None:
    a, b = synthetic_pair(800, seed=42)
    live = PairAnalytics(300)
    _run(live, a, b)
    resized = live.resize(100)
    fresh = _run(PairAnalytics(100), a[-101:], b[-101:])
    assert resized.kalman_beta == pytest.approx(fresh.kalman_beta, rel=1e-12)
    assert resized.kalman_z == pytest.approx(fresh.kalman_z, rel=1e-9)


def test_resize_beyond_the_kept_bars_waits_for_more() -> None:
    a, b = synthetic_pair(200, seed=43)
    pair = PairAnalytics(50)
    _run(pair, a[:120], b[:120])
    stats = pair.resize(150)
    assert stats.n == 120 and stats.bars_needed == 31 and stats.beta is None
    for t in range(120, 200):
        stats = pair.update(a[t], b[t])
    assert stats.n == 150 and stats.bars_needed == 0
    assert stats.beta == pytest.approx(expected(a, b, 199, 150)["beta"], rel=1e-9)


def test_resize_keeps_only_max_window_bars() -> None:
    a, b = synthetic_pair(100, seed=44)
    pair = PairAnalytics(10, max_window=20)
    _run(pair, a, b)
    assert pair.resize(30).n == 21


def test_resize_to_the_same_window_changes_nothing() -> None:
    a, b = synthetic_pair(100, seed=45)
    pair = PairAnalytics(30)
    last = _run(pair, a, b)
    assert pair.resize(30) == last
    with pytest.raises(ValueError):
        pair.resize(2)


def test_reset_forgets_everything() -> None:
    a, b = synthetic_pair(300, seed=46)
    pair = PairAnalytics(50, hedge="kalman")
    _run(pair, a[:150], b[:150])
    pair.reset()
    assert pair.window_data() is None
    after_reset = _run(pair, a[150:], b[150:])
    fresh = _run(PairAnalytics(50, hedge="kalman"), a[150:], b[150:])
    assert msgspec.structs.asdict(after_reset) == msgspec.structs.asdict(fresh)
    assert pair.resize(100).n == 100  # only closes fed since the reset are kept
    assert pair.resize(200).n == 150


def test_window_data_names_its_last_bar_across_resizes() -> None:
    a, b = synthetic_pair(400, seed=47)
    pair = PairAnalytics(100)
    _run(pair, a, b)
    pair.resize(50)
    data = pair.window_data()
    assert data is not None and data.bars == 400 and len(data.y) == 50
    pair.update(a[-1], b[-1])
    assert pair.window_data().bars == 401  # type: ignore[union-attr]
    pair.reset()
    pair.update(a[0], b[0])
    assert pair.window_data() is None
