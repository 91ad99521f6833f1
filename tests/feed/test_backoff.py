"""Reconnect backoff: capped, fully jittered, and reset only by a connection that delivered data."""

from __future__ import annotations

import random

import pytest

from pairs_tui.exchange.faults import Faults
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.feed.backoff import Backoff

from .conftest import FeedStarter, Recorder


def test_delays_are_bounded_by_a_doubling_capped_ceiling() -> None:
    backoff = Backoff(0.5, 30.0, random.Random(1))
    ceilings = []
    for _ in range(12):
        ceiling = backoff.ceiling()
        delay = backoff.next_delay()
        assert 0.0 <= delay <= ceiling
        ceilings.append(ceiling)
    assert ceilings[:7] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert set(ceilings[6:]) == {30.0}


def test_jitter_is_full_and_seeded() -> None:
    draws = [Backoff(1.0, 1.0, random.Random(7)).next_delay() for _ in range(3)]
    assert len(set(draws)) == 1  # same seed, same delay
    backoff = Backoff(1.0, 1.0, random.Random(3))
    delays = [backoff.next_delay() for _ in range(2000)]
    # Uniform over [0, 1]: both ends of the range are used, the mean is near 0.5.
    assert min(delays) < 0.05 and max(delays) > 0.95
    assert sum(delays) / len(delays) == pytest.approx(0.5, abs=0.03)


def test_reset_starts_over() -> None:
    backoff = Backoff(0.5, 30.0, random.Random(1))
    for _ in range(5):
        backoff.next_delay()
    assert backoff.attempt == 5
    backoff.reset()
    assert backoff.attempt == 0 and backoff.ceiling() == 0.5


async def test_server_that_accepts_and_drops_makes_attempts_grow(
    sim_tape: TradeTape, run_feed: FeedStarter, recorder: Recorder
) -> None:
    faults = Faults(drop_after_messages=0)  # accept the handshake, then reset the socket
    async with EmbeddedExchange(sim_tape, speed=20, faults=faults) as ex:
        feed = run_feed(ex, recorder, backoff_initial_s=0.01, backoff_max_s=0.05)
        await ex.wait_until(lambda: sum(r.startswith("/market/") for r in ex.requests) >= 4)
        status = feed.status
        assert status.state in ("connecting", "reconnecting")
        assert status.attempt >= 3  # never reset: no connection delivered data
        assert recorder.trades == []
        faults.drop_after_messages = None
        await recorder.wait_for_count(1)
        assert feed.status.attempt == 0  # reset by the first data
        assert feed.status.state == "live"
