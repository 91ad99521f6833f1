"""The Binance USD-M WebSocket client: every symbol's trades (and mark prices) on as few
connections as Binance allows, kept alive.

Each symbol is subscribed as ``<symbol>@aggTrade`` (and ``<symbol>@markPrice@1s`` with
``marks``) on one combined connection on ``/market`` (``/public`` for the undocumented
``@trade``), never on the routes Binance retired on 2026-04-23 (``/stream``, ``/ws``), which still
accept and acknowledge but send nothing. Past Binance's 1,024 streams a connection, more
connections are opened. Symbols can be added and removed while the feed runs
(:class:`~pairs_tui.feed.connection.FeedConnection` sends the SUBSCRIBE and UNSUBSCRIBE
messages).

Silence is the failure mode to design for: each connection watches its streams
(:mod:`pairs_tui.feed.watch`), probes a leg over REST when it has been quiet for longer than its
usual gaps (a stall is held and fed over REST at once, a quiet market is left alone), and
reconnects with capped, jittered backoff when a silence lasts the watchdog. A jump in aggregate
ids is a gap, and a lost connection one from the last id seen: the sink holds the bars while
:mod:`pairs_tui.feed.backfill` fetches the missing trades. The exchange clock's offset is measured
with ``GET /fapi/v1/time`` at the start and on every reconnection (:mod:`pairs_tui.feed.clock`).

Time is the trade time ``T``; the local clock only measures latency and silence.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable

from pairs_tui.feed.backfill import Backfill
from pairs_tui.feed.backoff import Backoff
from pairs_tui.feed.clock import ExchangeClock
from pairs_tui.feed.connection import FeedConnection
from pairs_tui.feed.errors import RestError, UnknownSymbolError
from pairs_tui.feed.leg import Leg
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.feed.routes import DEFAULT_WS_URL, ROUTES, StreamKind, base_url, rest_url_for
from pairs_tui.feed.source import TradeSink
from pairs_tui.feed.status import FeedState, FeedStatus

log = logging.getLogger("pairs_tui.feed")

MAX_STREAMS = 1024
"""Streams Binance serves on one connection (since 2025-07-02); the 1,025th closes it."""
_STATE_ORDER: dict[FeedState, int] = {"reconnecting": 0, "connecting": 1, "stale": 2, "live": 3}
"""Which connection's state the feed shows: the worst."""


