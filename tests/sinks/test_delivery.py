"""The delivery service: every alert to every sink once, in order, never on the data path."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from pairs_tui.alerts import AlertBook
from pairs_tui.analytics import PairStats
from pairs_tui.config import AlertRule, Settings
from pairs_tui.feed.status import FeedStatus
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import Bar, PairBar, Timeframe
from pairs_tui.sinks.delivery import AlertDelivery, build_delivery
from pairs_tui.sinks.notice import AlertNotice, DeliveryFailed
from pairs_tui.sinks.settings import WebhookSinkSettings
from pairs_tui.sinks.webhook import WebhookSink, http_client
from pairs_tui.snapshot import ClosedBar
from sinks.receiver import Receiver, event
from sources import PAIR, ListSource, session_b_trades


class GatedSink:
    """Records what it is sent; each send waits until the gate is open."""

    def __init__(self, name: str = "gated", *, fail_with: Exception | None = None) -> None:
        self.name = name
        self.gate = asyncio.Event()
        self.got: list[AlertNotice] = []
        self.fail_with = fail_with
        self._changed = asyncio.Condition()

    async def send(self, notice: AlertNotice) -> None:
        await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        async with self._changed:
            self.got.append(notice)
            self._changed.notify_all()

    async def wait_for(self, count: int) -> None:
        """Wait until ``count`` alerts have arrived."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.got) >= count)


def closed_bar(ts: int, zscore: float, timeframe: Timeframe) -> ClosedBar:
    return ClosedBar(
        timeframe,
        PairBar(ts, Bar.flat(100.0), Bar.flat(50.0)),
        PairStats(zscore=zscore),
        (),
        FeedStatus(state="live"),
        PAIR,
        "log",
        "ols",
        300,
    )


async def stop(run: asyncio.Task[None]) -> None:
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)


async def test_each_sink_gets_every_alert_once_in_order_at_its_own_pace() -> None:
    slow, fast = GatedSink("slow"), GatedSink("fast")
    fast.gate.set()
    delivery = AlertDelivery([slow, fast])
    run = asyncio.create_task(delivery.run())
    for n in range(10):
        delivery.notify(event(n), PAIR, "1s")
    await fast.wait_for(10)
    assert len(fast.got) == 10 and slow.got == []  # the slow sink holds up nobody
    assert delivery.stats.sinks[0].queued == 10
    slow.gate.set()
    await delivery.flush()
    await stop(run)
    for sink in (slow, fast):
        assert [n.event.time for n in sink.got] == [event(n).time for n in range(10)]
        assert {(n.symbol_a, n.symbol_b, n.timeframe) for n in sink.got} == {(*PAIR, "1s")}
    assert [s.delivered for s in delivery.stats.sinks] == [10, 10]
    assert delivery.unsent_at_exit == 0


async def test_a_full_queue_drops_the_oldest_and_counts_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = GatedSink()
    delivery = AlertDelivery([sink], queue_limit=3)
    for n in range(10):  # queued before the service runs: nothing leaves yet
        delivery.notify(event(n), PAIR, "1s")
    assert (delivery.stats.sinks[0].queued, delivery.stats.sinks[0].dropped) == (3, 7)
    sink.gate.set()
    run = asyncio.create_task(delivery.run())
    await delivery.flush()
    await stop(run)
    assert [n.event.time for n in sink.got] == [event(n).time for n in (7, 8, 9)]
    stats = delivery.stats.sinks[0]
    assert (stats.delivered, stats.dropped, stats.undelivered) == (3, 7, 7)
    drops = [r for r in caplog.records if "dropped the oldest" in r.getMessage()]
    assert len(drops) == 7 and drops[-1].getMessage().endswith("(7 dropped so far)")


async def test_alerts_queued_from_another_thread_are_delivered() -> None:
    sink = GatedSink()
    sink.gate.set()
    delivery = AlertDelivery([sink])
    run = asyncio.create_task(delivery.run())
    delivery.notify(event(0), PAIR, None)
    await sink.wait_for(1)  # the service runs, on this loop

    def elsewhere() -> None:
        for n in range(1, 5):
            delivery.notify(event(n), PAIR, None)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    await asyncio.to_thread(thread.join)
    await delivery.flush()
    await stop(run)
    assert [n.event.time for n in sink.got] == [event(n).time for n in range(5)]


async def test_a_sink_that_raises_is_counted_as_failed_and_its_queue_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = GatedSink("broken", fail_with=RuntimeError("bug"))
    broken.gate.set()
    delivery = AlertDelivery([broken], retry_delays=(0.0,))
    run = asyncio.create_task(delivery.run())
    delivery.notify(event(0), PAIR, "1s")
    delivery.notify(event(1), PAIR, "1s")
    await delivery.flush()
    await stop(run)
    stats = delivery.stats.sinks[0]
    assert (stats.retried, stats.failed, stats.queued) == (2, 2, 0)
    assert any(r.exc_info for r in caplog.records)  # the sink's bug, with its traceback


