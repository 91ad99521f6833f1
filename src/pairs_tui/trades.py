"""The trade record every source produces and every consumer reads."""

from __future__ import annotations

import msgspec


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
