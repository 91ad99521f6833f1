"""One client's WebSocket connection on the embedded exchange: its route, its subscriptions
(what each stream name produces on that route) and the frames waiting to be sent.

Stream names produce data only where Binance serves them: ``<symbol>@aggTrade`` and
``<symbol>@markPrice[@1s]`` (``!markPrice@arr[@1s]`` for every symbol) on ``/market``,
``<symbol>@trade`` on ``/public`` and the retired ``/stream``, ``/ws``; anything else is
acknowledged and silent. One connection holds at most :data:`MAX_STREAMS` streams.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

from pairs_tui.exchange.tape import SymbolSpec

Category = Literal["market", "public", "private", "legacy"]
"""The route family a stream path starts with; ``legacy`` for the retired ``/stream``, ``/ws``."""
FrameKind = Literal["trade", "mark"]
"""What a queued data frame carries (faults that garble frames garble trades only)."""
MAX_STREAMS = 1024
"""Streams one connection may hold (Binance's limit since 2025-07-02)."""


class Route(msgspec.Struct, frozen=True):
    """What a WebSocket handshake asks for."""

    category: Category
    """The route family."""
    combined: bool
    """True for ``/stream?streams=`` (envelopes), False for ``/ws/...`` (bare payloads)."""
    names: tuple[str, ...]
    """The stream names in the path or query, as written."""


def parse_route(target: str) -> Route | None:
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
        return Route(category, True, tuple(s for s in streams.split("/") if s))
    if parts[0] == "ws":
        return Route(category, False, tuple(parts[1:]))
    return None


class Request(msgspec.Struct):
    """A control message: ``{"method": ..., "params": [...], "id": ...}``."""

    method: str
    params: list[object] = []
    id: int | None = None


request_decoder = msgspec.json.Decoder(Request)
"""Decodes a :class:`Request`."""


class CountingConnection(ServerConnection):
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


class Connection:
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
        route: Route,
        specs: Mapping[str, SymbolSpec],
        silent: frozenset[str] = frozenset(),
    ) -> None:
        self.ws = ws
        """The socket."""
        self.category = route.category
        """The route family, which decides what data a subscription produces."""
        self.combined = route.combined
        """Envelopes (True) or bare payloads; SET_PROPERTY may change it."""
        self.specs = specs
        """The exchange's symbols."""
        self.subscriptions: list[str] = []
        """Stream names subscribed to, in order, whether they produce data or not."""
        self.agg_symbols: frozenset[str] = frozenset()
        """Upper-case symbols whose ``@aggTrade`` this connection is sent."""
        self.trade_symbols: frozenset[str] = frozenset()
        """Upper-case symbols whose ``@trade`` this connection is sent."""
        self.mark_streams: dict[str, tuple[str, int]] = {}
        """Mark-price streams this connection is sent: name to (upper-case symbol, or ``!``
        for every symbol, and the period in seconds, 1 or 3)."""
        self.outbox: deque[tuple[str | None, str, FrameKind | None]] = deque()
        """Frames to send, each with its symbol and kind (None, None for a control reply)."""
        self.wake = asyncio.Event()
        """Set when a frame is queued."""
        self.drained = asyncio.Event()
        """Set when the outbox is empty (or the connection is closed)."""
        self.closed = False
        """The socket is closed or closing."""
        self.sent = 0
        """Data frames sent."""
        self.incoming: deque[float] = deque()
        """Monotonic times of the incoming messages of the last second."""
        self.silent = silent
        """Symbols acknowledged and never sent (the ``silent_symbol`` fault)."""
        self.subscribe(route.names)

    def subscribe(self, names: Iterable[str]) -> bool:
        """Add stream names, keeping the order and skipping those already subscribed.

        Args:
            names: Stream names.

        Returns:
            False, and nothing added, when the connection would hold more than
            :data:`MAX_STREAMS` streams.
        """
        new = [n for n in dict.fromkeys(names) if n not in self.subscriptions]
        if len(self.subscriptions) + len(new) > MAX_STREAMS:
            return False
        self.subscriptions += new
        self._resolve()
        return True

    def unsubscribe(self, names: Iterable[str]) -> None:
        """Remove stream names."""
        gone = set(names)
        self.subscriptions = [n for n in self.subscriptions if n not in gone]
        self._resolve()

    def _resolve(self) -> None:
        # Which names actually produce data on this route. Everything else was acknowledged
        # and stays silent, as on Binance: wrong route, upper-case symbol, unknown symbol.
        agg: set[str] = set()
        trade: set[str] = set()
        marks: dict[str, tuple[str, int]] = {}
        for name in self.subscriptions:
            if name in ("!markPrice@arr", "!markPrice@arr@1s"):
                if self.category == "market":
                    marks[name] = ("!", 1 if name.endswith("@1s") else 3)
                continue
            symbol, _, kind = name.partition("@")
            if symbol != symbol.lower() or symbol.upper() not in self.specs:
                continue
            if symbol.upper() in self.silent:
                continue  # the fault: acknowledged, listed, and never sent
            if kind == "aggTrade" and self.category == "market":
                agg.add(symbol.upper())
            elif kind == "trade" and self.category in ("public", "legacy"):
                trade.add(symbol.upper())
            elif kind in ("markPrice", "markPrice@1s") and self.category == "market":
                marks[name] = (symbol.upper(), 1 if kind.endswith("@1s") else 3)
        self.agg_symbols = frozenset(agg)
        self.trade_symbols = frozenset(trade)
        self.mark_streams = marks

    @property
    def has_data(self) -> bool:
        """Whether any subscription produces data."""
        return bool(self.agg_symbols or self.trade_symbols or self.mark_streams)

    def push(self, symbol: str | None, text: str, kind: FrameKind | None = None) -> None:
        """Queue a frame: data of ``symbol`` of a kind, or a control reply (None, None)."""
        self.outbox.append((symbol, text, kind))
        self.wake.set()


def json_bool(value: bool) -> str:
    """``true`` or ``false``, as JSON writes it."""
    return "true" if value else "false"
