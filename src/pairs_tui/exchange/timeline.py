"""The embedded exchange's clock: it publishes the tape in time and keeps what was published.

Trades are published at ``speed`` times real time, or as fast as the subscribers read
(``speed=0``). Everything published goes to the history that REST serves and to every symbol's
1-second bars (klines); the WebSocket side sends it to whoever is subscribed at that moment, so
trades published while nobody listens reach the history only, exactly like a real exchange.

A lead-in makes the exchange start with a recent past of trades: when the timeline starts, the
trades of the first ``lead_in_ms`` of the tape are published at once with times before "now"
(nobody was connected to see them live), and the clock carries on from there. Before those
trades, the tape's past (1-second bars) fills the hours before.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Sequence

from pairs_tui.exchange.candles import SecondBars
from pairs_tui.exchange.tape import Tape, TapeTrade
from pairs_tui.exchange.websocket import Print, StreamHub


class Timeline:
    """The exchange's timeline: its clock, its published history and the loop that publishes.

    Args:
        tape: What to publish.
        speed: 1 real time, 10 ten times faster, 0 as fast as clients read.
        rebase: Shift trade times so that the end of the lead-in is "now".
        clock_skew_ms: With ``rebase``, how far the exchange's clock runs ahead of the local one.
        loop: When the tape ends, go on with it again, later in time and with ids continuing.
        history_limit: Aggregate trades kept per symbol.
        changed: Set whenever a trade is published (the exchange's ``wait_until``).
        lead_in_ms: Tape time published at once when the timeline starts, as a recent past.
        on_second: Called with every whole second (ms) the live clock reaches, after the trades
            before it and before those at or after it (the mark-price streams).

    Raises:
        ValueError: A negative speed or lead-in.
    """

    def __init__(
        self,
        tape: Tape,
        *,
        speed: float,
        rebase: bool,
        clock_skew_ms: float,
        loop: bool,
        history_limit: int,
        changed: asyncio.Event,
        lead_in_ms: int = 0,
        on_second: Callable[[int], None] | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, not {speed}")
        if lead_in_ms < 0:
            raise ValueError(f"lead-in must be >= 0 ms, not {lead_in_ms}")
        self.tape = tape
        """What is published."""
        self.speed = speed
        """Timeline speed (0 = as fast as clients read)."""
        self.rebase = rebase
        """Whether trade times are shifted so that the end of the lead-in is "now"."""
        self.clock_skew_ms = clock_skew_ms
        """Exchange clock minus local clock, ms, when rebased."""
        self.loop = loop
        """Whether the tape repeats."""
        self.lead_in_ms = lead_in_ms
        """Tape time published at once when the timeline starts."""
        self.on_second = on_second
        """Called with every whole second the live clock reaches."""
        self.finished = asyncio.Event()
        """Set when the whole tape has been published."""
        self.started = asyncio.Event()
        """Set once the lead-in is published: from then on REST answers hold the recent past."""
        """Set when the whole tape has been published (never, when looping)."""
        self._history_limit = history_limit
        self._changed = changed
        self._history: dict[str, list[TapeTrade]] = {s: [] for s in tape.specs}
        self._published: dict[str, int] = dict.fromkeys(tape.specs, 0)
        self.bars: dict[str, SecondBars] = {
            s: SecondBars(spec, tape.past) for s, spec in tape.specs.items()
        }
        """Every symbol's 1-second bars: what klines are folded from."""
        self.past_s = tape.past.seconds if tape.past is not None else 0
        """Seconds of past before the tape's first second."""
        self._origin_ms: float | None = None
        self._origin_mono = 0.0
        self._last_ms: float | None = None
        self._shift_ms: int | None = None
        self._pending_ms: int | None = None
        self._next_second = 0

    def now_ms(self) -> float:
        """The timeline clock, ms: until the timeline starts, frozen at the end of the lead-in
        (rebased: "now"); at ``speed=0`` the time of the last trade published."""
        if self._origin_ms is None:
            if self.rebase:
                return time.time() * 1000.0 + self.clock_skew_ms
            return float(self.tape.start_ms + self.lead_in_ms)
        if self.speed == 0:
            return self._last_ms if self._last_ms is not None else self._origin_ms
        return self._origin_ms + (time.monotonic() - self._origin_mono) * 1000.0 * self.speed

    def shift_ms(self) -> int:
        """How far the tape's times are shifted: fixed when the timeline starts; until then,
        rebased, the shift that would make the end of the lead-in "now"."""
        if self._shift_ms is not None:
            return self._shift_ms
        if self.rebase:
            now = round(time.time() * 1000.0 + self.clock_skew_ms)
            return now - self.lead_in_ms - self.tape.start_ms
        return 0

    def trades_from_ms(self) -> int:
        """Time of the tape's first trade as printed: trades begin here, the past ends here."""
        return self.tape.start_ms + self.shift_ms()

    def origin_s(self) -> int:
        """The epoch second of index 0 of every symbol's :attr:`bars`: the past's first second
        (the tape's first second when it has no past)."""
        return self.trades_from_ms() // 1000 - self.past_s

    def horizon_ms(self) -> int:
        """Everything with a time up to here is published: the clock, or just before the next
        trade when the timeline is behind it."""
        now = int(self.now_ms())
        if self._pending_ms is not None:
            return min(now, self._pending_ms - 1)
        return now

    def published(self, symbol: str) -> int:
        """Aggregate trades of ``symbol`` (upper case) published so far."""
        return self._published.get(symbol, 0)

    def history(self, symbol: str) -> list[TapeTrade]:
        """The published trades of ``symbol`` (upper case) still kept: a copy, in id order."""
        return list(self._history.get(symbol, []))

    def page(self, symbol: str, from_id: int | None, limit: int) -> Sequence[TapeTrade]:
        """Up to ``limit`` kept trades of ``symbol`` (upper case, listed) from ``from_id`` on,
        or the latest ``limit`` when ``from_id`` is None."""
        history = self._history[symbol]
        if from_id is None:
            return history[-limit:]
        if not history:
            return []
        # Ids are contiguous in the history, so the row is found by arithmetic.
        start = max(0, from_id - history[0].id)
        return history[start : start + limit]

    def by_time(
        self, symbol: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> Sequence[TapeTrade]:
        """Up to ``limit`` kept trades of ``symbol`` by trade time: from the first at or after
        ``start_ms``; with only ``end_ms``, the latest at or before it.

        Args:
            symbol: Upper case, listed.
            start_ms: First trade time wanted, inclusive, or None.
            end_ms: Last trade time wanted, inclusive, or None.
            limit: At most this many rows.

        Returns:
            The trades, in id order.
        """
        history = self._history[symbol]
        hi = len(history)
        if end_ms is not None:
            hi = bisect.bisect_right(history, end_ms, key=_trade_time)
        if start_ms is None:
            return history[max(0, hi - limit) : hi]
        lo = bisect.bisect_left(history, start_ms, key=_trade_time)
        return history[lo : min(hi, lo + limit)]

    async def run(self, hub: StreamHub, wait_for_subscriber: bool) -> None:
        """Publish the tape to ``hub`` in time; returns at its end (never, when looping, nor
        at a speed above 0 while someone wants every second).

        Args:
            hub: The WebSocket connections.
            wait_for_subscriber: Start when the first client subscribes to a stream with data.
        """
        if wait_for_subscriber:
            await hub.subscribed.wait()
        shift = self.shift_ms()
        self._shift_ms = shift
        origin = self.tape.start_ms + shift + self.lead_in_ms
        self._origin_ms = float(origin)
        self._origin_mono = time.monotonic()
        self._next_second = -(-origin // 1000) * 1000
        specs = self.tape.specs
        for n, trade in enumerate(self.tape.passes(shift, self.loop)):
            t = trade.time
            self._pending_ms = t
            if t < origin:  # the lead-in: a recent past nobody watched live
                self._record(trade)
                if n % 512 == 511:
                    await asyncio.sleep(0)
                continue
            self.started.set()
            await self._advance(t)
            if self.speed > 0:
                event_time = max(t, int(self.now_ms()))
            else:
                event_time = t
                if n % 64 == 63:
                    await asyncio.sleep(0)  # let the writers run between batches
            self._record(trade)
            hub.publish(Print(trade, event_time, specs[trade.symbol]))
            slow = hub.backlogged()
            if slow:
                await hub.wait_drained(slow)
        self._pending_ms = None
        self.started.set()
        self.finished.set()
        if self.speed > 0 and self.on_second is not None:
            while True:  # the clock goes on after the tape, and so do the seconds
                await self._advance(self._next_second)

    async def _advance(self, t: int) -> None:
        """Wait for the clock to reach ``t`` (at speed 0: at once), announcing every whole
        second on the way."""
        if self.on_second is not None:
            while self._next_second <= t:
                second = self._next_second
                await self._sleep_until(second)
                self._next_second += 1000
                self.on_second(second)
        await self._sleep_until(t)

    async def _sleep_until(self, t: int) -> None:
        if self.speed == 0 or self._origin_ms is None:
            return
        due = self._origin_mono + (t - self._origin_ms) / (1000.0 * self.speed)
        delay = due - time.monotonic()
        if delay > 0.001:
            await asyncio.sleep(delay)

    def _record(self, trade: TapeTrade) -> None:
        symbol = trade.symbol
        history = self._history[symbol]
        history.append(trade)
        if len(history) > self._history_limit * 1.25:
            del history[: len(history) - self._history_limit]
        self._published[symbol] += 1
        self._last_ms = float(trade.time)
        self.bars[symbol].add(trade, trade.time // 1000 - self.origin_s())
        self._changed.set()


def _trade_time(trade: TapeTrade) -> int:
    return trade.time
