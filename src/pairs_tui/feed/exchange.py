"""A small Binance-compatible exchange on loopback: the demo's data source and the tests' server.

One port serves both the WebSocket routes and the REST calls the client needs, as Binance has
them since the 2026 route split:

- ``/market/stream?streams=a@aggTrade/b@aggTrade`` (combined envelope) and
  ``/market/ws/a@aggTrade/b@aggTrade`` (bare payload) serve ``aggTrade``;
- ``/public/stream?streams=a@trade`` and ``/public/ws/...`` serve ``@trade``;
- the retired ``/stream`` and ``/ws`` accept, acknowledge and then send nothing for ``aggTrade``
  (``@trade`` still flows there, as measured on Binance); upper-case names are acknowledged and
  silent; SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and GET_PROPERTY are answered;
  more than 10 incoming messages in a second close the socket with 1008 "Too many requests";
- ``GET /fapi/v1/exchangeInfo``, ``/fapi/v1/time`` (the exchange's own timeline clock),
  ``/fapi/v1/aggTrades?symbol=&fromId=&limit=`` (from the published history) and ``/fapi/v1/ping``.

Trades are published on the exchange's own timeline from a :class:`TradeTape` (the recording
that ships with the package, or a seeded cointegrated simulation): at ``speed`` times real time,
or as fast as the subscribers read (``speed=0``). Trades published while nobody listens go to the
history only, exactly like a real exchange, so a client must backfill them over REST.

:class:`Faults` makes the exchange misbehave on purpose; tests set its fields, also while running.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import http
import importlib.resources
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import msgspec
import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from pairs_tui.feed.frames import MalformedFrame, TradePayload, decode_frame

log = logging.getLogger("pairs_tui.feed.exchange")
_wire_log = logging.getLogger("pairs_tui.feed.exchange.wire")
"""websockets' own logger for the server: one line per request and connection, so it starts
at WARNING (lower it to see every handshake and REST call)."""
if _wire_log.level == logging.NOTSET:
    _wire_log.setLevel(logging.WARNING)

RECORDING = "sessionB_btcusdt_ethusdt_trades.ndjson.gz"
"""The recording in ``pairs_tui/data``: real BTCUSDT and ETHUSDT ``@trade`` frames."""

# ---------------------------------------------------------------------------------------------
# The tape: what the exchange will print, in order
# ---------------------------------------------------------------------------------------------


class SymbolSpec(msgspec.Struct, frozen=True):
    """Exchange info of one symbol, as exchangeInfo reports it and as prices are printed."""

    symbol: str
    """Upper-case symbol."""
    tick_size: str = "0.01"
    """Price increment, as Binance writes it (``"0.10"`` for BTCUSDT)."""
    step_size: str = "0.001"
    """Quantity increment (``"0.001"``)."""

    @property
    def price_decimals(self) -> int:
        """Decimals of a printed price: those of the tick size."""
        return _decimals(self.tick_size)

    @property
    def qty_decimals(self) -> int:
        """Decimals of a printed quantity: those of the step size."""
        return _decimals(self.step_size)


class TapeTrade(msgspec.Struct, frozen=True, gc=False):
    """One aggregate trade as the exchange prints it, with the fills it aggregates."""

    symbol: str
    """Upper-case symbol."""
    id: int
    """Aggregate trade id ``a``: contiguous per symbol."""
    time: int
    """Trade time ``T``, ms."""
    price: float
    """Price, on the tick grid."""
    qty: float
    """Total quantity of the fills."""
    buyer_maker: bool
    """True when the buyer was the maker."""
    first_trade_id: int
    """Trade id ``f`` of the first fill; the fills have contiguous ids from here."""
    fill_qtys: tuple[float, ...]
    """Quantity of each fill, in trade-id order (what ``@trade`` prints one by one)."""

    @property
    def last_trade_id(self) -> int:
        """Trade id ``l`` of the last fill."""
        return self.first_trade_id + len(self.fill_qtys) - 1


class TradeTape:
    """What an exchange will print: aggregate trades of one or more symbols in publication order.

    Args:
        trades: Aggregate trades in publication order (trade time, ties in arrival order).
        specs: Exchange info of every symbol on the tape.
        name: A short description for logs.
    """

    def __init__(
        self, trades: Sequence[TapeTrade], specs: Mapping[str, SymbolSpec], name: str = "tape"
    ) -> None:
        if not trades:
            raise ValueError("a tape needs at least one trade")
        self.trades: Sequence[TapeTrade] = trades
        """Aggregate trades in publication order."""
        self.specs: dict[str, SymbolSpec] = dict(specs)
        """Exchange info by upper-case symbol."""
        self.name = name
        """A short description for logs."""
        self.start_ms = min(t.time for t in trades)
        """Time of the earliest trade, ms."""
        self.end_ms = max(t.time for t in trades)
        """Time of the latest trade, ms."""
        counts: dict[str, int] = {}
        fills: dict[str, int] = {}
        for t in trades:
            counts[t.symbol] = counts.get(t.symbol, 0) + 1
            fills[t.symbol] = fills.get(t.symbol, 0) + len(t.fill_qtys)
        self.counts = counts
        """Aggregate trades per symbol."""
        self.fill_counts = fills
        """Fills (``@trade`` prints) per symbol."""

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols on the tape, upper case."""
        return tuple(self.specs)

    def __len__(self) -> int:
        return len(self.trades)

    @classmethod
    def from_fills(
        cls,
        fills: Iterable[tuple[str, int, float, float, bool, int]],
        specs: Mapping[str, SymbolSpec],
        *,
        agg_id_start: Mapping[str, int] | None = None,
        name: str = "tape",
    ) -> TradeTape:
        """Aggregate individual fills the way Binance does.

        Consecutive fills of one symbol (other symbols may come in between) with the same trade
        time, price and side, and contiguous trade ids, become one aggregate trade. Aggregate ids
        are sequential per symbol.

        Args:
            fills: ``(symbol, time_ms, price, qty, buyer_maker, trade_id)`` in publication order.
            specs: Exchange info of every symbol.
            agg_id_start: First aggregate id per symbol; default: the symbol's first trade id.
            name: A short description for logs.

        Returns:
            The tape.
        """
        # A group's slot in ``out`` is reserved when it opens, so that publication order
        # follows each group's first fill even when the other symbol prints in between.
        out: list[_Group | TapeTrade] = []
        open_slot: dict[str, int] = {}
        next_id: dict[str, int] = dict(agg_id_start or {})
        for symbol, t, price, qty, maker, trade_id in fills:
            slot = open_slot.get(symbol)
            if slot is not None:
                group = out[slot]
                assert isinstance(group, _Group)
                if group.extends(t, price, maker, trade_id):
                    group.qtys.append(qty)
                    continue
                out[slot] = group.close()
            agg_id = next_id.setdefault(symbol, trade_id)
            next_id[symbol] = agg_id + 1
            open_slot[symbol] = len(out)
            out.append(_Group(symbol, agg_id, t, price, qty, maker, trade_id))
        trades = [g.close() if isinstance(g, _Group) else g for g in out]
        return cls(trades, specs, name)

    def passes(self, shift_ms: int, loop: bool) -> Iterator[tuple[TapeTrade, int, int, int]]:
        """The tape's trades with the shifts of each pass: ``(trade, dt_ms, da, df)``.

        Args:
            shift_ms: Time shift of the first pass (``rebase``), ms.
            loop: Repeat forever, each pass later in time and with ids continuing.

        Yields:
            The trade as on the tape, its time shift, its aggregate-id shift and its trade-id
            shift (the last two depend on the symbol).
        """
        span = self.end_ms - self.start_ms
        # One mean inter-trade interval between passes, so that a loop looks like more of
        # the same market rather than a pause.
        gap = max(1, round(span / len(self.trades)))
        fill_span = {s: self._fill_span(s) for s in self.specs}
        for k in itertools.count():
            dt = shift_ms + k * (span + gap)
            for trade in self.trades:
                s = trade.symbol
                yield trade, dt, k * self.counts.get(s, 0), k * fill_span[s]
            if not loop:
                return

    def _fill_span(self, symbol: str) -> int:
        ids = [t for t in self.trades if t.symbol == symbol]
        if not ids:
            return 0
        return ids[-1].last_trade_id - ids[0].first_trade_id + 1


