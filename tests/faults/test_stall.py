"""A stalled stream costs no late trades: the quiet leg is probed over REST long before the
watchdog, its bars wait from that moment, and it is fed over REST until it delivers again."""

from __future__ import annotations

import logging
import time

import pytest

from pairs_tui.exchange.faults import Faults
from pairs_tui.exchange.simulation import simulated_tape

from .conftest import PAIR, RunFactory, assert_bars_equal, reference_bars

LATE_SHARE = 0.002
"""The most late trades a stall may cost, as a share of the trades published."""


async def test_a_stall_costs_at_most_two_late_trades_in_a_thousand(
    start_run: RunFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pairs_tui.feed")
    # 20 s of exchange time at twice real time; ETHUSDT prints 25 aggregate trades a second.
    tape = simulated_tape(PAIR, duration_s=20.0, rate_per_s=(40.0, 25.0), seed=29)
    faults = Faults()
    run = await start_run(tape=tape, speed=2.0, faults=faults, feed={"watchdog_s": 1.0})
    await run.wait_for(lambda: len(run.delivered) >= 300, "both legs to flow")
    # Three seconds of wall time (six of exchange time, three watchdogs) with ETHUSDT stalled on
    # every socket while BTCUSDT flows and moves the exchange clock: time itself is the fault.
    faults.stall_symbol = "ETHUSDT"
    until = time.monotonic() + 3.0
    await run.wait_for(lambda: time.monotonic() >= until, "the stall to last", 5.0)
    faults.stall_symbol = None
    account = await run.settle()
    assert account.closed  # published = in bars + gaps + late, delivered = in bars + late
    assert account.gaps == 0 and account.backfilled > 0
    assert account.late <= LATE_SHARE * account.published, account
    assert sorted((t.symbol, t.id) for t in run.delivered) == sorted(
        (t.symbol, t.id) for t in run.published()
    )
    assert_bars_equal(run.bars, reference_bars(run.published()), missing=account.late)
    # Found by a probe, not by the watchdog's silence alone.
    assert run.feed.backfill.stalls >= 1
    assert any("ethusdt@aggTrade is stalled" in r.getMessage() for r in caplog.records)
