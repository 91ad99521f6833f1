"""Every network fault Binance and the path to it can produce, end to end over loopback.

Each test runs the exchange with one fault, the real client and pipeline, and asserts what the
user would see: the feed recovers within its backoff bound, the headless ``feed`` counters say
what happened, the bars after recovery are right, and every published trade is in a bar or
counted.
"""

from __future__ import annotations

import logging
import random
import time

import pytest

from pairs_tui.exchange.faults import Faults
from pairs_tui.feed.backoff import Backoff

from .conftest import FEED_DEFAULTS, PAIR, Run, RunFactory, assert_bars_equal, reference_bars

BOTH = "/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"
RECOVERY_SLACK_S = 1.5
"""Connect, handshake and first frame on a loaded two-core machine, on top of the backoff."""


def handshakes(run: Run) -> list[str]:
    return [r for r in run.exchange.requests if not r.startswith("/fapi/")]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def feed_line_of_last_bar(run: Run, bars: int) -> dict[str, object]:
    """The headless ``feed`` object printed with the last bar that has published trades."""
    feed = run.lines()[bars - 1]["feed"]
    assert isinstance(feed, dict)
    return feed


def assert_exactly_once(run: Run) -> None:
    """Every published trade was delivered once: none missing, none twice."""
    delivered = sorted((t.symbol, t.id) for t in run.delivered)
    assert delivered == sorted((t.symbol, t.id) for t in run.published())


async def test_abrupt_drop_recovers_within_the_backoff_and_backfills_exactly(
    start_run: RunFactory,
) -> None:
    run = await start_run()
    for n in (1, 2):

        def flowing(n: int = n) -> bool:
            return len(run.delivered) >= 500 * n

        await run.wait_for(flowing, "trades to flow")
        before = {s: max(t.id for t in run.delivered if t.symbol == s) for s in PAIR}
        dropped_at = time.monotonic()
        assert run.exchange.drop_connections() == 1  # a TCP reset: no close frame

        def reconnected(n: int = n) -> bool:
            return run.feed.status.reconnects == n and run.feed.status.state == "live"

        await run.wait_for(reconnected, "the feed to reconnect")
        assert time.monotonic() - dropped_at <= FEED_DEFAULTS["backoff_max_s"] + RECOVERY_SLACK_S
        # Resubscribed: both legs flow again on the new connection.

        def both_legs(before: dict[str, int] = before) -> bool:
            return all(
                any(t.symbol == s and t.id > before[s] for t in run.delivered[-200:]) for s in PAIR
            )

        await run.wait_for(both_legs, "both legs after the reconnect")
    account = await run.settle()
    assert (account.gaps, account.late) == (0, 0) and account.backfilled > 0
    assert_exactly_once(run)
    expected = reference_bars(run.published())
    assert_bars_equal(run.bars, expected)
    assert set(handshakes(run)) == {BOTH}
    feed = feed_line_of_last_bar(run, len(expected))
    assert (feed["reconnects"], feed["gaps"], feed["late"], feed["malformed"]) == (2, 0, 0, 0)


async def test_refused_handshakes_wait_out_each_drawn_delay_then_recover(
    start_run: RunFactory,
) -> None:
    faults = Faults()
    run = await start_run(faults=faults, speed=5)  # the tape outlasts the outage
    await run.wait_for(lambda: len(run.delivered) >= 300, "trades to flow")
    faults.refuse_handshakes = 4  # HTTP 503, as Binance answers during maintenance
    dropped_at = time.monotonic()
    run.exchange.drop_connections()
    await run.wait_for(
        lambda: run.status.state == "reconnecting" and run.status.attempt >= 3,
        "the reconnect attempts to show",
    )
    status = run.status
    # The cause in words; the attempt and the next try are fields the screen counts down from
    # (a countdown frozen into the words would disagree with it).
    assert status.detail == "HTTP 503" and status.attempt >= 3
    assert status.next_try_at is not None
    await run.wait_for(lambda: run.status.state == "live", "the feed to recover")
    elapsed = time.monotonic() - dropped_at
    # The same seed draws the same delays: 4 refusals and the success, none reset between.
    backoff = Backoff(
        FEED_DEFAULTS["backoff_initial_s"], FEED_DEFAULTS["backoff_max_s"], random.Random(5)
    )
    waited = sum(backoff.next_delay() for _ in range(5))
    assert waited <= elapsed <= waited + RECOVERY_SLACK_S
    assert handshakes(run).count(BOTH) == 6  # the first, 4 refused, the one that worked
    account = await run.settle()
    assert (account.gaps, account.late, run.status.reconnects) == (0, 0, 1)
    assert_exactly_once(run)
    assert_bars_equal(run.bars, reference_bars(run.published()))