class _Group:
    """An aggregate trade being built from consecutive fills."""

    __slots__ = ("first_id", "id", "maker", "price", "qtys", "symbol", "time")

    def __init__(
        self, symbol: str, agg_id: int, t: int, price: float, qty: float, maker: bool, first: int
    ) -> None:
        self.symbol = symbol
        self.id = agg_id
        self.time = t
        self.price = price
        self.qtys = [qty]
        self.maker = maker
        self.first_id = first

    def extends(self, t: int, price: float, maker: bool, trade_id: int) -> bool:
        return (
            t == self.time
            and price == self.price
            and maker == self.maker
            and trade_id == self.first_id + len(self.qtys)
        )

    def close(self) -> TapeTrade:
        return TapeTrade(
            self.symbol,
            self.id,
            self.time,
            self.price,
            math.fsum(self.qtys),
            self.maker,
            self.first_id,
            tuple(self.qtys),
        )


KNOWN_SPECS: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec("BTCUSDT", "0.10", "0.001"),
    "ETHUSDT": SymbolSpec("ETHUSDT", "0.01", "0.001"),
    "SOLUSDT": SymbolSpec("SOLUSDT", "0.0100", "0.01"),
    "BNBUSDT": SymbolSpec("BNBUSDT", "0.010", "0.01"),
}
"""Binance's tick and step sizes for a few symbols; others get a 0.01 tick and 0.001 step."""


