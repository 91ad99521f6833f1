"""Gap recovery for aggregate trades: hold the bars, fetch what is missing, count what is not.

Aggregate-trade ids ``a`` are contiguous per symbol, so the client knows exactly what it has
missed. Four things make it fetch, and all end the same way, with every id delivered once or
counted as lost, and the bars held while it is unknown which:

- a jump in ids on a live connection (a dropped frame, a stalled stream that resumed): the
  range between is queued and fetched with ``GET /fapi/v1/aggTrades?fromId=``;
- a reconnection: everything published since the last id is fetched at once ("catching up"),
  rather than waiting for the first live trade to reveal the gap, which a quiet market or a
  silent stream may never send. The live stream and the catch-up meet in the middle: whichever
  delivers an id first wins, and the other skips it;
- the stitch of a warm start (:meth:`Backfill.catch_up_from`): every trade from a given time on
  that the live stream has not delivered, found with ``aggTrades?startTime=``;
- a probe of a leg that has been quiet for longer than its usual gaps (:meth:`Backfill.probe`):
  one page from the last id tells a quiet market (nothing) from a stalled stream (trades the
  socket did not deliver, which are delivered from the page at once); the bars wait from the
  moment the leg is suspected, so that a stall costs no late trades.

Fetched trades are delivered in id order but after the live trade that revealed their gap; the
bar builder orders a bar's open and close by trade time and id, so that costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from pairs_tui.feed.errors import BinanceApiError, RestError
from pairs_tui.feed.leg import Leg
from pairs_tui.feed.rest import MAX_AGG_TRADES_LIMIT, BinanceRest
from pairs_tui.feed.schemas.rest import AggTradeRow
from pairs_tui.feed.source import TradeSink
from pairs_tui.feed.weight import WeightBudget

log = logging.getLogger("pairs_tui.feed")

RETRIES = 3
"""REST attempts per request before its trades are counted as lost."""
PAUSE_S = 0.1
"""First pause between REST attempts (doubling)."""
OVERDUE_MS = 1_000
"""How much older than the exchange clock a trade found by a probe must be for the stream to be
stalled rather than still delivering it (Binance pushes an aggregate trade ~0.1 s after it)."""
GATHER_S = 0.2
"""How long gaps are gathered before a fetch once a quarter of the REST budget is spent (five
times as long past half)."""
_WINDOW_MS = 3_599_999
"""``aggTrades`` by time takes windows of less than an hour."""


class Backfill:
    """Recovers the missing trades of each leg over REST and keeps the count of those lost.

    Args:
        rest: The REST client.
        report: Called with a short sentence whenever something is recovered or lost.
        exchange_now_ms: The exchange clock, ms (None when unknown), to tell a stalled stream
            from a frame still on its way.
    """

    def __init__(
        self,
        rest: BinanceRest,
        report: Callable[[str], None],
        exchange_now_ms: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.rest = rest
        """The REST client."""
        self.sink: TradeSink | None = None
        """Where trades, holds and releases go; set when the feed runs."""
        self.recovered = 0
        """Trades delivered from REST since the start."""
        self.lost = 0
        """Trades known to be missing and not recoverable since the start."""
        self.probes = 0
        """Probes of quiet legs sent."""
        self.stalls = 0
        """Probes that found a stalled stream."""
        self._report = report
        self._exchange_now_ms = exchange_now_ms

    # -- what the live stream tells it ---------------------------------------------------------

    def gap(self, leg: Leg, last: int, now_id: int, fetch: bool) -> None:
        """The live stream jumped from ``last`` to ``now_id``.

        Args:
            leg: The leg.
            last: The last id delivered.
            now_id: The id just received.
            fetch: Whether the ids can be fetched (aggregate trades); ``@trade`` ids need an
                API key, so they are only counted.
        """
        missing = now_id - last - 1
        leg.resuming = leg.catching_up = False
        if not fetch:
            self.lost += missing
            self._report(f"{missing} {leg.symbol} trades missed (ids {last + 1}-{now_id - 1})")
            self.release_if_done(leg)
            return
        self._report(f"{missing} {leg.symbol} trades missed: backfilling over REST")
        log.info("%s trades %d-%d missed: backfilling", leg.symbol, last + 1, now_id - 1)
        self._hold(leg)
        leg.pending.append((last + 1, now_id - 1))
        self._start(leg)

    def resumed(self, leg: Leg, trade_id: int) -> None:
        """The live stream delivered ``trade_id`` right after the last id (or for the first
        time), after the leg began, a reconnection or a stall."""
        if leg.first_live_id is None:
            leg.first_live_id = trade_id
        leg.resuming = leg.catching_up = False
        if leg.verdict == "stalled":
            leg.verdict = "unknown"
            leg.stall_reported = False
        self.release_if_done(leg)

    def connection_lost(self, leg: Leg) -> None:
        """Bars wait until the leg has resumed or been caught up."""
        leg.resuming = True
        # A catch-up in flight belongs to the lost connection: being caught up then says
        # nothing about what is published until the next one is subscribed.
        leg.catching_up = False
        if leg.last_id is not None:
            self._hold(leg)

    def connected(self, leg: Leg) -> None:
        """A new connection is subscribed: fetch what was published since the last id."""
        if leg.resuming and leg.last_id is not None:
            leg.catching_up = True
            self._start(leg)

    def release_if_done(self, leg: Leg) -> None:
        """Release the sink's hold once nothing about the leg is unknown any more."""
        if leg.task is not None or leg.pending:
            return
        if leg.held and not leg.resuming:
            leg.held = False
            if self.sink is not None:
                self.sink.release(leg.symbol)
        if not leg.held:
            leg.settled.set()

    def cancel(self, leg: Leg) -> None:
        """Stop the leg's backfill (the feed is stopping, or the symbol is removed)."""
        if leg.task is not None:
            leg.task.cancel()

    def drop(self, leg: Leg) -> None:
        """The symbol is no longer followed: stop its backfill and release its bars."""
        self.cancel(leg)
        leg.pending.clear()
        leg.catching_up = leg.probing = False
        if leg.held and self.sink is not None:
            self.sink.release(leg.symbol)
        leg.held = False
        leg.settled.set()

    # -- the stitch and the probe --------------------------------------------------------------

    async def catch_up_from(self, leg: Leg, time_ms: int) -> None:
        """Deliver every trade of ``leg`` with trade time >= ``time_ms`` that the live stream
        has not delivered and will not deliver, once; its bars wait until it is done.

        Args:
            leg: The leg (its stream subscribed).
            time_ms: The first trade time wanted, ms (within the last hour).
        """
        self._hold(leg, time_ms)
        leg.settled.clear()
        window = {"start_ms": time_ms, "end_ms": time_ms + _WINDOW_MS}
        rows = await self._page(leg, limit=1, **window)
        if rows:
            first = rows[0].id
            if leg.last_id is None:
                # Nothing live yet: fetch from the first id on until the live stream is met,
                # which then skips what the catch-up delivered.
                leg.last_id, leg.last_time = first - 1, time_ms
                leg.catching_up = True
            elif leg.first_live_id is not None and first < leg.first_live_id:
                leg.pending.appendleft((first, leg.first_live_id - 1))
            log.info("%s: stitching from id %d (time %d)", leg.symbol, first, time_ms)
            self._start(leg)
        elif rows is None:
            self._report(f"{leg.symbol} trades from {time_ms} could not be fetched")
        self.release_if_done(leg)
        await leg.settled.wait()

    def probe(self, leg: Leg) -> bool:
        """Ask REST whether a quiet leg missed trades; its bars wait until the answer.

        Args:
            leg: A leg quiet for longer than its usual gaps.

        Returns:
            Whether a probe was started (not while the leg's backfill runs).
        """
        if leg.task is not None:
            return False
        leg.probed_at = time.monotonic()
        leg.probing = True
        self.probes += 1
        if leg.last_id is not None:
            self._hold(leg)
        self._start(leg)
        return True

    # -- fetching ------------------------------------------------------------------------------

    def _hold(self, leg: Leg, from_ms: int | None = None) -> None:
        """Hold the leg's bars from ``from_ms`` (its last trade time by default); an earlier
        time than the hold's widens it."""
        start = leg.last_time if from_ms is None else from_ms
        if self.sink is None:
            return
        if not leg.held or start < leg.hold_from:
            leg.held = True
            leg.hold_from = start
            leg.settled.clear()
            self.sink.hold(leg.symbol, start)

    def _start(self, leg: Leg) -> None:
        if leg.task is None:
            leg.settled.clear()
            leg.task = asyncio.create_task(self._run(leg), name=f"backfill-{leg.symbol}")

    async def _run(self, leg: Leg) -> None:
        """Fetch the leg's pending ranges in order, catch it up, probe it."""
        try:
            while leg.pending or leg.catching_up or leg.probing:
                if leg.pending:
                    await self._fill_ranges(leg)
                elif leg.catching_up:
                    await self._catch_up(leg)
                else:
                    await self._probe(leg)
        finally:
            leg.task = None
            self.release_if_done(leg)

    async def _fill_ranges(self, leg: Leg) -> None:
        # Ranges that fit in one page from the first are fetched together: many small gaps
        # cost one request (weight 20 of Binance's 2,400 a minute), not one each. With the
        # budget half spent, gaps are gathered a while first, so that a stream dropping frames
        # cannot spend the minute's weight one gap at a time.
        gather = _gather_s(self.rest.budget)
        if gather:
            await asyncio.sleep(gather)
        lo = leg.pending[0][0]
        batch = [leg.pending.popleft()]
        while leg.pending and leg.pending[0][1] - lo < MAX_AGG_TRADES_LIMIT:
            batch.append(leg.pending.popleft())
        recovered, lost = await self._fetch(leg, batch)
        if lost and not recovered and leg.pending:
            # REST is failing: count what is queued behind instead of retrying each.
            lost += sum(b - a + 1 for a, b in leg.pending)
            leg.pending.clear()
        self.recovered += recovered
        self.lost += lost
        sentence = f"backfilled {recovered} {leg.symbol} trades over REST" + (
            f"; {lost} could not be recovered" if lost else ""
        )
        self._report(sentence)
        log.log(logging.WARNING if lost else logging.INFO, "%s", sentence)

    async def _fetch(self, leg: Leg, ranges: list[tuple[int, int]]) -> tuple[int, int]:
        """Deliver the trades whose ids lie in ``ranges`` (sorted, disjoint) from REST, in id
        order; ids between the ranges were delivered live and are skipped.

        Returns:
            ``(recovered, lost)``.
        """
        assert self.sink is not None
        on_trade = self.sink.on_trade
        wanted = sum(hi - lo + 1 for lo, hi in ranges)
        end = ranges[-1][1]
        cursor = ranges[0][0]
        k = 0  # the range the cursor is in or before
        recovered = 0
        while cursor <= end:
            while ranges[k][1] < cursor:
                k += 1
            cursor = max(cursor, ranges[k][0])
            limit = min(MAX_AGG_TRADES_LIMIT, end - cursor + 1)
            rows = await self._page(leg, from_id=cursor, limit=limit)
            rows = [r for r in rows or () if cursor <= r.id <= end]
            if not rows:
                break  # REST failed, or the exchange no longer has them
            for row in rows:
                while ranges[k][1] < row.id:
                    k += 1
                if row.id >= ranges[k][0]:
                    if row.qty > 0.0:  # as on the socket: a zero quantity is not a trade
                        on_trade(row.to_trade(leg.symbol))
                    recovered += 1
            cursor = rows[-1].id + 1
        return recovered, wanted - recovered

    async def _catch_up(self, leg: Leg) -> None:
        """Fetch one page of what was published since the last id, unless the socket got there
        first; stop once a page comes back short (caught up) or REST fails."""
        assert leg.last_id is not None
        cursor = leg.last_id + 1
        rows = await self._page(leg, from_id=cursor)
        if not leg.catching_up or leg.last_id != cursor - 1:
            # The socket delivered meanwhile: what it skipped is queued as a range, so this page
            # (fetched for ids the socket may have delivered) is dropped rather than sorted out.
            return
        if rows is None:
            leg.catching_up = False  # a live trade will reveal the gap, and the backfill retry
            return
        recovered = self._deliver(leg, rows, cursor)
        if len(rows) < MAX_AGG_TRADES_LIMIT:
            # Caught up over REST says nothing about the new connection's stream, which may be
            # acknowledged and never served: the bars wait until it delivers, or until a probe
            # of the quiet leg finds nothing more published (the watch probes it soon).
            leg.catching_up = False
            self._report(f"caught up {leg.symbol} over REST")
            log.info("%s caught up: %d trades fetched", leg.symbol, recovered)

    async def _probe(self, leg: Leg) -> None:
        """One page from the last id: nothing means a quiet market, trades mean a stream that
        did not deliver them (stalled, when the oldest is overdue); they are delivered now."""
        leg.probing = False
        if leg.last_id is None:
            await self._probe_unseen(leg)
            return
        cursor = leg.last_id + 1
        rows = await self._page(leg, from_id=cursor)
        if leg.last_id != cursor - 1 or leg.catching_up or leg.pending:
            return  # the socket delivered meanwhile: it is alive
        if rows is None:
            leg.verdict = "unknown"
            return
        fresh = [r for r in rows if r.id >= cursor]
        if not fresh:
            # Nothing published that the stream has not delivered: a quiet market (or the end
            # of a stall's backlog), so nothing is left to hold the bars for.
            leg.verdict = "quiet"
            leg.resuming = False
            return
        now = self._exchange_now_ms()
        overdue = now is not None and fresh[0].time < now - OVERDUE_MS
        self._deliver(leg, fresh, cursor)
        # Behind REST: stalled, or frames still on their way, which the socket will skip. It is
        # a stall once a trade is overdue or a second probe finds the stream still behind.
        if (overdue or leg.verdict == "stalled") and not leg.stall_reported:
            leg.stall_reported = True
            self.stalls += 1
            self._report(f"{leg.stream} stalled: its trades are fetched over REST meanwhile")
            log.warning("%s is stalled: %d trades found over REST", leg.stream, len(fresh))
        # Either way the bars wait for the live stream to deliver again, and everything up to
        # the last fetched trade is delivered: bars before it may go.
        leg.verdict = "stalled"
        leg.resuming = True
        self._hold_moved(leg)
        leg.probing = len(rows) == MAX_AGG_TRADES_LIMIT

    async def _probe_unseen(self, leg: Leg) -> None:
        """A leg its stream never delivered: trades printed since it was subscribed mean an
        acknowledged subscription that is not served."""
        rows = await self._page(leg, limit=1)
        if leg.last_id is not None or rows is None:
            leg.verdict = "unknown"
            return
        since = leg.subscribed_ms
        served = since is not None and rows and rows[-1].time >= since + OVERDUE_MS
        leg.verdict = "stalled" if served else "quiet"

    def _deliver(self, leg: Leg, rows: list[AggTradeRow], cursor: int) -> int:
        """Deliver rows from id ``cursor`` on, advancing the leg; ids the exchange no longer
        has are counted lost. Returns how many were delivered."""
        assert self.sink is not None
        on_trade = self.sink.on_trade
        recovered = lost = 0
        for row in rows:
            if row.id < cursor:
                continue
            lost += row.id - cursor  # older than the exchange keeps
            if row.qty > 0.0:
                on_trade(row.to_trade(leg.symbol))
            recovered += 1
            cursor = row.id + 1
            leg.last_id, leg.last_time = row.id, row.time
        self.recovered += recovered
        self.lost += lost
        return recovered

    def _hold_moved(self, leg: Leg) -> None:
        """Move the leg's hold up to its last trade (everything before it is delivered)."""
        if leg.held and self.sink is not None and leg.last_time > leg.hold_from:
            leg.hold_from = leg.last_time
            self.sink.hold(leg.symbol, leg.last_time)

    async def _page(
        self,
        leg: Leg,
        *,
        from_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = MAX_AGG_TRADES_LIMIT,
    ) -> list[AggTradeRow] | None:
        """One ``/fapi/v1/aggTrades`` page, retried on server errors; None when REST failed."""
        for attempt in range(1, RETRIES + 1):
            try:
                return await self.rest.agg_trades(
                    leg.symbol, from_id=from_id, start_ms=start_ms, end_ms=end_ms, limit=limit
                )
            except RestError as exc:
                log.warning("aggTrades of %s (id %s) failed: %s", leg.symbol, from_id, exc)
                if attempt == RETRIES or not _retryable(exc):
                    return None
                await asyncio.sleep(PAUSE_S * 2**attempt)
        return None


def _gather_s(budget: WeightBudget) -> float:
    """How long gaps are gathered before a fetch: none while a quarter of the budget is spent,
    then longer as it fills."""
    spent = (budget.used + budget.in_flight) / budget.ceiling
    if spent < 0.25:
        return 0.0
    return GATHER_S if spent < 0.5 else 5 * GATHER_S


def _retryable(exc: RestError) -> bool:
    """Whether asking again may help: not after a client error such as an invalid symbol, nor
    after a 429 the client already waited out and retried, nor during an IP ban."""
    return not isinstance(exc, BinanceApiError) or exc.status >= 500
