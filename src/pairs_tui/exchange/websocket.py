"""The embedded exchange's WebSocket side: routes, subscriptions, control messages, writers.

Binance's routes since the 2026 split:

- ``/market/stream?streams=a@aggTrade/b@aggTrade`` (combined envelope) and
  ``/market/ws/a@aggTrade/b@aggTrade`` (bare payload) serve ``aggTrade``;
- ``/public/stream?streams=a@trade`` and ``/public/ws/...`` serve ``@trade``;
- ``/market`` also serves ``<symbol>@markPrice@1s`` (every second), ``<symbol>@markPrice``
  (every 3 s) and ``!markPrice@arr[@1s]`` (every symbol), on the same combined connection;
- the retired ``/stream`` and ``/ws`` accept, acknowledge and then send nothing for ``aggTrade``
  (``@trade`` still flows there, as measured on Binance); upper-case names are acknowledged and
  silent; SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and GET_PROPERTY are answered;
  more than 10 incoming messages in a second (requests, pings and unsolicited pongs, as Binance
  counts them) close the socket with 1008 "Too many requests"; a SUBSCRIBE that would take a
  connection past 1,024 streams is answered with an error and adds nothing (a handshake asking
  for more is refused with HTTP 400 by the server).

:class:`StreamHub` holds the open connections (:mod:`pairs_tui.exchange.connection`): the
timeline hands it every published trade (:meth:`StreamHub.publish`) and every whole second
(:meth:`StreamHub.publish_marks`), and each connection's writer sends what is queued for it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from pairs_tui.exchange.connection import (
    MAX_STREAMS,
    Connection,
    CountingConnection,
    json_bool,
    parse_route,
    request_decoder,
)
from pairs_tui.exchange.faults import Faults, garbage
from pairs_tui.exchange.tape import SymbolSpec, TapeTrade

log = logging.getLogger("pairs_tui.exchange")

CONTROL_LIMIT = 10
"""Incoming messages per second Binance tolerates before closing with 1008."""
OUTBOX_HIGH = 10_000
"""Frames queued for one connection before the timeline waits for it to read."""
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


class Print:
    """One published aggregate trade and its wire forms, built once and only when wanted.

    Args:
        trade: The trade as published (times and ids shifted).
        event_time: Its push time ``E``, ms.
        spec: Its symbol's exchange info (decimals of prices and quantities).
    """

    __slots__ = ("_agg", "_trades", "event_time", "spec", "trade")

    def __init__(self, trade: TapeTrade, event_time: int, spec: SymbolSpec) -> None:
        self.trade = trade
        self.event_time = event_time
        self.spec = spec
        self._agg: str | None = None
        self._trades: list[str] | None = None

    def agg_payload(self) -> str:
        """The ``aggTrade`` payload, with the 2026 keys."""
        if self._agg is None:
            t = self.trade
            p = f"{t.price:.{self.spec.price_decimals}f}"
            q = f"{t.qty:.{self.spec.qty_decimals}f}"
            self._agg = (
                f'{{"e":"aggTrade","E":{self.event_time},"a":{t.id},"s":"{t.symbol}",'
                f'"p":"{p}","q":"{q}","nq":"{q}","f":{t.first_trade_id},'
                f'"l":{t.last_trade_id},"T":{t.time},"m":{json_bool(t.buyer_maker)},"st":1}}'
            )
        return self._agg

    def trade_payloads(self) -> list[str]:
        """One ``trade`` payload per fill, in trade-id order."""
        if self._trades is None:
            t = self.trade
            p = f"{t.price:.{self.spec.price_decimals}f}"
            qd = self.spec.qty_decimals
            self._trades = [
                f'{{"e":"trade","E":{self.event_time},"T":{t.time},"s":"{t.symbol}",'
                f'"t":{t.first_trade_id + i},"p":"{p}","q":"{q:.{qd}f}","X":"MARKET",'
                f'"m":{json_bool(t.buyer_maker)}}}'
                for i, q in enumerate(t.fill_qtys)
            ]
        return self._trades


class StreamHub:
    """The open WebSocket connections: it serves each one and fans published trades out.

    Args:
        specs: The exchange's symbols.
        faults: The exchange's misbehaviour, read when it matters.
        changed: Set whenever a connection opens or closes (the exchange's ``wait_until``).
    """

    def __init__(
        self, specs: Mapping[str, SymbolSpec], faults: Faults, changed: asyncio.Event
    ) -> None:
        self.specs = specs
        """The exchange's symbols."""
        self.faults = faults
        """The exchange's misbehaviour."""
        self.connections: set[Connection] = set()
        """The connections open now."""
        self.subscribed = asyncio.Event()
        """Set once a client has subscribed to a stream that has data."""
        self.max_incoming_per_s = 0
        """The most messages (requests, pings, unsolicited pongs) one connection sent within
        one second, over every connection so far: what Binance's limit of 10 is checked on."""
        self.pongs = 0
        """Pongs received that answered the exchange's own pings."""
        self._changed = changed
        self._tasks: set[asyncio.Task[None]] = set()
        """Closes in flight (kept so that they are not garbage-collected midway)."""

    # -- the timeline's side --------------------------------------------------------------------

    def publish(self, pr: Print) -> None:
        """Queue one published trade on every connection subscribed to it, unless a fault
        holds it back."""
        symbol = pr.trade.symbol
        faults = self.faults
        if faults.stall_symbol is not None and faults.stall_symbol.upper() == symbol:
            return
        if faults.skip_every and pr.trade.id % faults.skip_every == 0:
            return
        if faults.freeze:
            return
        for conn in self.connections:
            if symbol in conn.agg_symbols:
                payload = pr.agg_payload()
                if conn.combined:
                    stream = f"{symbol.lower()}@aggTrade"
                    conn.push(symbol, f'{{"stream":"{stream}","data":{payload}}}', "trade")
                else:
                    conn.push(symbol, payload, "trade")
            if symbol in conn.trade_symbols:
                stream = f"{symbol.lower()}@trade"
                for payload in pr.trade_payloads():
                    if conn.combined:
                        conn.push(symbol, f'{{"stream":"{stream}","data":{payload}}}', "trade")
                    else:
                        conn.push(symbol, payload, "trade")

    def publish_marks(self, second_ms: int, payload: Callable[[str], str | None]) -> None:
        """Queue the mark-price frames due at a whole second on every connection subscribed:
        ``@markPrice@1s`` every second, ``@markPrice`` every third, ``!markPrice@arr[@1s]``
        with every symbol; unless a fault holds them back.

        Args:
            second_ms: The second, ms (the frames' event time).
            payload: A symbol's ``markPriceUpdate`` payload at that second, None without one.
        """
        faults = self.faults
        if faults.freeze:
            return
        stalled = faults.stall_symbol.upper() if faults.stall_symbol else None
        made: dict[str, str | None] = {}

        def data_of(symbol: str) -> str | None:
            if symbol not in made:
                made[symbol] = payload(symbol) if symbol != stalled else None
            return made[symbol]

        for conn in self.connections:
            for name, (symbol, period) in conn.mark_streams.items():
                if second_ms // 1000 % period:
                    continue
                if symbol == "!":
                    rows = [p for p in map(data_of, self.specs) if p is not None]
                    data: str | None = "[" + ",".join(rows) + "]"
                else:
                    data = data_of(symbol)
                if data is not None:
                    text = f'{{"stream":"{name}","data":{data}}}' if conn.combined else data
                    conn.push(symbol, text, "mark")

    def backlogged(self) -> list[Connection]:
        """The connections with more than :data:`OUTBOX_HIGH` frames queued."""
        return [c for c in self.connections if len(c.outbox) > OUTBOX_HIGH]

    @staticmethod
    async def wait_drained(conns: Iterable[Connection]) -> None:
        """Wait until each of ``conns`` has sent everything queued (or closed)."""
        for conn in conns:
            if not conn.closed:
                conn.drained.clear()
                await conn.drained.wait()

    # -- the tests' side --------------------------------------------------------------------------

    def drop_all(self) -> int:
        """Reset every open connection (no close frame); returns how many."""
        conns = list(self.connections)
        for conn in conns:
            conn.ws.transport.abort()
        return len(conns)

    def close_all(self, code: int, reason: str) -> int:
        """Start closing every open connection with a close frame; returns how many."""
        conns = list(self.connections)
        for conn in conns:
            self._close_soon(conn.ws, code, reason)
        return len(conns)

    # -- one connection ---------------------------------------------------------------------------

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one connection from its handshake to its end (websockets' handler)."""
        assert ws.request is not None
        route = parse_route(ws.request.path)
        assert route is not None  # the handshake check rejected anything else
        if self.faults.drop_after_messages == 0:
            ws.transport.abort()
            return
        silent = self.faults.silent_symbol
        conn = Connection(ws, route, self.specs, frozenset({silent.upper()} if silent else ()))
        if isinstance(ws, CountingConnection):
            ws.on_control_frame = functools.partial(self._on_control_frame, conn)
        self.connections.add(conn)
        self._changed.set()
        if conn.has_data:
            self.subscribed.set()
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
            self.connections.discard(conn)
            self._changed.set()
            writer.cancel()
            if closer is not None:
                closer.cancel()

    async def _write(self, conn: Connection) -> None:
        ws = conn.ws
        bad_sent = 0
        try:
            while True:
                if not conn.outbox:
                    conn.drained.set()
                    conn.wake.clear()
                    await conn.wake.wait()
                    continue
                symbol, text, kind = conn.outbox.popleft()
                if symbol is not None:
                    faults = self.faults
                    every = faults.garbage_every if kind == "trade" else None
                    if every and (conn.sent + 1) % every == 0:
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

    def _count_incoming(self, conn: Connection) -> bool:
        """Count one incoming message; True when the connection is over Binance's limit."""
        now = time.monotonic()
        conn.incoming.append(now)
        while conn.incoming[0] < now - 1.0:
            conn.incoming.popleft()
        self.max_incoming_per_s = max(self.max_incoming_per_s, len(conn.incoming))
        return len(conn.incoming) > CONTROL_LIMIT

    def _on_control_frame(self, conn: Connection, counted: bool) -> None:
        if not counted:
            self.pongs += 1
            return
        if self._count_incoming(conn) and not conn.closed:
            conn.closed = True
            self._close_soon(conn.ws, 1008, "Too many requests")

    def _close_soon(self, ws: ServerConnection, code: int, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(ws.close(code, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _control(self, conn: Connection, message: str | bytes) -> bool:
        """Answer one incoming message; False when the connection was closed for it."""
        if self._count_incoming(conn):
            await conn.ws.close(1008, "Too many requests")
            return False
        try:
            req = request_decoder.decode(message)
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
            if not conn.subscribe(names):
                msg = f"Invalid request: too many streams, at most {MAX_STREAMS} per connection"
                conn.push(None, _error(2, msg, req.id))
                return True
            if conn.has_data:
                self.subscribed.set()
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
            conn.push(None, f'{{"result":{json_bool(conn.combined)},"id":{req.id}}}')
        elif req.method in ("SET_PROPERTY", "GET_PROPERTY"):
            conn.push(None, _error(0, "Unknown property", req.id))
        else:
            variants = ", ".join(_METHODS)
            msg = f"Invalid request: unknown variant {req.method}, expected one of {variants}"
            conn.push(None, _error(2, msg, req.id))
        return True


async def _close_after(ws: ServerConnection, lifetime_s: float) -> None:
    await asyncio.sleep(lifetime_s)
    await ws.close(1000, "lifetime reached")


def _error(code: int, msg: str, request_id: int | None) -> str:
    return msgspec.json.encode({"error": {"code": code, "msg": msg}, "id": request_id}).decode()
