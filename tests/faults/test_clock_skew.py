"""A skewed exchange clock: bars are final on the exchange's time, never early, never late.

Binance runs on NTP; a desktop clock is often a second or more off it (the shipped recordings'
receive clock is 1.3 s behind the exchange). The client measures the offset with
``GET /fapi/v1/time``. A bar finalised on the local clock would be final 1.3 s early with the
exchange behind (its last trades then counted late) or 1.3 s late with it ahead.
"""

from __future__ import annotations

import pytest

from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.snapshot import ClosedBar

from .conftest import PAIR, RunFactory, assert_bars_equal, reference_bars

GRACE_MS = 250
TICK_MS = 100
"""The pipeline finalises on the clock every 100 ms."""


@pytest.mark.parametrize("skew_ms", [1_300.0, -1_300.0], ids=["exchange-ahead", "exchange-behind"])
async def test_bars_are_final_on_the_exchange_clock_despite_skew(
    start_run: RunFactory, skew_ms: float
) -> None:
    tape = simulated_tape(PAIR, duration_s=3.0, rate_per_s=(40.0, 25.0), seed=29)
    run = await start_run(tape=tape, speed=1.0, exchange={"rebase": True, "clock_skew_ms": skew_ms})
    lags: list[float] = []

    def on_bar(closed: ClosedBar) -> None:
        # On the exchange's own clock, how long after its end the bar became final.
        lags.append(run.exchange.now_ms() - (closed.bar.ts + 1_000))

    run.pipeline.add_bar_listener(on_bar)
    account = await run.settle()
    offset = run.feed.clock.offset_ms
    assert offset is not None and offset == pytest.approx(skew_ms, abs=100)
    assert (account.late, account.gaps) == (0, 0)
    expected = reference_bars(run.published())
    assert_bars_equal(run.bars, expected)
    # Never before the bar's end; at the latest a grace and a clock tick after it.
    assert min(lags[: len(expected)]) >= 0
    assert max(lags[: len(expected)]) <= GRACE_MS + TICK_MS + 150
    latency = run.status.latency_ms
    assert latency is not None and 0 <= latency < 200  # exchange to client, not ±1.3 s
    for line in run.lines()[: len(expected)]:
        assert line["feed"]["late"] == 0
