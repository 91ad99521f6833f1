"""Gap recovery for aggregate trades: hold the bars, fetch what is missing, count what is not.

Aggregate-trade ids ``a`` are contiguous per symbol, so the client knows exactly what it has
missed. Two things make it miss trades, and both end the same way, with every id delivered once
or counted as lost, and the bars held while it is unknown which:

- a jump in ids on a live connection (a dropped frame, a stalled stream that resumed): the
  range between is queued and fetched with ``GET /fapi/v1/aggTrades?fromId=``;
- a reconnection: everything published since the last id is fetched at once ("catching up"),
  rather than waiting for the first live trade to reveal the gap, which a quiet market or a
  silent stream may never send. The live stream and the catch-up meet in the middle: whichever
  delivers an id first wins, and the other skips it.

Fetched trades are delivered in id order but after the live trade that revealed their gap; the
bar builder orders a bar's open and close by trade time and id, so that costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from pairs_tui.feed.rest import (
    MAX_AGG_TRADES_LIMIT,
    BinanceApiError,
    BinanceRest,
    RestError,
)
from pairs_tui.feed.schemas.rest import AggTradeRow
from pairs_tui.feed.source import TradeSink

log = logging.getLogger("pairs_tui.feed")

RETRIES = 3
"""REST attempts per request before its trades are counted as lost."""
PAUSE_S = 0.1
"""First pause between REST attempts (doubling)."""


class Leg:
    """One symbol's stream: the last id delivered, when it was last heard from, its backfill.

    Args:
        symbol: Upper-case symbol.
        stream: Stream name, e.g. ``btcusdt@aggTrade``.
    """

    __slots__ = (
        "catching_up",
        "held",
        "last_id",
        "last_seen",
        "last_time",
        "pending",
        "resuming",
        "silent_sessions",
        "stream",
        "symbol",
        "task",
    )

    def __init__(self, symbol: str, stream: str) -> None:
        self.symbol = symbol
        """Upper-case symbol."""
        self.stream = stream
        """Stream name."""
        self.last_id: int | None = None
        """Highest id delivered (live or by the catch-up); every id below it is delivered,
        queued in :attr:`pending` or counted lost."""
        self.last_time = 0
        """Trade time of the trade with :attr:`last_id`, ms."""
        self.last_seen = 0.0
        """Monotonic time this stream last sent a trade (or its connection opened)."""
        self.held = False
        """The sink was told to hold bars for this symbol and not yet released."""
        self.resuming = False
        """A connection was lost and this stream has not resumed or been caught up since."""
        self.catching_up = False
        """Trades since :attr:`last_id` are being fetched page by page after a reconnection."""
        self.pending: deque[tuple[int, int]] = deque()
        """Id ranges below :attr:`last_id` still to fetch, in order."""
        self.task: asyncio.Task[None] | None = None
        """The running backfill, if any."""
        self.silent_sessions = 0
        """Connections in a row on which the watchdog found this stream silent."""


class Backfill:
    """Recovers the missing trades of each leg over REST and keeps the count of those lost.

    Args:
        rest: The REST client.
        report: Called with a short sentence whenever something is recovered or lost.
    """

    def __init__(self, rest: BinanceRest, report: Callable[[str], None]) -> None:
        self.rest = rest
        """The REST client."""
        self.sink: TradeSink | None = None
        """Where trades, holds and releases go; set when the feed runs."""
        self.recovered = 0
        """Trades delivered from REST since the start."""
        self.lost = 0
        """Trades known to be missing and not recoverable since the start."""
        self._report = report

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

    def resumed(self, leg: Leg) -> None:
        """The live stream continued right after the last id, after a reconnection."""
        leg.resuming = leg.catching_up = False
        self.release_if_done(leg)

    def connection_lost(self, leg: Leg) -> None:
        """Bars wait until the leg has resumed or been caught up."""
        if leg.last_id is not None:
            leg.resuming = True
            # A catch-up in flight belongs to the lost connection: being caught up then says
            # nothing about what is published until the next one is subscribed.
            leg.catching_up = False
            self._hold(leg)

    def connected(self, leg: Leg) -> None:
        """A new connection is subscribed: fetch what was published since the last id."""
        if leg.resuming and leg.last_id is not None:
            leg.catching_up = True
            self._start(leg)

    def release_if_done(self, leg: Leg) -> None:
        """Release the sink's hold once nothing about the leg is unknown any more."""
        if leg.held and not leg.pending and leg.task is None and not leg.resuming:
            leg.held = False
            if self.sink is not None:
                self.sink.release(leg.symbol)

    def cancel(self, leg: Leg) -> None:
        """Stop the leg's backfill (the feed is stopping)."""
        if leg.task is not None:
            leg.task.cancel()

    # -- fetching ------------------------------------------------------------------------------

    def _hold(self, leg: Leg) -> None:
        if not leg.held and self.sink is not None:
            leg.held = True
            self.sink.hold(leg.symbol, leg.last_time)

    def _start(self, leg: Leg) -> None:
        if leg.task is None:
            leg.task = asyncio.create_task(self._run(leg), name=f"backfill-{leg.symbol}")

    async def _run(self, leg: Leg) -> None:
        """Fetch the leg's pending ranges in order, then catch it up; count the unrecoverable."""
        try:
            while leg.pending or leg.catching_up:
                if leg.pending:
                    await self._fill_ranges(leg)
                else:
                    await self._catch_up(leg)
        finally:
            leg.task = None
            self.release_if_done(leg)

    async def _fill_ranges(self, leg: Leg) -> None:
        # Ranges that fit in one page from the first are fetched together: many small gaps
        # cost one request (weight 20 of Binance's 2,400 a minute), not one each.
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
            rows = await self._page(leg, cursor, min(MAX_AGG_TRADES_LIMIT, end - cursor + 1))
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
        assert self.sink is not None and leg.last_id is not None
        cursor = leg.last_id + 1
        rows = await self._page(leg, cursor, MAX_AGG_TRADES_LIMIT)
        if not leg.catching_up or leg.last_id != cursor - 1:
            # The socket delivered meanwhile: what it skipped is queued as a range, so this page
            # (fetched for ids the socket may have delivered) is dropped rather than sorted out.
            return
        if rows is None:
            leg.catching_up = False  # a live trade will reveal the gap, and the backfill retry
            return
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
        if len(rows) < MAX_AGG_TRADES_LIMIT:
            leg.catching_up = leg.resuming = False
            self._report(f"caught up {leg.symbol} over REST after the reconnection")
            log.info("%s caught up: %d trades fetched", leg.symbol, recovered)

    async def _page(self, leg: Leg, from_id: int, limit: int) -> list[AggTradeRow] | None:
        """One ``/fapi/v1/aggTrades`` page, retried on server errors; None when REST failed."""
        for attempt in range(1, RETRIES + 1):
            try:
                return await self.rest.agg_trades(leg.symbol, from_id, limit)
            except RestError as exc:
                log.warning("backfill of %s from id %d failed: %s", leg.symbol, from_id, exc)
                if attempt == RETRIES or not _retryable(exc):
                    return None
                await asyncio.sleep(PAUSE_S * 2**attempt)
        return None


def _retryable(exc: RestError) -> bool:
    """Whether asking again may help: not after a client error such as an invalid symbol."""
    return not isinstance(exc, BinanceApiError) or exc.status >= 500 or exc.status == 429