@functools.cache
def recorded_tape() -> TradeTape:
    """The real BTCUSDT and ETHUSDT trades that ship with the package, aggregated.

    35,389 ``@trade`` frames recorded 2024-08-08 23:54:16 to 2024-08-09 00:00:00 UTC (source:
    nkaz001/hftbacktest, MIT). Aggregate ids are synthetic: they start at each symbol's first
    trade id and run on sequentially.

    Returns:
        The tape (cached: it is immutable).
    """
    raw = importlib.resources.files("pairs_tui").joinpath("data", RECORDING).read_bytes()
    fills = []
    for line in gzip.decompress(raw).splitlines():
        if not line.strip():
            continue
        try:
            data = decode_frame(line).data
        except MalformedFrame:
            continue
        if isinstance(data, TradePayload) and data.to_trade() is not None:
            fills.append((data.symbol, data.time, data.price, data.qty, data.buyer_maker, data.id))
    specs = {s: KNOWN_SPECS[s] for s in ("BTCUSDT", "ETHUSDT")}
    return TradeTape.from_fills(fills, specs, name="recording 2024-08-08 23:54-00:00 UTC")


_SIM_LEVELS: dict[str, tuple[float, float]] = {
    "BTCUSDT": (61_800.0, 0.010),
    "ETHUSDT": (2_680.0, 0.20),
    "SOLUSDT": (145.0, 3.0),
    "BNBUSDT": (520.0, 0.5),
}
"""Starting price and median trade size of the simulated symbols."""


def simulated_tape(
    symbols: tuple[str, str] = ("BTCUSDT", "ETHUSDT"),
    *,
    seed: int = 7,
    duration_s: float = 3600.0,
    rate_per_s: float | tuple[float, float] = (12.0, 8.0),
    beta: float = 0.8,
    half_life_s: float = 60.0,
    spread_sd: float = 0.0005,
    annual_vol: float = 0.6,
    start_ms: int = 1_723_161_256_000,
) -> TradeTape:
    """A seeded cointegrated pair: log B a random walk, log A = a + beta·log B + AR(1) spread.

    The spread is an AR(1) on a 100 ms grid (an Ornstein-Uhlenbeck process sampled), trades
    arrive per leg as a Poisson process, each arrival is a burst of one to a few fills at one
    price and side (so aggregation has work to do), sizes are log-normal, and prices are the
    mid plus or minus half a tick by side, rounded to the tick.

    Args:
        symbols: Target leg A and hedge leg B, upper case.
        seed: Seed of ``numpy.random.default_rng``.
        duration_s: Length of the tape.
        rate_per_s: Arrivals per second, one rate for both legs or one per leg.
        beta: Cointegrating coefficient on log prices.
        half_life_s: Half-life of the spread, seconds.
        spread_sd: Stationary standard deviation of the spread (log units).
        annual_vol: Annualised volatility of leg B.
        start_ms: Time of the start of the tape, ms.

    Returns:
        The tape.
    """
    rng = np.random.default_rng(seed)
    a_sym, b_sym = (s.upper() for s in symbols)
    rates = (rate_per_s, rate_per_s) if isinstance(rate_per_s, float | int) else rate_per_s
    dt = 0.1
    n = max(2, math.ceil(duration_s / dt))
    a0, _ = _SIM_LEVELS.get(a_sym, (100.0, 1.0))
    b0, _ = _SIM_LEVELS.get(b_sym, (10.0, 10.0))
    sigma = annual_vol / math.sqrt(365.0 * 86_400.0) * math.sqrt(dt)
    log_b = math.log(b0) + np.cumsum(rng.normal(0.0, sigma, n))
    phi = math.exp(-math.log(2.0) / half_life_s * dt)
    shocks = rng.normal(0.0, spread_sd * math.sqrt(1.0 - phi * phi), n)
    spread = np.empty(n)
    level = 0.0
    for i in range(n):  # 36k steps per simulated hour: a plain loop is fast enough
        level = phi * level + shocks[i]
        spread[i] = level
    log_a = math.log(a0) - beta * math.log(b0) + beta * log_b + spread
    specs = {s: KNOWN_SPECS.get(s, SymbolSpec(s)) for s in (a_sym, b_sym)}
    fills: list[tuple[str, int, float, float, bool, int]] = []
    for symbol, logs, rate in ((a_sym, log_a, rates[0]), (b_sym, log_b, rates[1])):
        fills.extend(_simulated_fills(rng, symbol, specs[symbol], logs, dt, rate, start_ms))
    fills.sort(key=lambda f: f[1])  # stable: each leg's bursts stay in trade-id order
    return TradeTape.from_fills(fills, specs, name=f"simulation seed {seed}")


