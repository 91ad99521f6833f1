"""The exchange clock: the larger of the measured offset and the event-time bound."""

from __future__ import annotations

import pytest

from pairs_tui.feed.clock import ExchangeClock


class FakeTime:
    """A wall clock and a monotonic clock that the test moves by hand."""

    def __init__(self, wall: float = 1_000.0, mono: float = 50.0) -> None:
        self.wall = wall
        self.mono = mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def make_clock(t: FakeTime) -> ExchangeClock:
    return ExchangeClock(wall=lambda: t.wall, monotonic=lambda: t.mono)


def test_clock_is_unknown_before_any_measurement() -> None:
    assert make_clock(FakeTime()).now_ms() is None


def test_offset_uses_the_middle_of_the_request() -> None:
    t = FakeTime()
    clock = make_clock(t)
    # Sent at 1000.0 s, answered at 1000.2 s: the server said 1_000_600 ms at the midpoint.
    offset = clock.set_offset(1000.0, 1_000_600.0, 1000.2)
    assert offset == pytest.approx(500.0)
    t.advance(1.0)
    assert clock.now_ms() == pytest.approx((1001.0 * 1000.0) + 500.0)


def test_event_time_bound_follows_an_exchange_faster_than_real_time() -> None:
    t = FakeTime()
    clock = make_clock(t)
    clock.set_offset(1000.0, 1_000_000.0, 1000.0)  # offset 0 measured once
    # The exchange replays ten times faster: after 1 s of local time, E is 10 s ahead.
    t.advance(1.0)
    clock.observe(1_010_000, t.mono)
    assert clock.now_ms() == pytest.approx(1_010_000.0)
    t.advance(0.5)
    assert clock.now_ms() == pytest.approx(1_010_500.0)  # E + elapsed since that frame


def test_offset_wins_when_frames_are_old() -> None:
    t = FakeTime()
    clock = make_clock(t)
    clock.set_offset(1000.0, 1_002_000.0, 1000.0)  # the exchange is 2 s ahead of us
    clock.observe(1_000_500, t.mono)  # a frame pushed 1.5 s ago by that clock
    assert clock.now_ms() == pytest.approx(1_002_000.0)


def test_event_bound_alone_without_rest() -> None:
    t = FakeTime()
    clock = make_clock(t)
    clock.observe(1_723_161_256_322, t.mono)
    t.advance(0.25)
    assert clock.now_ms() == pytest.approx(1_723_161_256_572.0)


def test_best_event_bound_is_kept_over_later_but_slower_frames() -> None:
    t = FakeTime()
    clock = make_clock(t)
    clock.observe(10_000, t.mono)
    t.advance(1.0)
    clock.observe(10_200, t.mono)  # pushed earlier relative to receive: a weaker bound
    assert clock.now_ms() == pytest.approx(11_000.0)


def test_clock_at_a_past_receive_time_gives_latency() -> None:
    t = FakeTime()
    clock = make_clock(t)
    received = t.mono
    clock.observe(5_150, received)  # E = 5150, T = 5000 → latency >= 150 ms
    t.advance(3.0)
    at = clock.at(received)
    assert at is not None and at - 5_000 == pytest.approx(150.0)
