"""``--screen K``: only the K best pairs by the lag-0 Dickey-Fuller statistic are tested; their
rows are the rows a full scan gives them; every other pair is left out and counted."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant
from statsmodels.tsa.stattools import adfuller

from pairs_tui.scanner import scan
from pairs_tui.scanner.plan import plan_scan, price_levels
from pairs_tui.scanner.screen import lag0_statistics
from scanner import reference


def planted(symbols: int = 12, n: int = 400) -> np.ndarray:
    """Independent walks, with S1 cointegrated on S0 and S5 on S4."""
    rng = np.random.default_rng(8)
    logs = np.column_stack([reference.walk(rng, n, 2.0 + i) for i in range(symbols)])
    logs[:, 1] = 0.7 * logs[:, 0] + reference.ar1(rng, n, 0.8, 2e-3)
    logs[:, 5] = 1.2 * logs[:, 4] + reference.ar1(rng, n, 0.85, 2e-3)
    return logs


def test_the_screen_statistic_is_statsmodels_lag0_dickey_fuller() -> None:
    prices = reference.matrix(planted(6), [f"S{i}USDT" for i in range(6)])
    levels, _ = price_levels(prices, "log")
    (tile,) = plan_scan(prices).tiles
    got = lag0_statistics(levels, tile)
    for (a, b), value in zip(tile.pairs.tolist(), got, strict=True):
        both = []
        for y, x in ((a, b), (b, a)):
            resid = OLS(levels[:, y], add_constant(levels[:, x])).fit().resid
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                both.append(adfuller(resid, maxlag=0, autolag=None, regression="n")[0])
        assert value == pytest.approx(min(both), rel=1e-8)


def test_screen_keeps_the_k_best_and_their_rows_are_exact() -> None:
    prices = reference.matrix(planted(), [f"S{i}USDT" for i in range(12)])
    full = scan(prices)
    screened = scan(prices, screen=5)
    assert len(screened.rows) == 5 and screened.pairs == full.pairs == 66
    out = [item for item in screened.left_out if item.reason == "screened out"]
    assert len(out) == 61 and "--screen 5" in out[0].detail
    kept = {frozenset((r.symbol_a, r.symbol_b)) for r in screened.rows}
    assert {frozenset({"S0USDT", "S1USDT"}), frozenset({"S4USDT", "S5USDT"})} <= kept
    by_pair = {(r.symbol_a, r.symbol_b): r for r in full.rows}
    for row in screened.rows:
        whole = by_pair[(row.symbol_a, row.symbol_b)]
        assert row.coint_lags == whole.coint_lags
        for field in ("coint_t", "coint_p", "coint_p_reverse", "beta", "alpha", "half_life"):
            assert getattr(row, field) == pytest.approx(getattr(whole, field), rel=1e-10), field
    assert [r.rank for r in screened.rows] == [1, 2, 3, 4, 5]


def test_a_screen_wider_than_the_universe_changes_nothing() -> None:
    prices = reference.matrix(planted(6), [f"S{i}USDT" for i in range(6)])
    assert scan(prices, screen=100) == scan(prices)