class BinanceFeed:
    """Live trades (and mark prices) of any number of symbols from Binance USD-M Futures (or
    anything that speaks it).

    Args:
        symbols: The symbols, any case (duplicates once).
        url: WebSocket base, without a route (a ``/market``, ``/stream`` or ``/ws`` suffix is
            dropped: the feed picks the route).
        rest_url: REST base; default Binance's, or the same host over ``http://`` for a
            loopback ``ws://`` url.
        stream: ``aggTrade`` (documented, on ``/market``) or ``trade`` (on ``/public``).
        marks: Also subscribe each symbol's ``@markPrice@1s`` (on ``/market``: ``aggTrade``
            only), delivered to ``sink.on_mark``.
        watchdog_s: Reconnect when a subscribed symbol sends nothing for this long and is not
            found quiet over REST.
        rotate_after_s: Reconnect proactively after this connection age (Binance cuts at 24 h).
        backoff_initial_s: Upper bound of the first reconnect delay.
        backoff_max_s: Cap on reconnect delays.
        stable_after_s: How long a connection must deliver data before the backoff resets.
        rng: Randomness for the jitter; a fresh ``random.Random()`` by default.
        max_streams: Streams per connection before another is opened.
        rest: The REST client to share (its weight budget with it); a new one by default.

    Raises:
        ValueError: An unknown stream kind, mark prices with ``@trade``, or a stream limit
            below what one symbol needs.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        url: str = DEFAULT_WS_URL,
        rest_url: str | None = None,
        stream: StreamKind = "aggTrade",
        marks: bool = False,
        watchdog_s: float = 20.0,
        rotate_after_s: float = 23.5 * 3600,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        stable_after_s: float = 10.0,
        rng: random.Random | None = None,
        max_streams: int = MAX_STREAMS,
        rest: BinanceRest | None = None,
    ) -> None:
        if stream not in ROUTES:
            raise ValueError(f"stream must be 'aggTrade' or 'trade', not {stream!r}")
        if marks and stream != "aggTrade":
            raise ValueError("mark prices are on /market with aggTrade, not with the trade stream")
        if max_streams < (2 if marks else 1):
            raise ValueError(f"max_streams {max_streams} cannot hold one symbol's streams")
        self.stream: StreamKind = stream
        """The trade stream subscribed to."""
        self.marks = marks
        """Whether mark prices are subscribed."""
        self.fetchable = stream == "aggTrade"
        """Whether missed trades can be fetched (aggregate ids; ``@trade`` ids cannot)."""
        self.base_url = base_url(url)
        """The WebSocket base the connections open routes on."""
        self.rest = rest or BinanceRest(rest_url_for(url, rest_url))
        """The REST client (exchange info, server time, backfill), shared with its budget."""
        self.clock = ExchangeClock()
        """The exchange clock estimate."""
        self.backfill = Backfill(self.rest, self.report, self.clock.now_ms)
        """Missed trades recovered over REST, and the count of those lost."""
        self.watchdog_s = watchdog_s
        """Silence of one stream, seconds, after which the connection is replaced."""
        self.stale_after_s = watchdog_s / 4.0
        """Silence of one stream, seconds, after which the state shows ``stale``."""
        self.rotate_after_s = rotate_after_s
        """Connection age, seconds, at which it is replaced."""
        self.stable_after_s = stable_after_s
        """Seconds of data on one connection after which the reconnect backoff starts over."""
        self.max_streams = max_streams
        """Streams per connection."""
        self._backoff = (backoff_initial_s, backoff_max_s, rng or random.Random())
        self._legs: dict[str, Leg] = {}
        self._connections: list[FeedConnection] = []
        self._sink: TradeSink | None = None
        self._stopped = False
        self._changed = asyncio.Event()
        self._checks: set[asyncio.Task[None]] = set()
        self._detail = ""
        self.add_symbols(symbols)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols followed now, upper case, in the order they were added."""
        return tuple(self._legs)

    @property
    def url(self) -> str:
        """The first connection's full WebSocket URL."""
        if not self._connections:
            return self.base_url
        return self._connections[0].url

    @property
    def urls(self) -> tuple[str, ...]:
        """Every connection's URL."""
        return tuple(conn.url for conn in self._connections if conn.streams)

    # -- TradeSource ----------------------------------------------------------------------------

    @property
    def status(self) -> FeedStatus:
        """The feed's state and counters now (a fresh immutable value)."""
        conns = [c for c in self._connections if c.streams] or self._connections[:1]
        now = time.monotonic()
        shown: FeedConnection | None = None
        state: FeedState = "connecting"
        detail = self._detail
        for conn in conns:
            conn_state = conn.state
            stale = [leg for leg in conn.legs.values() if conn.watch.is_stale(leg, now)]
            if conn_state == "live" and stale:
                conn_state = "stale"
                names = ", ".join(leg.symbol for leg in stale[:3])
                more = f" and {len(stale) - 3} more" if len(stale) > 3 else ""
                detail = f"no {names}{more} trades for {now - stale[0].last_seen:.0f} s"
            if shown is None or _STATE_ORDER[conn_state] < _STATE_ORDER[state]:
                shown, state = conn, conn_state
        if self._stopped:
            state = "stopped"
        newest = max(conns, key=lambda c: c.last_time, default=None)
        latency = None
        if newest is not None and newest.last_time:
            at = self.clock.at(newest.last_recv)
            latency = None if at is None else at - newest.last_time
        waiting = shown is not None and state in ("connecting", "reconnecting")
        return FeedStatus(
            state=state,
            reconnects=sum(c.reconnects for c in self._connections),
            gaps=self.backfill.lost,
            malformed=sum(c.malformed for c in self._connections),
            attempt=shown.backoff.attempt if waiting and shown is not None else 0,
            next_try_at=shown.next_try_at if waiting and shown is not None else None,
            latency_ms=latency,
            messages=sum(c.messages for c in self._connections),
            detail=detail,
        )

    @property
    def backfilled(self) -> int:
        """Trades recovered over REST since the start."""
        return self.backfill.recovered

    def exchange_now_ms(self) -> float | None:
        """The exchange clock estimate, ms (None before any measurement or frame)."""
        return self.clock.now_ms()

    async def run(self, sink: TradeSink) -> None:
        """Deliver trades (and mark prices) to ``sink`` until cancelled.

        Args:
            sink: Receives trades in arrival order, mark prices, and hold/release around
                backfills.

        Raises:
            UnknownSymbolError: The exchange does not list a symbol (checked when reachable).
        """
        self._sink = sink
        self.backfill.sink = sink
        self._stopped = False
        if await self._check_exchange(self.symbols):
            await self.measure_offset()
        try:
            await self._supervise(sink)
        finally:
            self._stopped = True
            for conn in self._connections:
                if conn.task is not None:
                    conn.task.cancel()
            for conn in self._connections:
                if conn.task is not None:
                    await asyncio.gather(conn.task, return_exceptions=True)
                    conn.task = None
            for leg in self._legs.values():
                self.backfill.cancel(leg)
            await self.rest.aclose()

    # -- symbols while running ------------------------------------------------------------------

    def add_symbols(self, symbols: Iterable[str]) -> None:
        """Follow more symbols: subscribed on a running connection with room (SUBSCRIBE), or
        on a new one; each gets its own watchdog and gap tracking.

        Args:
            symbols: Symbols in any case; those already followed are ignored.
        """
        new = [s.upper() for s in dict.fromkeys(symbols) if s.upper() not in self._legs]
        if not new:
            return
        per_symbol = 2 if self.marks else 1
        for symbol in new:
            # Stream names must be lower case: Binance acknowledges BTCUSDT@aggTrade and sends
            # nothing.
            name = symbol.lower()
            mark = f"{name}@markPrice@1s" if self.marks else None
            leg = Leg(symbol, f"{name}@{self.stream}", mark)
            self._legs[symbol] = leg
            conn = next(
                (c for c in self._connections if len(c.streams) + per_symbol <= self.max_streams),
                None,
            )
            if conn is None:
                conn = FeedConnection(self, Backoff(*self._backoff))
                self._connections.append(conn)
            conn.add([leg])
        self._changed.set()
        if self._sink is not None:
            task = asyncio.get_running_loop().create_task(self._check_added(new))
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)

    def remove_symbols(self, symbols: Iterable[str]) -> None:
        """Stop following symbols: UNSUBSCRIBE on their connection; their frames are dropped
        from now on, their backfill stops and their bars are released.

        Args:
            symbols: Symbols in any case; those not followed are ignored.
        """
        gone = {s.upper() for s in symbols} & set(self._legs)
        for conn in self._connections:
            for leg in conn.remove(gone):
                self.backfill.drop(leg)
        for symbol in gone:
            del self._legs[symbol]

    async def catch_up_from(self, symbol: str, time_ms: int) -> None:
        """The stitch: deliver every aggregate trade of ``symbol`` with trade time >=
        ``time_ms`` that the live stream has not delivered and will not deliver, exactly once,
        with the symbol's bars held until done.

        Args:
            symbol: A followed symbol, any case.
            time_ms: The first trade time wanted, ms (within the last hour).

        Raises:
            KeyError: The symbol is not followed.
            RuntimeError: The feed is not running (there is no sink to deliver to).
        """
        leg = self._legs[symbol.upper()]
        if self._sink is None or not self.fetchable:
            raise RuntimeError("catch_up_from needs a running aggTrade feed")
        await self.backfill.catch_up_from(leg, time_ms)

    # -- inside ---------------------------------------------------------------------------------

    async def _supervise(self, sink: TradeSink) -> None:
        """Run every connection (those added later too); a failure that is not the network's
        (a bug in the sink) ends the feed with it."""
        while True:
            for conn in self._connections:
                if conn.task is None:
                    conn.task = asyncio.create_task(conn.run(sink), name="binance-connection")
            self._changed.clear()
            changed = asyncio.create_task(self._changed.wait())
            tasks = {c.task for c in self._connections if c.task is not None}
            try:
                done, _ = await asyncio.wait({changed, *tasks}, return_when="FIRST_COMPLETED")
            finally:
                changed.cancel()
            for task in done - {changed}:
                task.result()  # raises what ended it

    async def _check_exchange(self, symbols: Iterable[str]) -> bool:
        """Whether the exchange answered (it lists every symbol, or this raises)."""
        try:
            await self.rest.check_symbols(symbols)
        except UnknownSymbolError:
            raise
        except RestError as exc:
            log.warning("exchange info unavailable (%s): symbols not checked", exc)
            return False
        return True

    async def _check_added(self, symbols: list[str]) -> None:
        """Symbols added while running: one the exchange does not list is dropped, said."""
        try:
            listed = await self.rest.exchange_info()
        except RestError as exc:
            log.warning("exchange info unavailable (%s): %s not checked", exc, symbols)
            return
        unknown = [s for s in symbols if s not in listed]
        if unknown:
            self._detail = str(UnknownSymbolError(unknown[0], len(listed)))
            log.error("%s: not followed", self._detail)
            self.remove_symbols(unknown)

    async def measure_offset(self) -> None:
        """Measure the exchange clock's offset with ``GET /fapi/v1/time``."""
        try:
            sent = time.time()
            server_ms = await self.rest.server_time_ms()
            received = time.time()
        except RestError as exc:
            log.info("server time unavailable (%s)", exc)
            return
        offset = self.clock.set_offset(sent, server_ms, received)
        log.info(
            "exchange clock offset %+.0f ms (round trip %.0f ms)", offset, (received - sent) * 1e3
        )

    def report(self, detail: str) -> None:
        """Take the latest event's sentence (a reconnection, a backfill) for the status line."""
        self._detail = detail
