"""Kline rows into bars, and the pages (requests and weight) a range costs."""

from __future__ import annotations

from functools import cache
from itertools import pairwise

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from history.sample import D0, MIN, Row, row
from pairs_tui.history.klines import KlineError, kline_weight, klines_to_bars, pages

SEC = 1_000


@pytest.mark.parametrize(
    ("limit", "weight"),
    [(1, 1), (99, 1), (100, 2), (499, 2), (500, 5), (1000, 5), (1001, 10), (1500, 10)],
)
def test_weight_follows_binance_bands_by_limit(limit: int, weight: int) -> None:
    assert kline_weight(limit) == weight


@pytest.mark.parametrize("limit", [0, 1501])
def test_a_limit_binance_refuses_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="limit must be 1 to 1500"):
        kline_weight(limit)


def test_300_bars_are_one_request_of_weight_2() -> None:
    [page] = pages(D0, D0 + 300 * SEC, SEC)
    assert (page.start_ms, page.limit, page.weight) == (D0, 300, 2)
    assert page.last_open_ms == D0 + 299 * SEC


def test_1440_bars_are_three_requests_of_weight_6() -> None:
    cut = pages(D0, D0 + 1440 * MIN, MIN)
    assert [(p.start_ms, p.limit) for p in cut] == [
        (D0, 499),
        (D0 + 499 * MIN, 499),
        (D0 + 998 * MIN, 442),
    ]
    assert sum(p.weight for p in cut) == 6


def test_a_remainder_under_100_rows_costs_1() -> None:
    cut = pages(D0, D0 + 550 * MIN, MIN)
    assert [(p.limit, p.weight) for p in cut] == [(499, 2), (51, 1)]


def test_a_range_off_the_grid_asks_for_the_bars_that_start_in_it() -> None:
    [page] = pages(D0 + 1, D0 + 3 * MIN + 1, MIN)
    assert (page.start_ms, page.limit) == (D0 + MIN, 3)


@cache
def least(n: int) -> tuple[int, int]:
    """(least weight, fewest requests at that weight) to fetch ``n`` rows, by exhaustive search
    over the widest page of each weight band (a narrower page of a band costs as much)."""
    if n == 0:
        return (0, 0)
    options = []
    for widest in (99, 499, 1000, 1500):
        take = min(n, widest)
        weight, requests = least(n - take)
        options.append((weight + kline_weight(take), requests + 1))
    return min(options)


@given(n=st.integers(1, 6_000), offset=st.integers(0, 10**6))
def test_pages_tile_the_range_at_the_least_weight(n: int, offset: int) -> None:
    start = D0 + offset * MIN
    for k in range(0, n, 400):  # fill the cache bottom-up: no deep recursion
        least(k)
    cut = pages(start, start + n * MIN, MIN)

    assert cut[0].start_ms == start
    assert all(a.end_ms == b.start_ms for a, b in pairwise(cut))
    assert cut[-1].end_ms == start + n * MIN
    weight, requests = least(n)
    assert sum(p.weight for p in cut) == weight
    assert len(cut) <= requests + 2


def test_klines_become_one_bar_each_with_their_values() -> None:
    rows = [
        Row(D0, 10.5, 12.25, 9.75, 11.0, 0.123, 7),
        Row(D0 + MIN, 11.0, 11.0, 10.0, 10.0, 2.5, 2),
    ]
    got = klines_to_bars(rows, D0, D0 + 2 * MIN, MIN)
    assert got.rows() == [
        (D0, 10.5, 12.25, 9.75, 11.0, 0.123, 7),
        (D0 + MIN, 11.0, 11.0, 10.0, 10.0, 2.5, 2),
    ]


def test_an_interval_without_a_kline_repeats_the_previous_close_with_no_volume() -> None:
    got = klines_to_bars([row(D0, 10.0), row(D0 + 3 * MIN, 13.0)], D0, D0 + 4 * MIN, MIN)
    assert got.rows() == [
        (D0, 9.0, 12.0, 8.0, 10.0, 1.0, 3),
        (D0 + MIN, 10.0, 10.0, 10.0, 10.0, 0.0, 0),
        (D0 + 2 * MIN, 10.0, 10.0, 10.0, 10.0, 0.0, 0),
        (D0 + 3 * MIN, 12.0, 15.0, 11.0, 13.0, 1.0, 3),
    ]


def test_no_bar_before_the_first_kline() -> None:
    got = klines_to_bars([row(D0 + 2 * MIN, 10.0)], D0, D0 + 4 * MIN, MIN)
    assert got["ts"].to_list() == [D0 + 2 * MIN, D0 + 3 * MIN]
    assert got["volume"].to_list() == [1.0, 0.0]


def test_the_stored_close_before_the_range_fills_its_first_bars() -> None:
    got = klines_to_bars([row(D0 + 2 * MIN, 10.0)], D0, D0 + 3 * MIN, MIN, previous_close=7.5)
    assert got.select("ts", "open", "close", "trades").rows() == [
        (D0, 7.5, 7.5, 0),
        (D0 + MIN, 7.5, 7.5, 0),
        (D0 + 2 * MIN, 9.0, 10.0, 3),
    ]


def test_the_bars_after_the_last_kline_repeat_its_close_to_the_end_of_the_range() -> None:
    got = klines_to_bars([row(D0, 10.0)], D0, D0 + 3 * MIN, MIN)
    assert got["close"].to_list() == [10.0, 10.0, 10.0]
    assert got["trades"].to_list() == [3, 0, 0]


def test_a_kline_outside_the_range_is_not_a_bar() -> None:
    # The last row of a request reaching now is the open kline: the range ends before it.
    got = klines_to_bars([row(D0 - MIN, 1.0), row(D0, 2.0), row(D0 + MIN, 3.0)], D0, D0 + MIN, MIN)
    assert got["close"].to_list() == [2.0]


def test_no_kline_and_no_previous_close_is_no_bar() -> None:
    got = klines_to_bars([], D0, D0 + 5 * MIN, MIN)
    assert got.is_empty()
    assert got.columns == ["ts", "open", "high", "low", "close", "volume", "trades"]


def test_no_kline_after_a_stored_close_is_flat_bars() -> None:
    got = klines_to_bars([], D0, D0 + 2 * MIN, MIN, previous_close=4.0)
    assert got.rows() == [(D0, 4.0, 4.0, 4.0, 4.0, 0.0, 0), (D0 + MIN, 4.0, 4.0, 4.0, 4.0, 0.0, 0)]


def test_a_kline_off_the_grid_is_refused() -> None:
    with pytest.raises(KlineError, match=f"open time {D0 + 30_000} is not on the 60000 ms grid"):
        klines_to_bars([row(D0, 1.0), row(D0 + 30_000, 1.0)], D0, D0 + 2 * MIN, MIN)


def test_klines_out_of_order_or_repeated_are_refused() -> None:
    with pytest.raises(KlineError, match="out of order"):
        klines_to_bars([row(D0 + MIN, 1.0), row(D0, 1.0)], D0, D0 + 2 * MIN, MIN)
    with pytest.raises(KlineError, match="out of order"):
        klines_to_bars([row(D0, 1.0), row(D0, 1.0)], D0, D0 + 2 * MIN, MIN)


def test_bars_have_the_store_columns() -> None:
    got = klines_to_bars([row(D0, 1.0)], D0, D0 + MIN, MIN)
    assert got.schema == pl.Schema(
        {
            "ts": pl.Int64,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Float64,
            "trades": pl.Int64,
        }
    )