async def test_at_exit_what_is_still_queued_gets_a_short_grace_then_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stuck = GatedSink("stuck")
    delivery = AlertDelivery([stuck], grace_s=0.05)
    run = asyncio.create_task(delivery.run())
    for n in range(4):
        delivery.notify(event(n), PAIR, "1s")
    await stop(run)  # before it even started, as after a replay shorter than one turn
    assert await delivery.close() == 4
    assert delivery.unsent_at_exit == 4
    assert delivery.stats.sinks[0].queued == 4  # the one in flight is still owed
    assert "alerts: 4 not delivered (stuck: 4)" in [r.getMessage() for r in caplog.records]


async def test_a_service_stopped_before_it_ran_still_delivers_its_queue() -> None:
    sink = GatedSink()
    sink.gate.set()
    delivery = AlertDelivery([sink])
    for n in range(3):
        delivery.notify(event(n), PAIR, "1s")
    assert await delivery.close() == 0
    assert [n.event.time for n in sink.got] == [event(n).time for n in range(3)]
    assert await delivery.close() == 0  # once closed, closed


async def test_a_failure_is_retried_after_the_backoff_then_given_up() -> None:
    sink = GatedSink(fail_with=DeliveryFailed("HTTP 502"))
    sink.gate.set()
    delivery = AlertDelivery([sink], retry_delays=(0.0, 0.0, 0.0))
    run = asyncio.create_task(delivery.run())
    delivery.notify(event(0), PAIR, "1s")
    await delivery.flush()
    await stop(run)
    stats = delivery.stats.sinks[0]
    assert (stats.delivered, stats.retried, stats.failed) == (0, 3, 1)


def test_the_alert_book_hands_every_event_on_with_the_pair_and_timeframe() -> None:
    heard: list[tuple[str, tuple[str, str], str | None]] = []
    book = AlertBook(
        [
            AlertRule(metric="zscore", threshold=2.0),
            AlertRule(metric="stale", threshold=5.0),
            AlertRule(metric="adf_p", op="<", threshold=0.05),
        ],
        pair=PAIR,
    )
    book.add_listener(lambda e, pair, tf: heard.append((e.metric, pair, tf)))
    book.on_bar(closed_bar(0, 2.5, timeframe="1m"))
    book.on_feed(FeedStatus(state="live"), 0.0, None)
    book.on_feed(FeedStatus(state="live"), 6_000.0, None)
    book.on_stationarity(0.01, 60_000)
    assert heard == [
        ("zscore", PAIR, "1m"),
        ("stale", PAIR, None),
        ("adf_p", PAIR, "1m"),
    ]


async def test_a_sink_that_never_answers_does_not_hold_up_a_single_bar() -> None:
    """Session B through the pipeline with a webhook that never answers: the same bars and
    alerts as without it, and the alerts pile up in its queue while bars keep closing."""
    rule = AlertRule(metric="zscore", op="abs>", threshold=1.5, hysteresis=0.5)

    async def run_session(delivery: AlertDelivery | None) -> tuple[list[ClosedBar], list[int]]:
        book = AlertBook([rule], pair=PAIR)
        source = ListSource(session_b_trades(), yield_every=200)
        pipeline = Pipeline(Settings(), source, PAIR, window=30, alerts=book)
        bars: list[ClosedBar] = []
        queued: list[int] = []
        pipeline.add_bar_listener(bars.append)
        if delivery is not None:
            book.add_listener(delivery.notify)
            pipeline.add_companion(delivery.run)
            pipeline.add_bar_listener(lambda _: queued.append(delivery.stats.queued))
        await pipeline.run()
        return bars, queued

    hung = Receiver(statuses=[None])
    await hung.start()
    try:
        delivery = AlertDelivery(
            [
                WebhookSink(
                    WebhookSinkSettings(url=hung.url, timeout_seconds=600),
                    http_client([hung.url]),
                )
            ],
            grace_s=0.05,
        )
        with_sink, queued = await run_session(delivery)
    finally:
        await hung.stop()
    without, _ = await run_session(None)

    fired = sum(len(bar.alerts) for bar in with_sink)
    assert fired >= 5
    assert [(b.bar.ts, b.alerts) for b in with_sink] == [(b.bar.ts, b.alerts) for b in without]
    assert queued == sorted(queued) and queued[-1] == fired  # it only grew
    assert len(hung.requests) <= 1  # the first alert went out and was never answered
    assert delivery.stats.sinks[0].delivered == 0
    assert delivery.unsent_at_exit == fired


def test_no_sinks_no_service() -> None:
    assert build_delivery([]) is None


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
