"""A small Binance-compatible exchange on loopback: the demo's data source and the tests' server.

One port serves both the WebSocket routes (:mod:`pairs_tui.exchange.websocket`) and the REST
calls the client needs (:mod:`pairs_tui.exchange.rest`), as Binance has them since the 2026
route split. Trades are published on the exchange's own timeline
(:mod:`pairs_tui.exchange.timeline`) from a :class:`~pairs_tui.exchange.tape.Tape` (the
recording that ships with the package, a seeded cointegrated pair from
:mod:`pairs_tui.exchange.simulation`, or the simulated universe of
:mod:`pairs_tui.exchange.market`), after hours of past as 1-second bars when the tape has one.
Trades published while nobody listens go to the history only, exactly like a real exchange, so
a client must backfill them over REST.

The demo runs ``EmbeddedExchange(demo_tape(source, symbols, seed=seed), speed=speed,
rebase=True, loop=True, lead_in_s=DEMO_LEAD_IN_S)``.

:class:`~pairs_tui.exchange.faults.Faults` makes the exchange misbehave on purpose; tests set its
fields, also while running, and :meth:`EmbeddedExchange.drop_connections` and
:meth:`EmbeddedExchange.close_connections` hit the connections open at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import time
from collections.abc import Callable
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import websockets.http11
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from pairs_tui.exchange.connection import MAX_STREAMS, CountingConnection, parse_route
from pairs_tui.exchange.faults import Faults
from pairs_tui.exchange.funding import FundingModel
from pairs_tui.exchange.klines import KlineTrades
from pairs_tui.exchange.rest import TRADE_RETENTION_MS, RestApi, error_response
from pairs_tui.exchange.tape import Tape, TapeTrade
from pairs_tui.exchange.timeline import Timeline
from pairs_tui.exchange.websocket import StreamHub
from pairs_tui.exchange.weights import BAN_S, WEIGHT_LIMIT, RequestWeights, RestCall

log = logging.getLogger("pairs_tui.exchange")
DEMO_LEAD_IN_S = 420.0
"""The demo starts with this many seconds of recent trades (before them, hours of bars)."""
_wire_log = logging.getLogger("pairs_tui.exchange.wire")
"""websockets' own logger for the server: one line per request and connection, so it starts
at WARNING (lower it to see every handshake and REST call)."""
if _wire_log.level == logging.NOTSET:
    _wire_log.setLevel(logging.WARNING)
# 1,024 streams in a URL take about 25 KB; websockets reads request lines up to 8 KiB unless
# told otherwise (it reads this module global at each request). Raised, never lowered.
websockets.http11.MAX_LINE_LENGTH = max(websockets.http11.MAX_LINE_LENGTH, 64 * 1024)


class EmbeddedExchange:
    """A Binance-compatible exchange on 127.0.0.1, publishing a tape on its own timeline.

    Use it as ``async with EmbeddedExchange(tape, speed=10) as ex:``, or call :meth:`start`
    and :meth:`stop` to run it in an event loop that does other things (the demo).

    Args:
        tape: What to publish.
        host: Interface to listen on.
        port: Port, 0 for an ephemeral one.
        speed: Timeline speed: 1 real time, 10 ten times faster, 0 as fast as clients read.
        rebase: Shift trade times so that the first trade (after the lead-in) is "now" (the
            demo); False keeps the tape's own times (tests compare against them).
        clock_skew_ms: With ``rebase``, how far the exchange's clock runs ahead of the local
            one (negative: behind), for its trade times, event times and ``/fapi/v1/time``
            alike; a desktop clock is often a second or more off Binance's.
        loop: When the tape ends, go on with it again, later in time, with ids continuing and
            each leg re-based to continue from its last price.
        wait_for_subscriber: Start the timeline when the first client subscribes to a stream
            that has data, so that a test or the demo does not miss the start; False starts it
            with the server.
        ping_interval_s: Interval of the server's pings (Binance: every 3 minutes).
        ping_timeout_s: How long a ping may go unanswered before the server drops the client
            (Binance: 10 minutes).
        history_limit: Aggregate trades kept per symbol for ``/fapi/v1/aggTrades``.
        faults: Misbehaviour to show; a fresh :class:`Faults` (none) by default.
        weight_limit: REST request weight allowed per UTC minute (Binance: 2400), reported in
            exchangeInfo's ``rateLimits``.
        ban_s: How long a 418 ban lasts, seconds.
        weight_clock: The wall clock the weight minutes and bans follow, seconds since the epoch
            (``time.time``; tests pass one they control).
        lead_in_s: Seconds of the tape published at once when the timeline starts, with times
            before "now": the exchange starts with that much recent trade history (the demo).
        funding: The funding model (rates, mark and index prices); by default one seeded with 7
            over the tape's listings.
        kline_trades: What a kline's trade count counts: ``"fills"`` as Binance does, or
            ``"aggregates"`` (what a client counting aggregate trades builds).
        trade_retention_ms: How far back ``/fapi/v1/aggTrades`` can be searched by time.

    Raises:
        ValueError: ``speed`` is negative (the timeline refuses it).
    """

    def __init__(
        self,
        tape: Tape,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        rebase: bool = False,
        clock_skew_ms: float = 0.0,
        loop: bool = False,
        wait_for_subscriber: bool = True,
        ping_interval_s: float | None = 180.0,
        ping_timeout_s: float | None = 600.0,
        history_limit: int = 1_000_000,
        faults: Faults | None = None,
        weight_limit: int = WEIGHT_LIMIT,
        ban_s: float = BAN_S,
        weight_clock: Callable[[], float] = time.time,
        lead_in_s: float = 0.0,
        funding: FundingModel | None = None,
        kline_trades: KlineTrades = "fills",
        trade_retention_ms: int = TRADE_RETENTION_MS,
    ) -> None:
        self.tape = tape
        """What the exchange publishes."""
        self.requests: list[str] = []
        """Every request target (WebSocket handshakes and REST calls), in arrival order."""
        self._faults = faults or Faults()
        self._changed = asyncio.Event()
        self._timeline = Timeline(
            tape,
            speed=speed,
            rebase=rebase,
            clock_skew_ms=clock_skew_ms,
            loop=loop,
            history_limit=history_limit,
            changed=self._changed,
            lead_in_ms=round(lead_in_s * 1000),
        )
        self._hub = StreamHub(tape.specs, self._faults, self._changed)
        weights = RequestWeights(weight_limit, ban_s, self._faults, weight_clock)
        self.funding = funding or FundingModel(tape.listings)
        """The funding model: rates, mark and index prices."""
        self._rest = RestApi(
            tape,
            self._timeline,
            self._faults,
            weights,
            self.funding,
            kline_trades=kline_trades,
            trade_retention_ms=trade_retention_ms,
        )
        self._timeline.on_second = self._publish_marks
        self._host = host
        self._port = port
        self._wait_for_subscriber = wait_for_subscriber
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._server: Server | None = None
        self._running: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (and the timeline, unless it waits for a subscriber)."""
        if self._server is not None:
            return
        self._server = await serve(
            self._hub.handle,
            self._host,
            self._port,
            process_request=self._process_request,
            create_connection=CountingConnection,
            compression=None,
            ping_interval=self._ping_interval_s,
            ping_timeout=self._ping_timeout_s,
            close_timeout=1.0,
            max_size=2**16,
            logger=_wire_log,
        )
        self._running = asyncio.create_task(
            self._timeline.run(self._hub, self._wait_for_subscriber), name="exchange-timeline"
        )
        if not self._wait_for_subscriber:
            # A client may ask for the recent past at once: it must all be there.
            started = asyncio.ensure_future(self._timeline.started.wait())
            await asyncio.wait({started, self._running}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
        log.info("embedded exchange on %s publishing %s", self.url, self.tape.name)

    async def stop(self) -> None:
        """Stop the timeline and close every connection."""
        if self._running is not None:
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._running
            self._running = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> EmbeddedExchange:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- how it was set up ----------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """Misbehaviour to show; change its fields at any time."""
        return self._faults

    @property
    def speed(self) -> float:
        """Timeline speed (0 = as fast as clients read)."""
        return self._timeline.speed

    @property
    def rebase(self) -> bool:
        """Whether trade times are shifted so that the first trade is "now"."""
        return self._timeline.rebase

    @property
    def clock_skew_ms(self) -> float:
        """Exchange clock minus local clock, ms, when rebased."""
        return self._timeline.clock_skew_ms

    @property
    def loop(self) -> bool:
        """Whether the tape repeats."""
        return self._timeline.loop

    # -- what clients and tests see -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (the ephemeral one when started with port 0)."""
        if self._server is None:
            raise RuntimeError("the exchange is not started")
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """WebSocket base, ``ws://127.0.0.1:PORT``."""
        return f"ws://{self._host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """REST base, ``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self.port}"

    @property
    def connections(self) -> int:
        """WebSocket connections open now."""
        return len(self._hub.connections)

    @property
    def finished(self) -> asyncio.Event:
        """Set when the whole tape has been published (never, when looping)."""
        return self._timeline.finished

    @property
    def max_incoming_per_s(self) -> int:
        """The most messages (requests, pings, unsolicited pongs) one connection sent within
        one second, over every connection so far: what Binance's limit of 10 is checked on."""
        return self._hub.max_incoming_per_s

    @property
    def pongs(self) -> int:
        """Pongs received that answered the exchange's own pings."""
        return self._hub.pongs

    @property
    def rest_calls(self) -> list[RestCall]:
        """Every REST request answered (path, query, weight, status, used weight), in order."""
        return self._rest.calls

    @property
    def weight_used(self) -> int:
        """REST weight used in the current minute (what ``X-MBX-USED-WEIGHT-1M`` says)."""
        return self._rest.weights.used

    def now_ms(self) -> float:
        """The exchange's timeline clock, ms (what ``/fapi/v1/time`` answers)."""
        return self._timeline.now_ms()

    def trades_from_ms(self) -> int:
        """Time of the first trade as printed: the exchange's past (1-second bars) ends here
        and its trades begin (with a lead-in, that long before the timeline started)."""
        return self._timeline.trades_from_ms()

    def published(self, symbol: str) -> int:
        """Aggregate trades of ``symbol`` published so far (sent or not)."""
        return self._timeline.published(symbol.upper())

    def history(self, symbol: str) -> list[TapeTrade]:
        """The published aggregate trades of ``symbol`` still kept, as printed (times shifted).

        Args:
            symbol: Symbol in any case.

        Returns:
            A copy, in id order.
        """
        return self._timeline.history(symbol.upper())

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, re-checking it whenever the exchange's state changes
        (a request arrives, a connection opens or closes, a trade is published).

        Args:
            predicate: The condition, usually on :attr:`requests`, :meth:`published` or a client.
            timeout: Seconds before giving up.

        Raises:
            TimeoutError: The condition did not hold in time.
        """
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def drop_connections(self) -> int:
        """Reset every open WebSocket connection now: no close frame, as a network cut does.

        Returns:
            How many were dropped.
        """
        dropped = self._hub.drop_all()
        log.info("fault: dropped %d connection(s)", dropped)
        return dropped

    def close_connections(self, code: int = 1000, reason: str = "") -> int:
        """Close every open WebSocket connection now with a close frame.

        Args:
            code: Close code: 1000 as at Binance's 24-hour cut, 1008 for its rate limit.
            reason: Close reason, e.g. ``"Too many requests"``.

        Returns:
            How many were closed.
        """
        closed = self._hub.close_all(code, reason)
        log.info("fault: closing %d connection(s) with %d %s", closed, code, reason)
        return closed

    def mark_payload(self, symbol: str, second_ms: int) -> str | None:
        """The ``markPriceUpdate`` payload of ``symbol`` at a whole second, as streamed."""
        return self._rest.funding.payload(symbol.upper(), second_ms)

    def _publish_marks(self, second_ms: int) -> None:
        funding = self._rest.funding
        self._hub.publish_marks(second_ms, lambda symbol: funding.payload(symbol, second_ms))

    # -- HTTP -----------------------------------------------------------------------------------

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Every request first: REST is answered here, a stream handshake goes on (None)."""
        self.requests.append(request.path)
        self._changed.set()
        url = urlsplit(request.path)
        if url.path.startswith("/fapi/"):
            return self._rest.answer(url.path, parse_qs(url.query), url.query)
        route = parse_route(request.path)
        if route is None:
            return error_response(404, -5000, f"Path {url.path} is invalid")
        if len(set(route.names)) > MAX_STREAMS:
            msg = f"Too many streams: {len(set(route.names))}, at most {MAX_STREAMS}"
            return error_response(400, -1102, msg)
        if self._faults.refuse_handshakes > 0:
            self._faults.refuse_handshakes -= 1
            return conn.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Service Unavailable\n")
        return None
