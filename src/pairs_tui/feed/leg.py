"""One symbol's streams as the feed follows them: the last id delivered, when the stream was
last heard from, whether its bars are held, what the last probe found, its usual trade rate.

The read loop touches only :attr:`Leg.last_seen`, :attr:`Leg.last_id`, :attr:`Leg.last_time` and
:attr:`Leg.resuming` per trade; everything else changes on rare events (a gap, a reconnection, a
probe) or when the connection's watch samples it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Literal

Verdict = Literal["unknown", "quiet", "stalled"]
"""What the last probe of a leg found: nothing yet (or REST failed), nothing published since its
last trade, or trades its stream had not delivered."""


class Leg:
    """One symbol's streams: the last id delivered, when it was last heard from, its backfill.

    Args:
        symbol: Upper-case symbol.
        stream: Trade stream name, e.g. ``btcusdt@aggTrade``.
        mark_stream: Mark-price stream name, e.g. ``btcusdt@markPrice@1s``, or None.
    """

    __slots__ = (
        "catching_up",
        "first_live_id",
        "held",
        "hold_from",
        "last_id",
        "last_seen",
        "last_time",
        "mark_seen",
        "mark_silent",
        "mark_stream",
        "pending",
        "probed_at",
        "probing",
        "quiet_after_s",
        "quiet_wait_s",
        "rate",
        "rate_at",
        "rate_id",
        "resuming",
        "settled",
        "silent_sessions",
        "stall_reported",
        "stream",
        "subscribed_ms",
        "symbol",
        "task",
        "verdict",
    )

    def __init__(self, symbol: str, stream: str, mark_stream: str | None = None) -> None:
        self.symbol = symbol
        """Upper-case symbol."""
        self.stream = stream
        """Trade stream name."""
        self.mark_stream = mark_stream
        """Mark-price stream name, or None when marks are not subscribed."""
        self.last_id: int | None = None
        """Highest id delivered (live or fetched); every id below it is delivered, queued in
        :attr:`pending` or counted lost."""
        self.last_time = 0
        """Trade time of the trade with :attr:`last_id`, ms."""
        self.first_live_id: int | None = None
        """The first id the live stream delivered, None before it."""
        self.last_seen = time.monotonic()
        """Monotonic time this stream last sent a trade (or its subscription began)."""
        self.mark_seen = self.last_seen
        """Monotonic time the mark-price stream last sent an update (or began)."""
        self.mark_silent = False
        """The mark-price stream's current silence has been reported."""
        self.subscribed_ms: float | None = None
        """The exchange clock when the current subscription began, ms (None: unknown)."""
        self.held = False
        """The sink was told to hold bars for this symbol and not yet released."""
        self.hold_from = 0
        """The time the sink's hold starts from, ms."""
        self.resuming = True
        """The live stream has not delivered since the leg began or its connection was lost;
        the first live trade clears it (:meth:`Backfill.resumed`)."""
        self.catching_up = False
        """Trades since :attr:`last_id` are being fetched page by page until the live stream is
        met."""
        self.probing = False
        """A probe is to run or running."""
        self.pending: deque[tuple[int, int]] = deque()
        """Id ranges below :attr:`last_id` still to fetch, in order."""
        self.task: asyncio.Task[None] | None = None
        """The running backfill, if any."""
        self.settled = asyncio.Event()
        """Set while nothing about the leg is being fetched and its bars are not held."""
        self.settled.set()
        self.silent_sessions = 0
        """Connections in a row on which the watchdog found this stream silent."""
        self.verdict: Verdict = "unknown"
        """What the last probe found."""
        self.stall_reported = False
        """The current stall has been logged and counted."""
        self.probed_at = 0.0
        """Monotonic time of the last probe."""
        self.quiet_after_s = 0.0
        """The silence that makes a probe due, from the leg's usual gaps (set by its watch)."""
        self.quiet_wait_s = 0.0
        """The silence the next probe of the current silence waits for (doubling)."""
        self.rate = 0.0
        """Aggregate trades a second, smoothed."""
        self.rate_at = self.last_seen
        """Monotonic time of the last rate sample."""
        self.rate_id: int | None = None
        """:attr:`last_id` at the last rate sample."""
