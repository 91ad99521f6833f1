"""Pairs that cannot be tested are left out, counted and explained; bad input is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pairs_tui.scanner import PriceMatrix, scan
from scanner import reference


def universe(n: int = 300, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([reference.walk(rng, n, 10.0 * (i + 1)) for i in range(4)])


def test_a_flat_leg_leaves_out_its_pairs_and_says_which() -> None:
    logs = universe()
    logs[:, 2] = math.log(5.0)
    result = scan(reference.matrix(logs, ["AUSDT", "BUSDT", "FLATUSDT", "DUSDT"]))
    assert result.pairs == 6 and len(result.rows) == 3
    assert [(x.symbol_a, x.symbol_b, x.reason) for x in result.left_out] == [
        ("AUSDT", "FLATUSDT", "flat leg"),
        ("BUSDT", "FLATUSDT", "flat leg"),
        ("FLATUSDT", "DUSDT", "flat leg"),
    ]
    assert all(x.detail == "FLATUSDT is flat over the 300 common bars" for x in result.left_out)
    assert all("FLATUSDT" not in (r.symbol_a, r.symbol_b) for r in result.rows)


def test_a_leg_flat_only_where_both_legs_trade_is_left_out_for_that_pair() -> None:
    """C moves early on, then stops; D lists late, after C stopped: C is flat over the C-D
    sample only, so C-D is left out and C's other pairs are tested."""
    logs = universe()
    logs[150:, 2] = logs[149, 2]
    closes = np.exp(logs)
    closes[:150, 3] = np.nan
    prices = PriceMatrix(closes, ("A", "B", "C", "D"), reference.T0 + np.arange(300), "1m")
    result = scan(prices)
    assert [(x.symbol_a, x.symbol_b, x.reason, x.bars) for x in result.left_out] == [
        ("C", "D", "flat leg", 150)
    ]
    assert len(result.rows) == 5


def test_a_late_listing_is_tested_on_the_common_bars_only() -> None:
    logs = universe()
    closes = np.exp(logs)
    closes[:120, 1] = np.nan  # B lists at bar 120
    prices = PriceMatrix(closes, ("A", "B", "C", "D"), reference.T0 + 60_000 * np.arange(300), "1m")
    result = scan(prices)
    assert len(result.rows) == 6 and result.left_out == []
    for r in result.rows:
        late = "B" in (r.symbol_a, r.symbol_b)
        assert r.bars == (180 if late else 300)
        assert r.start_ts == reference.T0 + 60_000 * (120 if late else 0)
        assert r.end_ts == reference.T0 + 60_000 * 299
    r = next(r for r in result.rows if {r.symbol_a, r.symbol_b} == {"A", "B"})
    y = logs[120:, prices.symbols.index(r.symbol_a)]
    x = logs[120:, prices.symbols.index(r.symbol_b)]
    expected = reference.ordering(y, x)
    assert r.coint_lags == expected["coint_lags"]
    assert r.coint_t == pytest.approx(expected["coint_t"], rel=1e-8)


def test_too_few_common_bars_are_left_out_and_counted() -> None:
    closes = np.exp(universe())
    closes[:260, 0] = np.nan  # A: 40 bars
    closes[200:, 3] = np.nan  # D delisted after 200 bars: A and D never overlap
    prices = PriceMatrix(closes, ("A", "B", "C", "D"), reference.T0 + np.arange(300), "1m")
    result = scan(prices, min_bars=50)
    out = {(x.symbol_a, x.symbol_b): (x.reason, x.bars, x.detail) for x in result.left_out}
    assert out == {
        ("A", "B"): ("too few bars", 40, "40 common bars, fewer than 50"),
        ("A", "C"): ("too few bars", 40, "40 common bars, fewer than 50"),
        ("A", "D"): ("too few bars", 0, "0 common bars, fewer than 50"),
    }
    assert len(result.rows) == 3 and result.pairs == 6
    d_rows = [r for r in result.rows if "D" in (r.symbol_a, r.symbol_b)]
    assert all(r.bars == 200 for r in d_rows)
    # The same 40-bar pairs are tested when the minimum allows them.
    assert len(scan(prices, min_bars=40).rows) == 5


def test_collinear_legs_are_left_out_as_statsmodels_cannot_test_them() -> None:
    logs = universe()
    logs[:, 1] = 2.0 * logs[:, 0] + 1.0
    result = scan(reference.matrix(logs, ["A", "B", "C", "D"]))
    assert [(x.symbol_a, x.symbol_b, x.reason) for x in result.left_out] == [
        ("A", "B", "collinear")
    ]
    assert len(result.rows) == 5


def test_a_gap_inside_a_history_is_refused_naming_symbol_and_bar() -> None:
    closes = np.exp(universe())
    closes[100, 2] = np.nan
    with pytest.raises(ValueError, match=r"C has no close at 2024-08-09T00:00:00.100000Z"):
        PriceMatrix(closes, ("A", "B", "C", "D"), reference.T0 + np.arange(300), "1m")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.__setitem__((5, 1), -1.0), r"B: close -1.0 at .* is not a positive"),
        (lambda c: c.__setitem__((5, 1), np.inf), r"B: close inf at .* is not a positive"),
    ],
)
def test_bad_prices_are_refused(change: object, message: str) -> None:
    closes = np.exp(universe())
    change(closes)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        PriceMatrix(closes, ("A", "B", "C", "D"), reference.T0 + np.arange(300), "1m")


def test_bad_shapes_names_and_times_are_refused() -> None:
    closes = np.exp(universe())
    ts = reference.T0 + np.arange(300)
    with pytest.raises(ValueError, match="appears twice"):
        PriceMatrix(closes, ("A", "B", "A", "D"), ts, "1m")
    with pytest.raises(
        ValueError, match=r"shape \(300, 4\); expected \(bars, symbols\) = \(300, 3\)"
    ):
        PriceMatrix(closes, ("A", "B", "C"), ts, "1m")
    ts[7] = ts[6]
    with pytest.raises(ValueError, match="bar times must increase: bar 7"):
        PriceMatrix(closes, ("A", "B", "C", "D"), ts, "1m")


def test_bad_arguments_are_refused() -> None:
    prices = reference.matrix(universe(), ["A", "B", "C", "D"])
    with pytest.raises(ValueError, match="min_bars must be at least 30, not 20"):
        scan(prices, min_bars=20)
    with pytest.raises(ValueError, match="price must be 'log' or 'raw'"):
        scan(prices, price="ln")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="engine must be 'local' or 'dask'"):
        scan(prices, engine="spark")  # type: ignore[arg-type]
