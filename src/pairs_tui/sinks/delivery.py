"""Fired alerts → sinks, off the data path: a bounded queue and a task per sink, retries, counts.

The alert book calls :meth:`AlertDelivery.notify` for every event it emits. That only appends
to each sink's queue (O(1), never blocks, never awaits): a sink that hangs or fails cannot delay a
bar, the screen or the other sinks. Each sink drains its own queue, in order, in its own task.
A failed delivery is retried after 0.5 s, 1 s and 2 s, then logged and counted. A queue holds
at most :data:`QUEUE_LIMIT` alerts; past that the oldest is dropped, counted and logged, so a dead
sink cannot grow memory without bound. On exit the queues get :data:`GRACE_S` seconds to empty.

Sinks are named by kind, format and host only (``webhook telegram (api.telegram.org)``): a URL's
path and query often hold a token, and never reach a log line or the screen.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence

import msgspec

from pairs_tui.sinks import AlertsUndelivered
from pairs_tui.sinks.notice import AlertNotice, DeliveryFailed, Sink
from pairs_tui.sinks.settings import (
    CommandSinkSettings,
    DesktopSinkSettings,
    SinkSettings,
    WebhookSinkSettings,
)
from pairs_tui.snapshot import AlertEvent

log = logging.getLogger("pairs_tui.sinks")

RETRY_DELAYS = (0.5, 1.0, 2.0)
"""Waits before the retries of a failed delivery: three retries, then it counts as failed."""
QUEUE_LIMIT = 1000
"""Alerts waiting per sink; past this the oldest is dropped (and counted)."""
GRACE_S = 2.0
"""How long queued deliveries get to finish when the run ends."""

TerminalWrite = Callable[[str], None]
"""Writes an escape sequence to the user's terminal (the TUI's driver, or ``/dev/tty``)."""


class SinkStats(msgspec.Struct, frozen=True):
    """One sink's counters since the start."""

    sink: str
    """The sink's name."""
    delivered: int = 0
    retried: int = 0
    """Retry attempts (up to three per alert)."""
    failed: int = 0
    """Alerts given up after their retries."""
    dropped: int = 0
    """Alerts dropped unsent because the queue was full."""
    queued: int = 0
    """Alerts waiting, or being delivered, now."""

    @property
    def undelivered(self) -> int:
        """Alerts that will not arrive: failed or dropped."""
        return self.failed + self.dropped


class DeliveryStats(msgspec.Struct, frozen=True):
    """Every sink's counters, for the status line and the exit report."""

    sinks: tuple[SinkStats, ...] = ()

    @property
    def undelivered(self) -> int:
        """Alerts that will not arrive, over every sink."""
        return sum(s.undelivered for s in self.sinks)

    @property
    def queued(self) -> int:
        """Alerts waiting, over every sink."""
        return sum(s.queued for s in self.sinks)


class _Lane:
    """One sink, its queue and its counters; drained by one task."""

    def __init__(self, sink: Sink, name: str, limit: int, delays: tuple[float, ...]) -> None:
        self.sink = sink
        self.name = name
        self.queue: deque[AlertNotice] = deque()
        self.limit = limit
        self.delays = delays
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        """Set while nothing is queued or in flight."""
        self.idle.set()
        self.in_flight: AlertNotice | None = None
        self.delivered = self.retried = self.failed = self.dropped = 0

    def put(self, notice: AlertNotice) -> None:
        if len(self.queue) >= self.limit:
            self.queue.popleft()
            self.dropped += 1
            log.warning(
                "alerts to %s: queue full (%d waiting), dropped the oldest (%d dropped so far)",
                self.name,
                self.limit,
                self.dropped,
            )
        self.queue.append(notice)
        self.idle.clear()
        self.wake.set()

    def stats(self) -> SinkStats:
        queued = len(self.queue) + (self.in_flight is not None)
        return SinkStats(self.name, self.delivered, self.retried, self.failed, self.dropped, queued)

    async def drain(self) -> None:
        """Deliver what is queued, in order, until cancelled."""
        while True:
            if not self.queue:
                self.idle.set()
                self.wake.clear()
                await self.wake.wait()
                continue
            notice = self.in_flight = self.queue.popleft()
            try:
                await self._deliver(notice)
            except asyncio.CancelledError:
                self.queue.appendleft(notice)  # still owed: counted as queued at exit
                raise
            finally:
                self.in_flight = None

    async def _deliver(self, notice: AlertNotice) -> None:
        attempt = 0
        while True:
            try:
                await self.sink.send(notice)
            except DeliveryFailed as exc:
                why = str(exc)
            except Exception as exc:  # a sink's own bug must not stop its queue
                log.exception("alerts to %s: delivery raised", self.name)
                why = type(exc).__name__
            else:
                self.delivered += 1
                return
            if attempt >= len(self.delays):
                self.failed += 1
                log.warning(
                    "alert %r not delivered to %s after %d tries: %s",
                    notice.event.rule,
                    self.name,
                    attempt + 1,
                    why,
                )
                return
            self.retried += 1
            await asyncio.sleep(self.delays[attempt])  # backoff, not synchronisation
            attempt += 1


