"""A small Binance-compatible exchange on loopback: the demo's data source and the tests' server.

One port serves both the WebSocket routes and the REST calls the client needs, as Binance has
them since the 2026 route split:

- ``/market/stream?streams=a@aggTrade/b@aggTrade`` (combined envelope) and
  ``/market/ws/a@aggTrade/b@aggTrade`` (bare payload) serve ``aggTrade``;
- ``/public/stream?streams=a@trade`` and ``/public/ws/...`` serve ``@trade``;
- the retired ``/stream`` and ``/ws`` accept, acknowledge and then send nothing for ``aggTrade``
  (``@trade`` still flows there, as measured on Binance); upper-case names are acknowledged and
  silent; SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and GET_PROPERTY are answered;
  more than 10 incoming messages in a second (requests, pings and unsolicited pongs, as Binance
  counts them) close the socket with 1008 "Too many requests";
- ``GET /fapi/v1/exchangeInfo``, ``/fapi/v1/time`` (the exchange's own timeline clock),
  ``/fapi/v1/aggTrades?symbol=&fromId=&limit=`` (from the published history) and ``/fapi/v1/ping``.

Trades are published on the exchange's own timeline from a :class:`TradeTape` (the recording
that ships with the package, or a seeded cointegrated simulation): at ``speed`` times real time,
or as fast as the subscribers read (``speed=0``). Trades published while nobody listens go to the
history only, exactly like a real exchange, so a client must backfill them over REST.

:class:`Faults` makes the exchange misbehave on purpose; tests set its fields, also while running,
and :meth:`EmbeddedExchange.drop_connections` and :meth:`EmbeddedExchange.close_connections` hit
the connections open at that moment.
The tapes live in :mod:`pairs_tui.feed.tape` and :mod:`pairs_tui.feed.simulation`; they are
re-exported here, where the demo and the tests have always found them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event

from pairs_tui.feed.faults import Faults, garbage
from pairs_tui.feed.simulation import simulated_tape
from pairs_tui.feed.tape import (
    KNOWN_SPECS,
    RECORDING,
    SymbolSpec,
    TapeTrade,
    TradeTape,
    recorded_tape,
)

__all__ = [
    "KNOWN_SPECS",
    "RECORDING",
    "EmbeddedExchange",
    "Faults",
    "SymbolSpec",
    "TapeTrade",
    "TradeTape",
    "parse_route",
    "recorded_tape",
    "simulated_tape",
]

log = logging.getLogger("pairs_tui.feed.exchange")
_wire_log = logging.getLogger("pairs_tui.feed.exchange.wire")
"""websockets' own logger for the server: one line per request and connection, so it starts
at WARNING (lower it to see every handshake and REST call)."""
if _wire_log.level == logging.NOTSET:
    _wire_log.setLevel(logging.WARNING)

# ---------------------------------------------------------------------------------------------
# The exchange
# ---------------------------------------------------------------------------------------------

Category = Literal["market", "public", "private", "legacy"]

_CONTROL_LIMIT = 10
"""Incoming messages per second Binance tolerates before closing with 1008."""
_OUTBOX_HIGH = 10_000
"""Frames queued for one connection before the timeline waits for it to read."""
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


class _Route(msgspec.Struct, frozen=True):
    category: Category
    combined: bool
    names: tuple[str, ...]


def parse_route(target: str) -> _Route | None:
    """Which WebSocket route a request target asks for.

    Args:
        target: Path and query, e.g. ``/market/stream?streams=btcusdt@aggTrade``.

    Returns:
        The route, or None for a path that is not a stream route.
    """
    url = urlsplit(target)
    parts = [p for p in url.path.split("/") if p]
    category: Category = "legacy"
    if parts and parts[0] in ("market", "public", "private"):
        category = parts.pop(0)  # type: ignore[assignment]
    if not parts:
        return None
    if parts[0] == "stream" and len(parts) == 1:
        streams = parse_qs(url.query).get("streams", [""])[0]
        return _Route(category, True, tuple(s for s in streams.split("/") if s))
    if parts[0] == "ws":
        return _Route(category, False, tuple(parts[1:]))
    return None


class _Request(msgspec.Struct):
    method: str
    params: list[object] = []
    id: int | None = None


_request_decoder = msgspec.json.Decoder(_Request)


class _CountingConnection(ServerConnection):
    """A server socket that reports the client's pings and pongs.

    Binance counts PING and PONG frames with JSON requests against its limit of 10 incoming
    messages a second; websockets handles them below the handler, so they are seen here.
    """

    on_control_frame: Callable[[bool], None] | None = None
    """Called for every ping or pong with True when it counts against the limit (a ping, or a
    pong that answers no ping of ours) and False for a pong that answers one."""

    def process_event(self, event: Event) -> None:
        kind = None
        if isinstance(event, Frame) and self.request is not None:
            if event.opcode is Opcode.PING:
                kind = True
            elif event.opcode is Opcode.PONG:
                kind = bytes(event.data) not in self.pending_pings
        super().process_event(event)
        if kind is not None and self.on_control_frame is not None:
            self.on_control_frame(kind)


class _Connection:
    """One client socket: its route, its subscriptions and the frames waiting to be sent.

    Args:
        ws: The socket.
        route: What its handshake asked for.
        specs: The exchange's symbols.
        silent: Symbols whose streams this connection acknowledges and never sends.
    """

    def __init__(
        self,
        ws: ServerConnection,
        route: _Route,
        specs: Mapping[str, SymbolSpec],
        silent: frozenset[str] = frozenset(),
    ) -> None:
        self.ws = ws
        self.category = route.category
        self.combined = route.combined
        self.specs = specs
        self.subscriptions: list[str] = []
        self.agg_symbols: frozenset[str] = frozenset()
        self.trade_symbols: frozenset[str] = frozenset()
        self.outbox: deque[tuple[str | None, str]] = deque()
        self.wake = asyncio.Event()
        self.drained = asyncio.Event()
        self.closed = False
        self.sent = 0
        self.incoming: deque[float] = deque()
        self.silent = silent
        self.subscribe(route.names)

    def subscribe(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.subscriptions:
                self.subscriptions.append(name)
        self._resolve()

    def unsubscribe(self, names: Iterable[str]) -> None:
        gone = set(names)
        self.subscriptions = [n for n in self.subscriptions if n not in gone]
        self._resolve()

    def _resolve(self) -> None:
        # Which names actually produce data on this route. Everything else was acknowledged
        # and stays silent, as on Binance: wrong route, upper-case symbol, unknown symbol.
        agg: set[str] = set()
        trade: set[str] = set()
        for name in self.subscriptions:
            symbol, _, kind = name.partition("@")
            if symbol != symbol.lower() or symbol.upper() not in self.specs:
                continue
            if symbol.upper() in self.silent:
                continue  # the fault: acknowledged, listed, and never sent
            if kind == "aggTrade" and self.category == "market":
                agg.add(symbol.upper())
            elif kind == "trade" and self.category in ("public", "legacy"):
                trade.add(symbol.upper())
        self.agg_symbols = frozenset(agg)
        self.trade_symbols = frozenset(trade)

    def push(self, symbol: str | None, text: str) -> None:
        self.outbox.append((symbol, text))
        self.wake.set()


class _Print:
    """One published aggregate trade and its wire forms, built once and only when wanted."""

    __slots__ = ("_agg", "_trades", "event_time", "spec", "trade")

    def __init__(self, trade: TapeTrade, event_time: int, spec: SymbolSpec) -> None:
        self.trade = trade
        self.event_time = event_time
        self.spec = spec
        self._agg: str | None = None
        self._trades: list[str] | None = None

    def agg_payload(self) -> str:
        if self._agg is None:
            t = self.trade
            p = f"{t.price:.{self.spec.price_decimals}f}"
            q = f"{t.qty:.{self.spec.qty_decimals}f}"
            self._agg = (
                f'{{"e":"aggTrade","E":{self.event_time},"a":{t.id},"s":"{t.symbol}",'
                f'"p":"{p}","q":"{q}","nq":"{q}","f":{t.first_trade_id},'
                f'"l":{t.last_trade_id},"T":{t.time},"m":{_json_bool(t.buyer_maker)},"st":1}}'
            )
        return self._agg

    def trade_payloads(self) -> list[str]:
        if self._trades is None:
            t = self.trade
            p = f"{t.price:.{self.spec.price_decimals}f}"
            qd = self.spec.qty_decimals
            self._trades = [
                f'{{"e":"trade","E":{self.event_time},"T":{t.time},"s":"{t.symbol}",'
                f'"t":{t.first_trade_id + i},"p":"{p}","q":"{q:.{qd}f}","X":"MARKET",'
                f'"m":{_json_bool(t.buyer_maker)}}}'
                for i, q in enumerate(t.fill_qtys)
            ]
        return self._trades


class EmbeddedExchange:
    """A Binance-compatible exchange on 127.0.0.1, publishing a tape on its own timeline.

    Use it as ``async with EmbeddedExchange(tape, speed=10) as ex:``, or call :meth:`start`
    and :meth:`stop` to run it in an event loop that does other things (the demo).

    Args:
        tape: What to publish.
        host: Interface to listen on.
        port: Port, 0 for an ephemeral one.
        speed: Timeline speed: 1 real time, 10 ten times faster, 0 as fast as clients read.
        rebase: Shift trade times so that the first trade is "now" (the demo); False keeps the
            tape's own times (tests compare against them).
        clock_skew_ms: With ``rebase``, how far the exchange's clock runs ahead of the local
            one (negative: behind), for its trade times, event times and ``/fapi/v1/time``
            alike; a desktop clock is often a second or more off Binance's.
        loop: When the tape ends, go on with it again, later in time and with ids continuing.
        wait_for_subscriber: Start the timeline when the first client subscribes to a stream
            that has data, so that a test or the demo does not miss the start; False starts it
            with the server.
        ping_interval_s: Interval of the server's pings (Binance: every 3 minutes).
        ping_timeout_s: How long a ping may go unanswered before the server drops the client
            (Binance: 10 minutes).
        history_limit: Aggregate trades kept per symbol for ``/fapi/v1/aggTrades``.
        faults: Misbehaviour to show; a fresh :class:`Faults` (none) by default.
    """

    def __init__(
        self,
        tape: TradeTape,
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
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, not {speed}")
        self.tape = tape
        """What the exchange publishes."""
        self.speed = speed
        """Timeline speed (0 = as fast as clients read)."""
        self.rebase = rebase
        """Whether trade times are shifted so that the first trade is "now"."""
        self.clock_skew_ms = clock_skew_ms
        """Exchange clock minus local clock, ms, when rebased."""
        self.loop = loop
        """Whether the tape repeats."""
        self.faults = faults or Faults()
        """Misbehaviour to show; change its fields at any time."""
        self.requests: list[str] = []
        """Every request target (WebSocket handshakes and REST calls), in arrival order."""
        self.max_incoming_per_s = 0
        """The most messages (requests, pings, unsolicited pongs) one connection sent within
        one second, over every connection so far: what Binance's limit of 10 is checked on."""
        self.pongs = 0
        """Pongs received that answered the exchange's own pings."""
        self.finished = asyncio.Event()
        """Set when the whole tape has been published (never, when looping)."""
        self._changed = asyncio.Event()
        self._host = host
        self._port = port
        self._wait_for_subscriber = wait_for_subscriber
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._history_limit = history_limit
        self._server: Server | None = None
        self._timeline: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        """Closes in flight (kept so that they are not garbage-collected midway)."""
        self._history: dict[str, list[TapeTrade]] = {s: [] for s in tape.specs}
        self._published: dict[str, int] = dict.fromkeys(tape.specs, 0)
        self._published_fills: dict[str, int] = dict.fromkeys(tape.specs, 0)
        self._origin_ms: float | None = None
        self._origin_mono = 0.0
        self._last_ms: float | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (and the timeline, unless it waits for a subscriber)."""
        if self._server is not None:
            return
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._process_request,
            create_connection=_CountingConnection,
            compression=None,
            ping_interval=self._ping_interval_s,
            ping_timeout=self._ping_timeout_s,
            close_timeout=1.0,
            max_size=2**16,
            logger=_wire_log,
        )
        self._timeline = asyncio.create_task(self._run_timeline(), name="exchange-timeline")
        log.info("embedded exchange on %s publishing %s", self.url, self.tape.name)

    async def stop(self) -> None:
        """Stop the timeline and close every connection."""
        if self._timeline is not None:
            self._timeline.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timeline
            self._timeline = None
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
        return len(self._connections)

    def now_ms(self) -> float:
        """The exchange's timeline clock, ms (what ``/fapi/v1/time`` answers)."""
        if self._origin_ms is None:
            if self.rebase:
                return time.time() * 1000.0 + self.clock_skew_ms
            return float(self.tape.start_ms)
        if self.speed == 0:
            return self._last_ms if self._last_ms is not None else self._origin_ms
        return self._origin_ms + (time.monotonic() - self._origin_mono) * 1000.0 * self.speed

    def drop_connections(self) -> int:
        """Reset every open WebSocket connection now: no close frame, as a network cut does.

        Returns:
            How many were dropped.
        """
        conns = list(self._connections)
        for conn in conns:
            conn.ws.transport.abort()
        log.info("fault: dropped %d connection(s)", len(conns))
        return len(conns)

    def close_connections(self, code: int = 1000, reason: str = "") -> int:
        """Close every open WebSocket connection now with a close frame.

        Args:
            code: Close code: 1000 as at Binance's 24-hour cut, 1008 for its rate limit.
            reason: Close reason, e.g. ``"Too many requests"``.

        Returns:
            How many were closed.
        """
        conns = list(self._connections)
        loop = asyncio.get_running_loop()
        for conn in conns:
            task = loop.create_task(conn.ws.close(code, reason))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        log.info("fault: closing %d connection(s) with %d %s", len(conns), code, reason)
        return len(conns)

    def published(self, symbol: str) -> int:
        """Aggregate trades of ``symbol`` published so far (sent or not)."""
        return self._published.get(symbol.upper(), 0)

    def published_fills(self, symbol: str) -> int:
        """Fills (``@trade`` prints) of ``symbol`` published so far."""
        return self._published_fills.get(symbol.upper(), 0)

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

    def history(self, symbol: str) -> list[TapeTrade]:
        """The published aggregate trades of ``symbol`` still kept, as printed (times shifted).

        Args:
            symbol: Symbol in any case.

        Returns:
            A copy, in id order.
        """
        return list(self._history.get(symbol.upper(), []))

    # -- timeline -------------------------------------------------------------------------------

    async def _run_timeline(self) -> None:
        if self._wait_for_subscriber:
            await self._subscribed.wait()
        shift = (
            round(time.time() * 1000.0 + self.clock_skew_ms) - self.tape.start_ms
            if self.rebase
            else 0
        )
        self._origin_ms = float(self.tape.start_ms + shift)
        self._origin_mono = time.monotonic()
        specs = self.tape.specs
        for n, (trade, dt, da, df) in enumerate(self.tape.passes(shift, self.loop)):
            t = trade.time + dt
            if self.speed > 0:
                due = self._origin_mono + (t - self._origin_ms) / (1000.0 * self.speed)
                delay = due - time.monotonic()
                if delay > 0.001:
                    await asyncio.sleep(delay)
                event_time = max(t, int(self.now_ms()))
            else:
                event_time = t
                if n % 64 == 63:
                    await asyncio.sleep(0)  # let the writers run between batches
            if dt or da or df:
                trade = msgspec.structs.replace(
                    trade, time=t, id=trade.id + da, first_trade_id=trade.first_trade_id + df
                )
            self._publish(_Print(trade, event_time, specs[trade.symbol]))
            for conn in [c for c in self._connections if len(c.outbox) > _OUTBOX_HIGH]:
                if not conn.closed:
                    conn.drained.clear()
                    await conn.drained.wait()
        self.finished.set()

    def _publish(self, pr: _Print) -> None:
        trade = pr.trade
        symbol = trade.symbol
        history = self._history[symbol]
        history.append(trade)
        if len(history) > self._history_limit * 1.25:
            del history[: len(history) - self._history_limit]
        self._published[symbol] += 1
        self._published_fills[symbol] += len(trade.fill_qtys)
        self._last_ms = float(trade.time)
        self._changed.set()
        faults = self.faults
        if faults.stall_symbol is not None and faults.stall_symbol.upper() == symbol:
            return
        if faults.skip_every and trade.id % faults.skip_every == 0:
            return
        if faults.freeze:
            return
        for conn in self._connections:
            if symbol in conn.agg_symbols:
                payload = pr.agg_payload()
                if conn.combined:
                    stream = f"{symbol.lower()}@aggTrade"
                    conn.push(symbol, f'{{"stream":"{stream}","data":{payload}}}')
                else:
                    conn.push(symbol, payload)
            if symbol in conn.trade_symbols:
                stream = f"{symbol.lower()}@trade"
                for payload in pr.trade_payloads():
                    if conn.combined:
                        conn.push(symbol, f'{{"stream":"{stream}","data":{payload}}}')
                    else:
                        conn.push(symbol, payload)

    # -- WebSocket ------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        route = parse_route(ws.request.path)
        assert route is not None  # _process_request rejected anything else
        if self.faults.drop_after_messages == 0:
            ws.transport.abort()
            return
        silent = self.faults.silent_symbol
        conn = _Connection(
            ws, route, self.tape.specs, frozenset({silent.upper()} if silent else ())
        )
        if isinstance(ws, _CountingConnection):
            ws.on_control_frame = functools.partial(self._on_control_frame, conn)
        self._connections.add(conn)
        self._changed.set()
        if conn.agg_symbols or conn.trade_symbols:
            self._subscribed.set()
        writer = asyncio.create_task(self._write(conn), name="exchange-writer")
        lifetime = self.faults.close_after_s
        closer = None
        if lifetime is not None:
            closer = asyncio.create_task(_close_after(ws, lifetime), name="exchange-lifetime")
        try:
            async for message in ws:
                if not await self._control(conn, message):
                    break
        except ConnectionClosed:
            pass
        finally:
            conn.closed = True
            conn.drained.set()
            self._connections.discard(conn)
            self._changed.set()
            writer.cancel()
            if closer is not None:
                closer.cancel()

    async def _write(self, conn: _Connection) -> None:
        ws = conn.ws
        bad_sent = 0
        try:
            while True:
                if not conn.outbox:
                    conn.drained.set()
                    conn.wake.clear()
                    await conn.wake.wait()
                    continue
                symbol, text = conn.outbox.popleft()
                if symbol is not None:
                    faults = self.faults
                    if faults.garbage_every and (conn.sent + 1) % faults.garbage_every == 0:
                        await ws.send(garbage(bad_sent, text))
                        bad_sent += 1
                    await ws.send(text)
                    conn.sent += 1
                    if faults.drop_after_messages and conn.sent >= faults.drop_after_messages:
                        log.info("fault: dropping a connection after %d messages", conn.sent)
                        ws.transport.abort()
                        return
                    limit = faults.rate_limit_after_messages
                    if limit and conn.sent >= limit:
                        log.info("fault: closing a connection with 1008 after %d messages", limit)
                        await ws.close(1008, "Too many requests")
                        return
                else:
                    await ws.send(text)
        except ConnectionClosed:
            pass
        finally:
            conn.closed = True
            conn.drained.set()

    def _count_incoming(self, conn: _Connection) -> bool:
        """Count one incoming message; True when the connection is over Binance's limit."""
        now = time.monotonic()
        conn.incoming.append(now)
        while conn.incoming[0] < now - 1.0:
            conn.incoming.popleft()
        self.max_incoming_per_s = max(self.max_incoming_per_s, len(conn.incoming))
        return len(conn.incoming) > _CONTROL_LIMIT

    def _on_control_frame(self, conn: _Connection, counted: bool) -> None:
        if not counted:
            self.pongs += 1
            return
        if self._count_incoming(conn) and not conn.closed:
            conn.closed = True
            task = asyncio.get_running_loop().create_task(conn.ws.close(1008, "Too many requests"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _control(self, conn: _Connection, message: str | bytes) -> bool:
        if self._count_incoming(conn):
            await conn.ws.close(1008, "Too many requests")
            return False
        try:
            req = _request_decoder.decode(message)
        except msgspec.DecodeError:
            conn.push(None, _error(3, "Invalid JSON: expected value at line 1 column 1", None))
            return True
        except msgspec.ValidationError as exc:
            conn.push(None, _error(2, f"Invalid request: {exc}", None))
            return True
        if req.id is None or req.id < 0:
            conn.push(
                None, _error(2, "Invalid request: request ID must be an unsigned integer", None)
            )
            return True
        names = [p for p in req.params if isinstance(p, str)]
        if req.method == "SUBSCRIBE":
            conn.subscribe(names)
            if conn.agg_symbols or conn.trade_symbols:
                self._subscribed.set()
            conn.push(None, f'{{"result":null,"id":{req.id}}}')
        elif req.method == "UNSUBSCRIBE":
            conn.unsubscribe(names)
            conn.push(None, f'{{"result":null,"id":{req.id}}}')
        elif req.method == "LIST_SUBSCRIPTIONS":
            conn.push(
                None, msgspec.json.encode({"result": conn.subscriptions, "id": req.id}).decode()
            )
        elif req.method == "SET_PROPERTY" and req.params[:1] == ["combined"]:
            value = req.params[1] if len(req.params) > 1 else None
            if not isinstance(value, bool):
                conn.push(None, _error(1, "Invalid value type: expected Boolean", req.id))
            else:
                conn.combined = value
                conn.push(None, f'{{"result":null,"id":{req.id}}}')
        elif req.method == "GET_PROPERTY" and req.params[:1] == ["combined"]:
            conn.push(None, f'{{"result":{_json_bool(conn.combined)},"id":{req.id}}}')
        elif req.method in ("SET_PROPERTY", "GET_PROPERTY"):
            conn.push(None, _error(0, "Unknown property", req.id))
        else:
            variants = ", ".join(_METHODS)
            msg = f"Invalid request: unknown variant {req.method}, expected one of {variants}"
            conn.push(None, _error(2, msg, req.id))
        return True

    # -- HTTP -----------------------------------------------------------------------------------

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request.path)
        self._changed.set()
        url = urlsplit(request.path)
        if url.path.startswith("/fapi/"):
            return self._rest(url.path, parse_qs(url.query))
        if parse_route(request.path) is None:
            return _json_response(404, {"code": -5000, "msg": f"Path {url.path} is invalid"})
        if self.faults.refuse_handshakes > 0:
            self.faults.refuse_handshakes -= 1
            return conn.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Service Unavailable\n")
        return None

    def _rest(self, path: str, query: dict[str, list[str]]) -> Response:
        if path == "/fapi/v1/ping":
            return _json_response(200, {})
        if path == "/fapi/v1/time":
            return _json_response(200, {"serverTime": int(self.now_ms())})
        if path == "/fapi/v1/exchangeInfo":
            return _json_response(200, self._exchange_info())
        if path == "/fapi/v1/aggTrades":
            return self._agg_trades(query)
        return _json_response(404, {"code": -5000, "msg": f"Path {path}, Method GET is invalid"})

    def _exchange_info(self) -> dict[str, object]:
        symbols = []
        for spec in self.tape.specs.values():
            base = spec.symbol.removesuffix("USDT")
            symbols.append(
                {
                    "symbol": spec.symbol,
                    "pair": spec.symbol,
                    "contractType": "PERPETUAL",
                    "status": "TRADING",
                    "baseAsset": base,
                    "quoteAsset": "USDT",
                    "marginAsset": "USDT",
                    "pricePrecision": spec.price_decimals,
                    "quantityPrecision": spec.qty_decimals,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "tickSize": spec.tick_size,
                            "minPrice": spec.tick_size,
                            "maxPrice": "1000000",
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "stepSize": spec.step_size,
                            "minQty": spec.step_size,
                            "maxQty": "1000",
                        },
                    ],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": int(self.now_ms()),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 2400,
                }
            ],
            "symbols": symbols,
        }

    def _agg_trades(self, query: dict[str, list[str]]) -> Response:
        symbol = query.get("symbol", [""])[0].upper()
        if not symbol:
            msg = "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            return _json_response(400, {"code": -1102, "msg": msg})
        if symbol not in self.tape.specs:
            return _json_response(400, {"code": -1121, "msg": "Invalid symbol."})
        if self.faults.rest_unavailable:
            return _json_response(503, {"code": -1001, "msg": "Service unavailable."})
        try:
            limit = int(query.get("limit", ["500"])[0])
            from_id = int(query["fromId"][0]) if "fromId" in query else None
        except ValueError:
            return _json_response(
                400, {"code": -1100, "msg": "Illegal characters found in a parameter."}
            )
        if not 1 <= limit <= 1000:
            return _json_response(
                400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
            )
        history = self._history[symbol]
        if from_id is None:
            rows = history[-limit:]
        elif not history:
            rows = []
        else:
            # Ids are contiguous in the history, so the row is found by arithmetic.
            start = max(0, from_id - history[0].id)
            rows = history[start : start + limit]
        spec = self.tape.specs[symbol]
        pd, qd = spec.price_decimals, spec.qty_decimals
        body = ",".join(
            f'{{"a":{t.id},"p":"{t.price:.{pd}f}","q":"{t.qty:.{qd}f}","nq":"{t.qty:.{qd}f}",'
            f'"f":{t.first_trade_id},"l":{t.last_trade_id},"T":{t.time},'
            f'"m":{_json_bool(t.buyer_maker)}}}'
            for t in rows
        )
        return _json_response(200, f"[{body}]")


async def _close_after(ws: ServerConnection, lifetime_s: float) -> None:
    await asyncio.sleep(lifetime_s)
    await ws.close(1000, "lifetime reached")


def _json_bool(value: bool) -> str:
    return "true" if value else "false"


def _error(code: int, msg: str, request_id: int | None) -> str:
    return msgspec.json.encode({"error": {"code": code, "msg": msg}, "id": request_id}).decode()


def _json_response(status: int, body: object) -> Response:
    data = body.encode() if isinstance(body, str) else msgspec.json.encode(body)
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Connection", "close"),
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, data)
