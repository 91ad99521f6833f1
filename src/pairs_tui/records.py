"""The records every stage shares: a trade, a bar, both legs' bars, and the timeframes.

A leaf module: it imports nothing from the package, so the feed, the bar builder, the analytics,
the outputs and the screen can all speak in these types without importing each other.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

BarTimeframe = Literal["1s", "1m", "5m"]
"""A bar timeframe (keys 1, 2, 3)."""

Timeframe = Literal["tick", "1s", "1m", "5m"]
"""What the monitor shows: one row per trade (key 0), or bars of a timeframe."""

TICK: Final = "tick"
"""The tick timeframe: one row per trade of either leg, the other leg's price as of it."""

TIMEFRAMES: Final[dict[BarTimeframe, int]] = {"1s": 1_000, "1m": 60_000, "5m": 300_000}
"""Every bar timeframe and its length in milliseconds, shortest first."""


PriceMode = Literal["log", "raw"]
"""Log prices (beta is an elasticity) or raw prices (beta is a quantity ratio)."""

HedgeMethod = Literal["ols", "ols0", "huber", "kalman"]
"""How the hedge behind the spread is fitted: OLS, OLS through the origin, Huber, Kalman."""


def timeframe_of(ms: int) -> BarTimeframe | None:
    """The timeframe whose bars last ``ms`` milliseconds, or None."""
    return next((name for name, length in TIMEFRAMES.items() if length == ms), None)


OHLCV: Final = ("open", "high", "low", "close", "volume")
"""A bar's prices and volume, in the order every table of bars keeps them."""


class Trade(msgspec.Struct, frozen=True, gc=False):
    """One trade as the exchange printed it.

    Prices and quantities are float64: exact enough for analytics, and never used as ids.
    """

    symbol: str
    """Upper-case symbol, e.g. ``BTCUSDT``."""
    time: int
    """Trade time ``T``, milliseconds since the epoch, UTC."""
    price: float
    """Trade price."""
    qty: float
    """Quantity, always positive."""
    buyer_maker: bool
    """True when the buyer was the maker, i.e. the taker sold."""
    id: int = -1
    """Aggregate trade id ``a`` (aggTrade) or trade id ``t`` (trade); -1 when unknown."""


class Bar(msgspec.Struct, frozen=True, gc=False):
    """OHLCV of one leg over one bucket, plus its trade count."""

    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int

    @classmethod
    def flat(cls, close: float) -> Bar:
        """A bucket without trades: the previous close repeated, volume 0."""
        return cls(close, close, close, close, 0.0, 0)


class PairBar(msgspec.Struct, frozen=True, gc=False):
    """Both legs' bars for one bucket. A leg is None until its first trade."""

    ts: int
    """Bucket start, ms UTC."""
    a: Bar | None
    """The target leg ``y``."""
    b: Bar | None
    """The hedge leg ``x``."""


class MarkPrice(msgspec.Struct, frozen=True, gc=False):
    """One ``<symbol>@markPrice@1s`` update: the mark, the index and the funding in force."""

    symbol: str
    """Upper-case symbol."""
    time: int
    """Event time ``E``, ms UTC."""
    mark: float
    """Mark price ``p``."""
    index: float
    """Index price ``i``."""
    funding_rate: float
    """Funding rate ``r`` of the coming funding, a fraction (0.0001 is 1 bp)."""
    next_funding_time: int
    """Time ``T`` of the next funding, ms UTC."""
