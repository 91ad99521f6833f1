"""How figures read on screen: unknown values are a dash, minus signs are real."""

from __future__ import annotations

import math

from pairs_tui.ui import formatting as f


def test_unknown_values_are_a_dash() -> None:
    for text in (
        f.price(None),
        f.number(math.nan),
        f.p_value(None),
        f.latency(None),
        f.change(None, 1.0),
        f.duration(math.inf),
    ):
        assert text == f.DASH


def test_prices_carry_decimals_by_size() -> None:
    assert f.price(61812.4) == "61,812.40"
    assert f.price(2.5) == "2.5000"
    assert f.price(0.012345) == "0.012345"


def test_signed_numbers_use_a_real_minus() -> None:
    assert f.number(-1.5, 2, signed=True) == f"{f.MINUS}1.50"
    assert f.number(1.5, 2, signed=True) == "+1.50"


def test_p_values_and_durations() -> None:
    assert f.p_value(0.0004) == "<0.001"
    assert f.p_value(0.0341) == "0.034"
    assert f.duration(41) == "41 s"
    assert f.duration(600) == "10.0 min"


def test_clock_is_utc() -> None:
    assert f.clock(1723161256322) == "23:54:16"
    assert f.clock(1723161256322, seconds=False) == "23:54"
