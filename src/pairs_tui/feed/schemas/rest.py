"""Binance USD-M REST bodies: typed msgspec Structs and their conversion to our records.

The bodies of ``GET /fapi/v1/aggTrades`` (a list of rows), ``/fapi/v1/exchangeInfo``,
``/fapi/v1/time`` and Binance's error body ``{"code": -1121, "msg": "Invalid symbol."}``. As on
the WebSocket, unknown keys are ignored and prices and quantities arrive as strings that
msgspec's decoder turns into floats (decode with ``strict=False``). Field names are ours; the
keys are Binance's.
"""

from __future__ import annotations

import msgspec

from pairs_tui.feed.schemas.ws import check_payload
from pairs_tui.records import Trade


class AggTradeRow(msgspec.Struct, frozen=True, gc=False):
    """One row of ``/fapi/v1/aggTrades`` (keys ``a,p,q,nq,f,l,T,m``)."""

    id: int = msgspec.field(name="a")
    """Aggregate trade id."""
    price: float = msgspec.field(name="p")
    """Price."""
    qty: float = msgspec.field(name="q")
    """Quantity."""
    first_trade_id: int = msgspec.field(name="f")
    """First underlying trade id."""
    last_trade_id: int = msgspec.field(name="l")
    """Last underlying trade id."""
    time: int = msgspec.field(name="T")
    """Trade time, ms."""
    buyer_maker: bool = msgspec.field(name="m")
    """True when the buyer was the maker."""

    def __post_init__(self) -> None:
        # The same numbers a frame may not carry (see schemas.ws.check_payload): a page with
        # one is refused whole, and the backfill retries or counts the range as lost.
        check_payload(self.price, self.qty, self.time, None)

    def to_trade(self, symbol: str) -> Trade:
        """The row as a trade of ``symbol``.

        Args:
            symbol: Upper-case symbol the row was requested for.

        Returns:
            The trade, with the aggregate id as its id.
        """
        return Trade(symbol, self.time, self.price, self.qty, self.buyer_maker, self.id)


class SymbolInfo(msgspec.Struct, frozen=True):
    """What the client needs to know about one symbol from exchange info."""

    symbol: str
    """Upper-case symbol."""
    status: str
    """Trading status, ``TRADING`` for a live perpetual."""
    tick_size: float
    """Price increment (PRICE_FILTER)."""
    step_size: float
    """Quantity increment (LOT_SIZE)."""


class SymbolFilter(msgspec.Struct, frozen=True):
    """One entry of a symbol's ``filters`` in exchange info; only two kinds matter here."""

    filter_type: str = msgspec.field(name="filterType")
    """``PRICE_FILTER``, ``LOT_SIZE``, ``MIN_NOTIONAL``…"""
    tick_size: float | None = msgspec.field(name="tickSize", default=None)
    """Price increment, on a PRICE_FILTER."""
    step_size: float | None = msgspec.field(name="stepSize", default=None)
    """Quantity increment, on a LOT_SIZE."""


class ExchangeSymbol(msgspec.Struct, frozen=True):
    """One entry of ``symbols`` in exchange info."""

    symbol: str
    """Symbol."""
    status: str = "TRADING"
    """Trading status."""
    filters: list[SymbolFilter] = []
    """Its filters."""

    def to_symbol_info(self) -> SymbolInfo:
        """The symbol's :class:`SymbolInfo`; an increment the filters lack is 0."""
        tick = next((f.tick_size for f in self.filters if f.filter_type == "PRICE_FILTER"), None)
        step = next((f.step_size for f in self.filters if f.filter_type == "LOT_SIZE"), None)
        return SymbolInfo(self.symbol.upper(), self.status, tick or 0.0, step or 0.0)


class ExchangeInfo(msgspec.Struct, frozen=True):
    """The body of ``/fapi/v1/exchangeInfo`` (only ``symbols`` is read)."""

    symbols: list[ExchangeSymbol]
    """Every listed symbol."""

    def symbol_infos(self) -> dict[str, SymbolInfo]:
        """Every listed symbol's info by upper-case name."""
        infos = (s.to_symbol_info() for s in self.symbols)
        return {info.symbol: info for info in infos}


class ServerTime(msgspec.Struct, frozen=True):
    """The body of ``/fapi/v1/time``."""

    server_time: int = msgspec.field(name="serverTime")
    """The server's clock, ms."""


class ApiError(msgspec.Struct, frozen=True):
    """Binance's error body."""

    code: int
    """Binance's error code, e.g. -1121 for an invalid symbol."""
    msg: str = ""
    """Binance's message."""
