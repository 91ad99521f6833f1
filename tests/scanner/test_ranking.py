"""The ranking finds what was planted, and finds nothing more often than chance."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom  # type: ignore[import-untyped]

from pairs_tui.scanner import scan
from scanner import reference


def test_the_planted_cointegrated_pair_ranks_first() -> None:
    rng = np.random.default_rng(11)
    n = 1_440
    walks = [reference.walk(rng, n, 10.0 + i) for i in range(12)]
    planted = 0.7 * (walks[4] - walks[4][0]) + math.log(3.0) + reference.ar1(rng, n, 0.95, 5e-4)
    names = [f"W{i}USDT" for i in range(12)] + ["PLANTUSDT"]
    result = scan(reference.matrix(np.column_stack([*walks, planted]), names))
    best = result.rows[0]
    assert {best.symbol_a, best.symbol_b} == {"W4USDT", "PLANTUSDT"}
    assert best.coint_p < 1e-6 and best.rank == 1
    assert all(r.coint_p > best.coint_p for r in result.rows[1:])
    assert len(result.rows) == 78 == result.pairs


def test_independent_walks_are_cointegrated_no_more_often_than_chance() -> None:
    """100 independent pairs: each ordering's p < 0.05 is a false positive of a 5% test (the
    row's p is the lower of two orderings, a 10% test at most). Fail only if the count is
    beyond the binomial's 99.9% quantile."""
    n, trials = 500, 100
    per_ordering = reported = 0
    for seed in range(trials):
        rng = np.random.default_rng(1_000 + seed)
        logs = np.column_stack([reference.walk(rng, n, 100.0), reference.walk(rng, n, 20.0)])
        r = scan(reference.matrix(logs, ["AUSDT", "BUSDT"])).rows[0]
        p_ab = r.coint_p if r.symbol_a == "AUSDT" else r.coint_p_reverse
        per_ordering += p_ab < 0.05
        reported += r.coint_p < 0.05
    assert per_ordering <= binom.ppf(0.999, trials, 0.05)
    assert reported <= binom.ppf(0.999, trials, 0.10)
    # And the test is not dead: some false positives do happen at this many trials.
    assert reported >= 1


def test_each_pair_is_reported_in_its_better_ordering() -> None:
    """``x`` a noisy walk, ``y`` = ``x`` + a tight AR spread: the two orderings differ; the row
    is the one statsmodels gives the lower p, and the other's p is ``coint_p_reverse``."""
    rng = np.random.default_rng(5)
    n = 400
    x = reference.walk(rng, n, 50.0, 2e-3)
    y = 2.0 * (x - x[0]) + math.log(7.0) + reference.ar1(rng, n, 0.6, 3e-3)
    for names in (["XUSDT", "YUSDT"], ["YUSDT", "XUSDT"]):
        logs = np.column_stack([x, y] if names[0] == "XUSDT" else [y, x])
        r = scan(reference.matrix(logs, names)).rows[0]
        fwd = reference.ordering(y, x)["coint_p"]
        rev = reference.ordering(x, y)["coint_p"]
        better, worse = ("YUSDT", "XUSDT") if fwd < rev else ("XUSDT", "YUSDT")
        assert fwd != rev
        assert (r.symbol_a, r.symbol_b) == (better, worse)
        assert r.coint_p == min(fwd, rev) or abs(r.coint_p - min(fwd, rev)) < 1e-9
        assert abs(r.coint_p_reverse - max(fwd, rev)) < 1e-9


def test_pairs_with_equal_p_values_rank_by_half_life() -> None:
    """Strongly mean-reverting spreads whose statistics are past MacKinnon's table (p = 0
    exactly): among them, the shorter half-life ranks first."""
    rng = np.random.default_rng(8)
    n = 1_440
    base = reference.walk(rng, n, 100.0)
    spreads = [reference.ar1(rng, n, phi, 1e-3) for phi in (0.45, 0.3, 0.38)]
    legs = [base] + [base + s for s in spreads]
    names = ["BASEUSDT", "SLOWUSDT", "FASTUSDT", "MIDUSDT"]
    result = scan(reference.matrix(np.column_stack(legs), names))
    with_base = [r for r in result.rows if "BASEUSDT" in (r.symbol_a, r.symbol_b)]
    assert all(r.coint_p == 0.0 for r in with_base)
    others = [r.symbol_a if r.symbol_b == "BASEUSDT" else r.symbol_b for r in with_base]
    assert others == ["FASTUSDT", "MIDUSDT", "SLOWUSDT"]
    tied = [r for r in result.rows if r.coint_p == 0.0]
    assert [r.rank for r in tied] == list(range(1, len(tied) + 1))
    half_lives = [r.half_life for r in tied]
    assert None not in half_lives and half_lives == sorted(half_lives)  # type: ignore[type-var]
    assert len(set(half_lives)) == len(half_lives)