def _simulated_fills(
    rng: np.random.Generator,
    symbol: str,
    spec: SymbolSpec,
    logs: np.ndarray,
    dt: float,
    rate: float,
    start_ms: int,
) -> list[tuple[str, int, float, float, bool, int]]:
    duration = len(logs) * dt
    arrivals = np.sort(rng.uniform(0.0, duration, rng.poisson(rate * duration)))
    tick = float(spec.tick_size)
    step = float(spec.step_size)
    median = _SIM_LEVELS.get(symbol, (100.0, 1.0))[1]
    mids = np.exp(logs[np.minimum((arrivals / dt).astype(np.int64), len(logs) - 1)])
    sells = rng.random(len(arrivals)) < 0.5
    prices = np.round((mids + np.where(sells, -tick / 2, tick / 2)) / tick) * tick
    bursts = rng.geometric(0.6, len(arrivals))
    out: list[tuple[str, int, float, float, bool, int]] = []
    trade_id = 1_000_000_000 + int(rng.integers(0, 1_000_000))
    pd, qd = spec.price_decimals, spec.qty_decimals
    for t, price, sell, burst in zip(arrivals, prices, sells, bursts, strict=True):
        t_ms = start_ms + int(t * 1000.0)
        p = round(float(price), pd)
        sizes = np.maximum(np.round(median * rng.lognormal(0.0, 1.0, burst) / step) * step, step)
        for q in sizes:
            out.append((symbol, t_ms, p, round(float(q), qd), bool(sell), trade_id))
            trade_id += 1
    return out


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------


@dataclass
class Faults:
    """Misbehaviour on demand. Each field is read when it matters, so tests may change it live."""

    refuse_handshakes: int = 0
    """Answer the next N WebSocket handshakes with HTTP 503 (counts down)."""
    drop_after_messages: int | None = None
    """Abort every connection (TCP reset, no close frame) after sending it N data messages;
    0 drops right after the handshake (a server that accepts and drops)."""
    garbage_every: int | None = None
    """Send an undecodable frame (truncated, not JSON, or missing keys) before every Nth data
    message of a connection."""
    stall_symbol: str | None = None
    """Stop sending this symbol on every socket while the others flow (it is still published
    and served by REST), like Binance's stalled server streams."""
    skip_every: int | None = None
    """Leave aggregate trades whose id is a multiple of N out of every socket; REST still has
    them, so only a backfill recovers them."""
    close_after_s: float | None = None
    """Close each new connection cleanly (1000) after this lifetime, like Binance's 24 h cut."""
    rest_unavailable: bool = False
    """Answer ``/fapi/v1/aggTrades`` with HTTP 503, so that gaps cannot be backfilled."""


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


class _Connection:
    """One client socket: its route, its subscriptions and the frames waiting to be sent."""

    def __init__(self, ws: ServerConnection, route: _Route, specs: Mapping[str, SymbolSpec]):
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
        self.loop = loop
        """Whether the tape repeats."""
        self.faults = faults or Faults()
        """Misbehaviour to show; change its fields at any time."""
        self.requests: list[str] = []
        """Every request target (WebSocket handshakes and REST calls), in arrival order."""
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
                return time.time() * 1000.0
            return float(self.tape.start_ms)
        if self.speed == 0:
            return self._last_ms if self._last_ms is not None else self._origin_ms
        return self._origin_ms + (time.monotonic() - self._origin_mono) * 1000.0 * self.speed

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
        shift = round(time.time() * 1000.0) - self.tape.start_ms if self.rebase else 0
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
        conn = _Connection(ws, route, self.tape.specs)
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
        garbage = itertools.cycle(_GARBAGE)
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
                        bad = next(garbage)
                        await ws.send(text[: len(text) // 2] if bad is None else bad)
                    await ws.send(text)
                    conn.sent += 1
                    if faults.drop_after_messages and conn.sent >= faults.drop_after_messages:
                        log.info("fault: dropping a connection after %d messages", conn.sent)
                        ws.transport.abort()
                        return
                else:
                    await ws.send(text)
        except ConnectionClosed:
            pass
        finally:
            conn.closed = True
            conn.drained.set()

    async def _control(self, conn: _Connection, message: str | bytes) -> bool:
        now = time.monotonic()
        conn.incoming.append(now)
        while conn.incoming[0] < now - 1.0:
            conn.incoming.popleft()
        if len(conn.incoming) > _CONTROL_LIMIT:
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


_GARBAGE: tuple[str | None, ...] = (
    None,  # the next frame cut in half
    "\x00\x01 not json at all",
    '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1}}',  # keys missing
)


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


def _decimals(increment: str) -> int:
    # As Binance writes it: "0.10" prints BTCUSDT prices with two decimals ("61800.30").
    return len(increment.partition(".")[2])
