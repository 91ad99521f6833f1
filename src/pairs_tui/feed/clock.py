"""The exchange clock as the client can know it: the larger of two lower bounds.

1. The local wall clock plus an offset measured with ``GET /fapi/v1/time``. The server's time is
   taken to be the local time at the middle of the request, so the error is at most half the
   round trip. Binance runs on NTP; a desktop clock is often a second or more off.
2. The latest event time ``E`` seen, plus the monotonic time elapsed since that frame arrived.
   An event cannot be received before it was pushed, so this is a rigorous lower bound, and it
   keeps the clock right when the exchange runs faster than real time (the embedded exchange
   replaying at speed), which no offset measured once can follow.

Every frame gives such a bound; the clock keeps the best one as a single number (``E`` minus
the monotonic receive time), so the per-frame cost is one subtraction and one comparison.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ExchangeClock:
    """An estimate of the exchange's clock in milliseconds.

    Args:
        wall: Local wall clock in seconds (``time.time``); injectable for tests.
        monotonic: Local monotonic clock in seconds (``time.monotonic``); injectable for tests.
    """

    __slots__ = ("_event_anchor_ms", "_monotonic", "_wall", "offset_ms")

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self.offset_ms: float | None = None
        """Server time minus local wall time, ms; None until measured."""
        self._event_anchor_ms = float("-inf")
        """max over frames of ``E - monotonic receive time`` (ms): the event-time bound."""

    def set_offset(self, sent_wall_s: float, server_ms: float, received_wall_s: float) -> float:
        """Record a ``/fapi/v1/time`` measurement.

        Args:
            sent_wall_s: Local wall time when the request was sent, seconds.
            server_ms: The ``serverTime`` answered, ms.
            received_wall_s: Local wall time when the answer arrived, seconds.

        Returns:
            The offset in ms (server minus local).
        """
        midpoint_ms = (sent_wall_s + received_wall_s) * 500.0
        self.offset_ms = server_ms - midpoint_ms
        return self.offset_ms

    def observe(self, event_time_ms: int, received_mono_s: float) -> None:
        """Take the event time of a frame into account.

        Args:
            event_time_ms: The frame's ``E``.
            received_mono_s: Local monotonic time when the frame was received.
        """
        anchor = event_time_ms - received_mono_s * 1000.0
        if anchor > self._event_anchor_ms:
            self._event_anchor_ms = anchor

    def at(self, mono_s: float) -> float | None:
        """The clock as it was (or will be) at a local monotonic instant.

        Args:
            mono_s: Local monotonic time, seconds.

        Returns:
            The estimate in ms, or None before any measurement or frame.
        """
        best = mono_s * 1000.0 + self._event_anchor_ms
        if self.offset_ms is not None:
            wall_ms = (self._wall() - (self._monotonic() - mono_s)) * 1000.0
            best = max(best, wall_ms + self.offset_ms)
        return None if best == float("-inf") else best

    def now_ms(self) -> float | None:
        """The clock now.

        Returns:
            The estimate in ms, or None before any measurement or frame.
        """
        return self.at(self._monotonic())
