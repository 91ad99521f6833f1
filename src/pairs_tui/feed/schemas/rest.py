"""Binance USD-M REST bodies: typed msgspec Structs and their conversion to our records.

The bodies of ``GET /fapi/v1/aggTrades``, ``/fapi/v1/klines`` and ``/fapi/v1/continuousKlines``
(rows that are JSON arrays, decoded as array-like Structs), ``/fapi/v1/exchangeInfo``,
``/fapi/v1/time``, ``/fapi/v1/ticker/24hr``, ``/fapi/v1/premiumIndex``, ``/fapi/v1/fundingInfo``,
``/fapi/v1/fundingRate`` and Binance's error body ``{"code": -1121, "msg": "Invalid symbol."}``.
As on the WebSocket, unknown keys are ignored and prices and quantities arrive as strings that
msgspec's decoder turns into floats (decode with ``strict=False``). Field names are ours; the
keys are Binance's.
"""

from __future__ import annotations

import msgspec

from pairs_tui.feed.schemas.ws import check_payload
from pairs_tui.records import Bar, MarkPrice, Trade


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


class Kline(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One row of ``/fapi/v1/klines`` or ``/fapi/v1/continuousKlines``, a JSON array
    ``[openTime, o, h, l, c, volume, closeTime, quoteVolume, trades, takerBuyBase,
    takerBuyQuote, ignore]``."""

    open_time: int
    """Start of the interval, ms UTC: the bar's ``ts``."""
    open: float
    """First trade's price."""
    high: float
    """Highest price."""
    low: float
    """Lowest price."""
    close: float
    """Last trade's price."""
    volume: float
    """Base-asset volume."""
    close_time: int
    """End of the interval minus 1 ms."""
    quote_volume: float
    """Quote-asset volume."""
    trades: int
    """Trades in the interval (underlying trades, not aggregate trades)."""
    taker_buy_volume: float
    """Base-asset volume bought by takers."""
    taker_buy_quote_volume: float
    """Quote-asset volume bought by takers."""
    ignore: str | float | None = None
    """Binance's unused last column."""

    def to_bar(self) -> Bar:
        """The row as one leg's :class:`~pairs_tui.records.Bar` (its start is :attr:`open_time`)."""
        return Bar(self.open, self.high, self.low, self.close, self.volume, self.trades)


class RateLimit(msgspec.Struct, frozen=True):
    """One entry of exchange info's ``rateLimits``."""

    kind: str = msgspec.field(name="rateLimitType")
    """``REQUEST_WEIGHT`` or ``ORDERS``."""
    interval: str
    """``SECOND``, ``MINUTE``, ``DAY``."""
    interval_num: int = msgspec.field(name="intervalNum")
    """How many intervals the window spans."""
    limit: int
    """The most weight (or orders) in the window."""


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
    contract_type: str = "PERPETUAL"
    """``PERPETUAL``, ``CURRENT_QUARTER``, ``TRADIFI_PERPETUAL``..."""
    pair: str = ""
    """The underlying pair (``BTCUSDT`` for both the perpetual and the quarterlies), the
    ``pair`` parameter of ``continuousKlines``."""
    quote_asset: str = "USDT"
    """Quote asset."""
    margin_asset: str = "USDT"
    """Margin asset."""
    price_precision: int = 8
    """Decimals of prices."""
    quantity_precision: int = 8
    """Decimals of quantities."""


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
    contract_type: str = msgspec.field(name="contractType", default="PERPETUAL")
    """Contract type."""
    pair: str = ""
    """Underlying pair."""
    quote_asset: str = msgspec.field(name="quoteAsset", default="USDT")
    """Quote asset."""
    margin_asset: str = msgspec.field(name="marginAsset", default="USDT")
    """Margin asset."""
    price_precision: int = msgspec.field(name="pricePrecision", default=8)
    """Decimals of prices."""
    quantity_precision: int = msgspec.field(name="quantityPrecision", default=8)
    """Decimals of quantities."""
    filters: list[SymbolFilter] = []
    """Its filters."""

    def to_symbol_info(self) -> SymbolInfo:
        """The symbol's :class:`SymbolInfo`; an increment the filters lack is 0."""
        tick = next((f.tick_size for f in self.filters if f.filter_type == "PRICE_FILTER"), None)
        step = next((f.step_size for f in self.filters if f.filter_type == "LOT_SIZE"), None)
        symbol = self.symbol.upper()
        return SymbolInfo(
            symbol,
            self.status,
            tick or 0.0,
            step or 0.0,
            contract_type=self.contract_type,
            pair=(self.pair or symbol).upper(),
            quote_asset=self.quote_asset,
            margin_asset=self.margin_asset,
            price_precision=self.price_precision,
            quantity_precision=self.quantity_precision,
        )


class ExchangeInfo(msgspec.Struct, frozen=True):
    """The body of ``/fapi/v1/exchangeInfo`` (``symbols`` and ``rateLimits``)."""

    symbols: list[ExchangeSymbol]
    """Every listed symbol."""
    rate_limits: list[RateLimit] = msgspec.field(name="rateLimits", default=[])
    """The IP's limits."""

    def symbol_infos(self) -> dict[str, SymbolInfo]:
        """Every listed symbol's info by upper-case name."""
        infos = (s.to_symbol_info() for s in self.symbols)
        return {info.symbol: info for info in infos}

    def weight_limit(self) -> int | None:
        """The request weight allowed per minute, or None when exchange info does not say."""
        for limit in self.rate_limits:
            if limit.kind == "REQUEST_WEIGHT" and limit.interval == "MINUTE":
                return limit.limit // max(1, limit.interval_num)
        return None


class ServerTime(msgspec.Struct, frozen=True):
    """The body of ``/fapi/v1/time``."""

    server_time: int = msgspec.field(name="serverTime")
    """The server's clock, ms."""


class Ticker24hr(msgspec.Struct, frozen=True, gc=False):
    """One symbol of ``/fapi/v1/ticker/24hr``: the rolling 24-hour statistics."""

    symbol: str
    """Upper-case symbol."""
    last_price: float = msgspec.field(name="lastPrice")
    """Latest trade price."""
    open_price: float = msgspec.field(name="openPrice")
    """Price 24 hours ago."""
    high_price: float = msgspec.field(name="highPrice")
    """Highest price of the window."""
    low_price: float = msgspec.field(name="lowPrice")
    """Lowest price of the window."""
    volume: float
    """Base-asset volume of the window."""
    quote_volume: float = msgspec.field(name="quoteVolume")
    """Quote-asset (USDT) volume of the window: what a universe is ranked by."""
    price_change_percent: float = msgspec.field(name="priceChangePercent", default=0.0)
    """Change over the window, percent."""
    open_time: int = msgspec.field(name="openTime", default=0)
    """Start of the window, ms UTC."""
    close_time: int = msgspec.field(name="closeTime", default=0)
    """End of the window, ms UTC."""
    count: int = 0
    """Trades in the window."""


class PremiumIndex(msgspec.Struct, frozen=True, gc=False):
    """One symbol of ``/fapi/v1/premiumIndex``: mark, index and funding now.

    A contract without funding (a quarterly) has ``""`` for its rates: they read as 0.
    """

    symbol: str
    """Upper-case symbol."""
    mark_price: float = msgspec.field(name="markPrice")
    """Mark price."""
    index_price: float = msgspec.field(name="indexPrice")
    """Index price."""
    next_funding_time: int = msgspec.field(name="nextFundingTime")
    """Time of the next funding, ms UTC (0 for a contract without funding)."""
    time: int
    """When the values were taken, ms UTC."""
    funding_rate_text: float | str = msgspec.field(name="lastFundingRate", default="")
    """``lastFundingRate`` as sent: see :attr:`funding_rate`."""
    interest_rate_text: float | str = msgspec.field(name="interestRate", default="")
    """``interestRate`` as sent: see :attr:`interest_rate`."""

    @property
    def funding_rate(self) -> float:
        """Funding rate of the coming funding, a fraction (0 without funding)."""
        return _number(self.funding_rate_text) or 0.0

    @property
    def interest_rate(self) -> float:
        """The interest rate in the funding formula (0 without funding)."""
        return _number(self.interest_rate_text) or 0.0

    def to_mark(self) -> MarkPrice:
        """The values as the mark-price stream would carry them."""
        return MarkPrice(
            self.symbol.upper(),
            self.time,
            self.mark_price,
            self.index_price,
            self.funding_rate,
            self.next_funding_time,
        )


class FundingInfo(msgspec.Struct, frozen=True, gc=False):
    """One symbol of ``/fapi/v1/fundingInfo``, which lists only symbols with adjusted funding."""

    symbol: str
    """Upper-case symbol."""
    interval_h: float = msgspec.field(name="fundingIntervalHours")
    """Hours between fundings (8 for symbols not listed)."""
    rate_cap: float = msgspec.field(name="adjustedFundingRateCap", default=0.0)
    """Highest funding rate allowed."""
    rate_floor: float = msgspec.field(name="adjustedFundingRateFloor", default=0.0)
    """Lowest funding rate allowed."""


class FundingRate(msgspec.Struct, frozen=True, gc=False):
    """One past funding of ``/fapi/v1/fundingRate``."""

    symbol: str
    """Upper-case symbol."""
    time: int = msgspec.field(name="fundingTime")
    """When the funding was paid, ms UTC."""
    rate: float = msgspec.field(name="fundingRate")
    """The rate paid, a fraction (longs pay when positive)."""
    mark_price_text: float | str = msgspec.field(name="markPrice", default="")
    """``markPrice`` as sent: see :attr:`mark_price`."""

    @property
    def mark_price(self) -> float | None:
        """The mark price the funding was paid at; None for old fundings (Binance sends
        ``""``)."""
        return _number(self.mark_price_text)


class ApiError(msgspec.Struct, frozen=True):
    """Binance's error body."""

    code: int
    """Binance's error code, e.g. -1121 for an invalid symbol."""
    msg: str = ""
    """Binance's message."""


def _number(value: float | str) -> float | None:
    """A number Binance sends as a string, a number, or ``""`` for none."""
    if isinstance(value, float):
        return value
    try:
        return float(value) if value else None
    except ValueError:
        return None