class AlertDelivery:
    """Delivers every alert to every sink, each sink from its own queue in its own task.

    Args:
        sinks: Where alerts go.
        queue_limit: Alerts waiting per sink before the oldest is dropped.
        retry_delays: Waits before each retry of a failed delivery (:data:`RETRY_DELAYS`).
        grace_s: How long queued alerts get to go out at the end (:data:`GRACE_S`).
        closers: Called once when the service stops (the HTTP client's ``aclose``).
    """

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        queue_limit: int = QUEUE_LIMIT,
        retry_delays: Sequence[float] | None = None,
        grace_s: float | None = None,
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        names: list[str] = []
        for sink in sinks:
            name, n = sink.name, 1
            while name in names:  # two sinks to the same host stay apart in the counts
                n += 1
                name = f"{sink.name} #{n}"
            names.append(name)
        delays = tuple(RETRY_DELAYS if retry_delays is None else retry_delays)
        self._lanes = [
            _Lane(sink, name, max(1, queue_limit), delays)
            for sink, name in zip(sinks, names, strict=True)
        ]
        self._grace_s = GRACE_S if grace_s is None else grace_s
        self._closers = list(closers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: asyncio.Future[int] | None = None
        self.unsent_at_exit: int | None = None
        """Alerts not delivered when the service stopped (failed, dropped or still queued);
        None while it runs."""

    @property
    def names(self) -> tuple[str, ...]:
        """The sinks' names, as logs and the screen show them."""
        return tuple(lane.name for lane in self._lanes)

    @property
    def stats(self) -> DeliveryStats:
        """Every sink's counters now (an immutable record)."""
        return DeliveryStats(tuple(lane.stats() for lane in self._lanes))

    def notify(self, event: AlertEvent, pair: tuple[str, str], timeframe: str | None) -> None:
        """Queue one fired alert for every sink (an alert book's listener). Never blocks."""
        self.enqueue(AlertNotice(event, pair[0], pair[1], timeframe))

    def enqueue(self, notice: AlertNotice) -> None:
        """Queue ``notice`` for every sink: O(1) per sink, never blocks, never awaits.

        Safe from another thread too (it is then handed to the service's loop).
        """
        loop = self._loop
        if loop is not None and threading.get_ident() != self._thread:
            loop.call_soon_threadsafe(self._put, notice)
        else:
            self._put(notice)

    def _put(self, notice: AlertNotice) -> None:
        for lane in self._lanes:
            lane.put(notice)

    async def run(self) -> None:
        """Deliver until cancelled, then :meth:`close`.

        Meant as a pipeline companion (``pipeline.add_companion(delivery.run)``): it lives as
        long as the pipeline runs. A run can end before its companions ever start (a short
        replay), so whoever ran the pipeline also awaits :meth:`close` afterwards.
        """
        self._start()
        try:
            # wait(), not gather(): cancelling this must leave the drains running.
            if self._tasks:
                await asyncio.wait(self._tasks)
            else:
                await asyncio.Event().wait()
        finally:
            await self.close()

    def _start(self) -> None:
        if self._tasks or self._closing is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._tasks = [
            asyncio.create_task(lane.drain(), name=f"alerts to {lane.name}") for lane in self._lanes
        ]

    async def flush(self) -> None:
        """Wait until every sink has delivered (or given up) what was queued; :meth:`run`
        must be running."""
        for lane in self._lanes:
            await lane.idle.wait()

    async def close(self) -> int:
        """Stop: what is queued gets :data:`GRACE_S` to go out, then what was not delivered
        (failed, dropped, still queued) is logged in one line and returned (the caller decides
        the exit code). Calling it again returns the same count."""
        if self._closing is None:
            self._start()  # a service that never ran still owes its queue a try
            self._closing = asyncio.ensure_future(self._wind_down())
        # Shielded: the wind-down finishes even if the caller is cancelled again.
        return await asyncio.shield(self._closing)

    async def _wind_down(self) -> int:
        tasks = self._tasks
        if tasks:
            flushing = asyncio.ensure_future(self.flush())
            await asyncio.wait([flushing], timeout=self._grace_s)
            flushing.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for close in self._closers:
            try:
                await close()
            except Exception:
                log.exception("alert sinks: closing failed")
        unsent = self.unsent_at_exit = self.stats.undelivered + self.stats.queued
        if unsent:
            log.warning("%s", self.lost_summary())
        return unsent

    def lost_summary(self) -> str:
        """``alerts: 3 not delivered (webhook slack (hooks.slack.com): 3)``."""
        stats = self.stats
        per_sink = ", ".join(
            f"{s.sink}: {s.undelivered + s.queued}" for s in stats.sinks if s.undelivered + s.queued
        )
        return f"alerts: {stats.undelivered + stats.queued} not delivered ({per_sink})"


def check_delivered(delivery: AlertDelivery | None) -> None:
    """After :meth:`AlertDelivery.close`: a run never ends as a success over lost alerts.

    Raises:
        AlertsUndelivered: some alert did not reach its sink; the message says how many, where.
    """
    if delivery is not None and delivery.unsent_at_exit:
        raise AlertsUndelivered(delivery.lost_summary())


def build_delivery(
    sinks: Sequence[SinkSettings],
    *,
    terminal: TerminalWrite | None = None,
    environ: Mapping[str, str] = os.environ,
) -> AlertDelivery | None:
    """The delivery service for the configured sinks; None when there are none.

    Args:
        sinks: The ``[[alerts.sinks]]`` entries.
        terminal: Where desktop notifications are written: the TUI passes its driver's
            writer. None writes them to ``/dev/tty`` (headless mode: stdout carries the JSON
            lines and never an escape); with no terminal at all a desktop sink is left out,
            with a warning.
        environ: The environment, for ``$TMUX`` (webhooks read the proxy variables from the
            process's own).
    """
    if not sinks:
        return None
    built: list[Sink] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    webhooks = [s for s in sinks if isinstance(s, WebhookSinkSettings)]
    client = None
    if webhooks:
        from pairs_tui.sinks.webhook import http_client

        client = http_client([s.url for s in webhooks])
        closers.append(client.aclose)
    for settings in sinks:
        if isinstance(settings, WebhookSinkSettings):
            from pairs_tui.sinks.webhook import WebhookSink

            assert client is not None  # made above for every webhook
            built.append(WebhookSink(settings, client))
        elif isinstance(settings, CommandSinkSettings):
            from pairs_tui.sinks.command import CommandSink

            built.append(CommandSink(settings))
        elif isinstance(settings, DesktopSinkSettings):
            from pairs_tui.sinks.desktop import DesktopSink, open_tty

            tmux = bool(environ.get("TMUX"))
            if terminal is not None:
                built.append(DesktopSink(settings, terminal, tmux=tmux))
                continue
            tty = open_tty()
            if tty is None:
                log.warning("desktop notifications: no terminal (/dev/tty) to write them to")
                continue
            built.append(DesktopSink(settings, tty.write, tmux=tmux, blocking=True))
            closers.append(tty.aclose)
    for sink in built:
        log.info("alerts are also delivered to %s", sink.name)
    return AlertDelivery(built, closers=closers)
