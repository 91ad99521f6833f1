"""carry_bp_day by hand: 8 h and 4 h legs, log and raw prices, both signs."""

from __future__ import annotations

import math

from pairs_tui.carry import CarryBook, carry_bp_day
from pairs_tui.records import MarkPrice

EIGHT_HOURS_MS = 8 * 3_600_000


def test_log_prices_eight_hour_legs() -> None:
    # Long 1 USDT of A pays 1 bp three times a day (-3 bp); short 0.8 USDT of B receives
    # 0.8 x 0.5 bp x 3 (+1.2 bp): -1.8 bp a day.
    value = carry_bp_day(0.0001, 8.0, 0.00005, 8.0, 0.8)
    assert value is not None and math.isclose(value, -1.8, rel_tol=1e-12)


def test_a_four_hour_leg_pays_six_times_a_day() -> None:
    # A funds every 4 h: 6 x 1 bp = -6 bp; B every 8 h: 1.2 x (-2 bp) x 3 = -7.2 bp → -13.2.
    value = carry_bp_day(0.0001, 4.0, -0.0002, 8.0, 1.2)
    assert value is not None and math.isclose(value, -13.2, rel_tol=1e-12)


def test_raw_prices_scale_the_hedge_leg_by_its_price() -> None:
    # 1 unit of A at 60,000 against 20 units of B at 3,000: B's notional is 1.0x A's.
    value = carry_bp_day(
        0.0001, 8.0, 0.0001, 8.0, 20.0, price="raw", close_a=60_000.0, close_b=3_000.0
    )
    assert value is not None and math.isclose(value, 0.0, abs_tol=1e-12)
    assert carry_bp_day(0.0001, 8.0, 0.0001, 8.0, 20.0, price="raw") is None


def test_the_book_uses_each_leg_s_interval_and_the_earlier_funding_time() -> None:
    book = CarryBook(("AUSDT", "BUSDT"), {"AUSDT": 4.0})
    book.on_mark(MarkPrice("AUSDT", 10, 101.0, 100.0, 0.0001, 4 * 3_600_000))
    assert book.carry(0.8).carry_bp_day is None  # B has no rate yet
    book.on_mark(MarkPrice("BUSDT", 11, 49.0, 50.0, 0.0002, EIGHT_HOURS_MS))
    carry = book.carry(0.8)
    assert carry.interval_a_h == 4.0 and carry.interval_b_h == 8.0
    assert carry.carry_bp_day is not None
    assert math.isclose(carry.carry_bp_day, 1e4 * (-0.0001 * 6 + 0.8 * 0.0002 * 3))
    assert carry.next_funding_ts == 4 * 3_600_000
    assert carry.premium_a is not None and math.isclose(carry.premium_a, 0.01)
    assert carry.premium_b is not None and math.isclose(carry.premium_b, -0.02)


def test_an_older_update_does_not_replace_a_newer_one() -> None:
    book = CarryBook(("AUSDT", "BUSDT"))
    assert book.on_mark(MarkPrice("AUSDT", 20, 1.0, 1.0, 0.0003, 0))
    assert not book.on_mark(MarkPrice("AUSDT", 10, 1.0, 1.0, 0.0009, 0))
    assert not book.on_mark(MarkPrice("CUSDT", 30, 1.0, 1.0, 0.0009, 0))
    assert book.carry(1.0).funding_a == 0.0003
