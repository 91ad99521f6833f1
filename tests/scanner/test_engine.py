"""The local engine's plumbing: tiles cover every pair once, progress, small universes."""

from __future__ import annotations

import numpy as np
import pytest

from pairs_tui.scanner import scan
from pairs_tui.scanner.plan import assemble, plan_scan, price_levels, run_local
from scanner import reference


def universe(symbols: int, n: int = 200, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    walks = [reference.walk(rng, n, 1.0 + i) for i in range(symbols)]
    return np.column_stack(walks) if walks else np.empty((n, 0))


def test_tiles_hold_every_testable_pair_exactly_once() -> None:
    closes = np.exp(universe(11))
    closes[:50, 3] = np.nan  # a second common sample
    prices = reference.matrix(np.log(closes), [f"S{i}" for i in range(11)])
    plan = plan_scan(prices, block=4)
    pairs = [tuple(p) for tile in plan.tiles for p in tile.pairs.tolist()]
    assert sorted(pairs) == [(i, j) for i in range(11) for j in range(i + 1, 11)]
    assert len({(t.lo, t.hi) for t in plan.tiles}) == 2
    assert all(len(t.pairs) <= 16 for t in plan.tiles)


def test_the_tiling_does_not_change_the_rows() -> None:
    """Blocks of 4 symbols (6 tiles) or of 64 (one): the same rows, to rounding (the matrix
    products have other shapes)."""
    prices = reference.matrix(universe(11), [f"S{i}" for i in range(11)])
    whole = scan(prices)
    plan = plan_scan(prices, block=4)
    assert len(plan.tiles) == 6
    levels, logs = price_levels(prices, "log")
    results = run_local(levels, logs, plan.tiles)
    tiled = assemble(prices.symbols, prices.ts, prices.timeframe, "log", plan, results)
    assert [(r.symbol_a, r.symbol_b, r.coint_lags) for r in tiled.rows] == [
        (r.symbol_a, r.symbol_b, r.coint_lags) for r in whole.rows
    ]
    for a, b in zip(tiled.rows, whole.rows, strict=True):
        assert a.coint_t == pytest.approx(b.coint_t, rel=1e-12)
        assert a.beta == pytest.approx(b.beta, rel=1e-12)
        assert a.coint_p == pytest.approx(b.coint_p, rel=1e-10)


def test_progress_counts_pairs_up_to_the_total() -> None:
    prices = reference.matrix(universe(70), [f"S{i}" for i in range(70)])
    seen: list[tuple[int, int]] = []
    result = scan(prices, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) == 3  # 70 symbols in blocks of 64: tiles (0,0), (0,1), (1,1)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (result.pairs, result.pairs) == (2_415, 2_415)


@pytest.mark.parametrize("symbols", [0, 1])
def test_a_universe_without_pairs_gives_an_empty_scan(symbols: int) -> None:
    prices = reference.matrix(universe(symbols), [f"S{i}" for i in range(symbols)])
    result = scan(prices)
    assert (result.rows, result.left_out, result.pairs) == ([], [], 0)


def test_rows_serialise_in_the_contract_order() -> None:
    import msgspec

    prices = reference.matrix(universe(2), ["ETHUSDT", "BTCUSDT"])
    line = msgspec.json.decode(msgspec.json.encode(scan(prices).rows[0]))
    assert list(line) == [
        "rank",
        "symbol_a",
        "symbol_b",
        "timeframe",
        "bars",
        "start_ts",
        "end_ts",
        "price",
        "beta",
        "alpha",
        "r2",
        "coint_t",
        "coint_p",
        "coint_lags",
        "coint_p_reverse",
        "half_life",
        "corr",
        "resid_z",
        "resid_sd",
    ]