async def test_lifetime_close_reconnects_without_loss(
    start_run: RunFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pairs_tui.feed")
    faults = Faults(close_after_s=0.3)  # Binance's 24-hour cut, scaled down
    run = await start_run(faults=faults)
    await run.wait_for(lambda: run.feed.status.reconnects >= 2, "two lifetime closes")
    faults.close_after_s = None
    account = await run.settle()
    assert (account.gaps, account.late) == (0, 0)
    assert_exactly_once(run)
    assert_bars_equal(run.bars, reference_bars(run.published()))
    assert any("1000 lifetime reached" in m and "24-hour" in m for m in warnings(caplog))


async def test_rate_limit_close_backs_off_without_a_storm_and_loses_nothing(
    start_run: RunFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pairs_tui.feed")
    faults = Faults(rate_limit_after_messages=150)  # 1008 "Too many requests" on every socket
    run = await start_run(faults=faults, speed=10)
    await run.wait_for(lambda: run.feed.status.reconnects >= 4, "four 1008 closes")
    faults.rate_limit_after_messages = None
    account = await run.settle()
    assert (account.gaps, account.late) == (0, 0)
    assert_exactly_once(run)
    assert_bars_equal(run.bars, reference_bars(run.published()))
    closes = [m for m in warnings(caplog) if "1008 Too many requests" in m]
    assert len(closes) >= 4 and "too many messages" in closes[0]
    # Data flowed on every connection, yet the backoff kept growing: none stayed up long enough.
    attempts = [int(m.rsplit("attempt ", 1)[1].rstrip(")")) for m in closes]
    assert attempts == list(range(1, len(attempts) + 1))
    # The client itself never came near Binance's limit: it sends no control messages.
    assert run.exchange.max_incoming_per_s <= 1


async def test_server_that_sends_one_frame_and_drops_causes_no_reconnect_storm(
    start_run: RunFactory,
) -> None:
    faults = Faults(drop_after_messages=1)
    run = await start_run(faults=faults)
    await run.wait_for(lambda: run.status.attempt >= 4, "the backoff to grow")
    started, count = time.monotonic(), len(handshakes(run))
    await run.wait_for(lambda: time.monotonic() - started >= 1.5, "1.5 s of faults", 5)
    # Reset on every first frame, the delays stay under 0.05 s: about 50 handshakes in 1.5 s.
    # Growing to the 0.4 s cap, fewer than 10 (mean delay 0.2 s).
    assert len(handshakes(run)) - count <= 12
    faults.drop_after_messages = None
    account = await run.settle()
    assert (account.gaps, account.late) == (0, 0)
    assert_exactly_once(run)


async def test_stalled_stream_is_named_reconnected_and_backfilled(
    start_run: RunFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pairs_tui.feed")
    faults = Faults()
    run = await start_run(faults=faults, feed={"watchdog_s": 0.6})
    await run.wait_for(lambda: len(run.delivered) >= 300, "both legs to flow")
    faults.stall_symbol = "ETHUSDT"  # BTCUSDT keeps flowing on the same socket
    await run.wait_for(lambda: run.status.state == "stale", "the stale state")
    assert "ETHUSDT" in run.status.detail and "BTCUSDT" not in run.status.detail
    await run.wait_for(lambda: run.feed.status.reconnects >= 1, "the watchdog's reconnect")
    faults.stall_symbol = None
    account = await run.settle()
    assert account.gaps == 0 and account.backfilled > 0
    assert_exactly_once(run)
    # Bars made final by the clock while ETHUSDT was silent lack its trades: they are the
    # late ones, and every other bar is exact.
    assert_bars_equal(run.bars, reference_bars(run.published()), missing=account.late)
    (tripped,) = [m for m in warnings(caplog) if "sent nothing" in m]
    assert tripped.startswith("ethusdt@aggTrade sent nothing for 0.6 s while btcusdt@aggTrade")
    assert "stalled server stream" in tripped


async def test_silent_acknowledged_stream_is_named_with_its_likely_cause(
    start_run: RunFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pairs_tui.feed")
    faults = Faults(silent_symbol="ETHUSDT")  # acknowledged, listed, never sent
    run = await start_run(faults=faults, feed={"watchdog_s": 0.5})
    await run.wait_for(lambda: run.status.state == "stale", "the stale state")
    assert "ETHUSDT" in run.status.detail
    await run.wait_for(lambda: run.feed.status.reconnects >= 2, "two silent connections")
    faults.silent_symbol = None
    account = await run.settle()
    assert (account.gaps, account.late) == (0, 0)
    assert_exactly_once(run)
    assert_bars_equal(run.bars, reference_bars(run.published()))
    first, second = [m for m in warnings(caplog) if "sent nothing" in m][:2]
    assert first.startswith("ethusdt@aggTrade sent nothing for 0.5 s while btcusdt@aggTrade")
    for cause in ("acknowledged but never serves", "retired route", "upper-case"):
        assert cause in first
    assert "silent on 2 connections in a row" in second


async def test_frozen_connection_is_named_and_recovered(
    start_run: RunFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pairs_tui.feed")
    faults = Faults()
    run = await start_run(faults=faults, feed={"watchdog_s": 0.6})
    await run.wait_for(lambda: len(run.delivered) >= 300, "both legs to flow")
    faults.freeze = True  # the socket stays open and answers pings; nothing arrives
    await run.wait_for(lambda: run.feed.status.reconnects >= 1, "the watchdog's reconnect")
    faults.freeze = False
    account = await run.settle()
    assert account.gaps == 0
    assert_exactly_once(run)
    assert_bars_equal(run.bars, reference_bars(run.published()), missing=account.late)
    (tripped,) = [m for m in warnings(caplog) if "sent nothing" in m]
    assert tripped.startswith("btcusdt@aggTrade and ethusdt@aggTrade sent nothing")
    assert "whole connection is silent" in tripped


async def test_garbage_and_truncated_frames_are_counted_and_change_nothing(
    start_run: RunFactory,
) -> None:
    run = await start_run(faults=Faults(garbage_every=9))
    account = await run.settle()
    published = account.published
    # One bad frame before every 9th message, of six kinds in turn: truncated, not JSON,
    # keys missing, NaN price, negative quantity, trade time in microseconds.
    assert run.status.malformed == published // 9
    assert (account.gaps, account.late, run.status.reconnects) == (0, 0, 0)
    assert_exactly_once(run)
    expected = reference_bars(run.published())
    assert_bars_equal(run.bars, expected)
    feed = feed_line_of_last_bar(run, len(expected))
    assert feed["malformed"] == run.status.malformed and feed["gaps"] == 0


async def test_server_pings_are_answered_and_the_connection_survives(
    start_run: RunFactory,
) -> None:
    # Pings every 50 ms, dropped after 0.5 s unanswered (Binance: 3 minutes and 10 minutes).
    run = await start_run(exchange={"ping_interval_s": 0.05, "ping_timeout_s": 0.5})
    account = await run.settle()
    assert run.exchange.pongs >= 10
    assert (run.status.reconnects, account.gaps, account.late) == (0, 0, 0)
    assert run.exchange.max_incoming_per_s <= 1  # solicited pongs do not count, and it sent
    assert_bars_equal(run.bars, reference_bars(run.published()))


async def test_id_gaps_are_backfilled_into_the_right_bars(start_run: RunFactory) -> None:
    run = await start_run(faults=Faults(skip_every=11))  # on the socket only; REST has them
    account = await run.settle()
    skipped = [t for t in run.published() if t.id % 11 == 0]
    assert account.backfilled == len(skipped) and (account.gaps, account.late) == (0, 0)
    assert_exactly_once(run)
    expected = reference_bars(run.published())
    assert_bars_equal(run.bars, expected)
    assert feed_line_of_last_bar(run, len(expected))["gaps"] == 0


async def test_gaps_rest_cannot_fill_are_counted_and_absent_from_the_bars(
    start_run: RunFactory,
) -> None:
    faults = Faults(skip_every=13, rest_unavailable=True)
    run = await start_run(faults=faults)
    # Skipping ends before the tape does, so that a later id reveals every gap.
    await run.wait_for(lambda: len(run.delivered) >= 1_000, "half the tape")
    faults.skip_every = None
    account = await run.settle()
    published = run.published()
    delivered = {(t.symbol, t.id) for t in run.delivered}
    lost = [t for t in published if (t.symbol, t.id) not in delivered]
    assert lost and all(t.id % 13 == 0 for t in lost)
    assert (account.gaps, account.late, account.backfilled) == (len(lost), 0, 0)
    expected = reference_bars([t for t in published if (t.symbol, t.id) in delivered])
    assert_bars_equal(run.bars, expected)
    lines = run.lines()
    gaps = [line["feed"]["gaps"] for line in lines]
    assert gaps == sorted(gaps) and gaps[len(expected) - 1] == len(lost)
