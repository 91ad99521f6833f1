"""The tape: what an exchange will print, aggregate trades in publication order, and what it
lists and has printed before.

Binance aggregates fills of one symbol with the same trade time, price and taker side and
contiguous trade ids into one aggregate trade (``@aggTrade``, ``/fapi/v1/aggTrades``), and
still prints each fill on ``@trade``. A :class:`TradeTape` keeps both views: every aggregate
trade with the fills it holds. :func:`recorded_tape` is the real recording that ships with the
package. Any :class:`Tape` may carry a past (1-second bars before its first trade,
:class:`PastSeconds`) and the listings exchangeInfo shows (:class:`Listing`).
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec
import numpy as np
from numpy.typing import NDArray

from pairs_tui.feed.schemas.ws import MalformedFrame, TradePayload, decode_frame

RECORDING = "sessionB_btcusdt_ethusdt_trades.ndjson.gz"
"""The recording in ``pairs_tui/data``: real BTCUSDT and ETHUSDT ``@trade`` frames."""


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


PERPETUAL_DELIVERY_MS = 4_133_404_800_000
"""The ``deliveryDate`` Binance gives every perpetual (2100-12-25)."""


class Listing(msgspec.Struct, frozen=True):
    """How exchangeInfo (and fundingInfo) list one symbol."""

    symbol: str
    """Upper-case symbol."""
    pair: str
    """The underlying pair (``BTCUSDT`` for ``BTCUSDT`` and its quarterlies)."""
    base_asset: str
    """``BTC``."""
    quote_asset: str = "USDT"
    """``USDT`` or ``USDC``."""
    margin_asset: str = "USDT"
    """The margin asset."""
    contract_type: str = "PERPETUAL"
    """``PERPETUAL``, ``CURRENT_QUARTER``, ``NEXT_QUARTER``."""
    status: str = "TRADING"
    """``TRADING``, ``SETTLING``, ``PENDING_TRADING``, ..."""
    delivery_ms: int = PERPETUAL_DELIVERY_MS
    """``deliveryDate``."""
    onboard_ms: int = 1_569_398_400_000
    """``onboardDate`` (BTCUSDT's, 2019-09-25)."""
    funding_hours: int = 8
    """Hours between fundings (Binance: 8, some 4)."""
    funding_cap: str | None = None
    """An adjusted funding-rate cap (and minus it, the floor): listed in fundingInfo."""


def usdt_perpetual(symbol: str) -> Listing:
    """The listing of a plain USDT-margined perpetual."""
    return Listing(symbol, symbol, symbol.removesuffix("USDT"))


@dataclass
class PastSeconds:
    """One symbol's past as 1-second bars, oldest first, ending where its trades begin.

    Prices are in ticks and quantities in steps. An empty second (``fills == 0``) has ``open =
    high = low = close`` = the previous close. Quote volumes are not kept: they are the volumes
    at the bar's typical price ``(high + low) // 2`` ticks.
    """

    open: NDArray[np.int32]
    """Open, ticks."""
    high: NDArray[np.int32]
    """High, ticks."""
    low: NDArray[np.int32]
    """Low, ticks."""
    close: NDArray[np.int32]
    """Close, ticks."""
    volume: NDArray[np.int32]
    """Volume, steps."""
    taker_buy: NDArray[np.int32]
    """Volume bought by takers, steps."""
    fills: NDArray[np.int32]
    """Trades (fills)."""
    aggs: NDArray[np.int32]
    """Aggregate trades."""

    def __len__(self) -> int:
        return len(self.close)

    def quote(self, lo: int, hi: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Quote volume and taker-buy quote volume of seconds ``lo:hi``, tick·step units."""
        typical = (self.high[lo:hi].astype(np.int64) + self.low[lo:hi]) // 2
        return typical * self.volume[lo:hi], typical * self.taker_buy[lo:hi]


class Past(Protocol):
    """Hours of 1-second bars before the tape's first trade, every symbol's of one length."""

    seconds: int
    """Length of the past, seconds (it ends at the second of the tape's first trade)."""

    def has(self, symbol: str) -> bool:
        """Whether ``symbol`` has a past."""
        ...

    def bars(self, symbol: str) -> PastSeconds:
        """The symbol's past (it may be drawn on first use)."""
        ...

    def end_close(self, symbol: str) -> int:
        """The close the symbol's past ends at, ticks (without drawing it when possible)."""
        ...


class FixedPast:
    """A past given as bars.

    Args:
        bars: Every symbol's past, all of one length.

    Raises:
        ValueError: Pasts of different lengths.
    """

    def __init__(self, bars: Mapping[str, PastSeconds]) -> None:
        lengths = {len(b) for b in bars.values()}
        if len(lengths) > 1:
            raise ValueError("every symbol's past must be of one length")
        self.seconds = lengths.pop() if lengths else 0
        """Length of the past, seconds."""
        self._bars = dict(bars)

    def has(self, symbol: str) -> bool:
        """Whether ``symbol`` has a past."""
        return symbol in self._bars

    def bars(self, symbol: str) -> PastSeconds:
        """The symbol's past."""
        return self._bars[symbol]

    def end_close(self, symbol: str) -> int:
        """The close the symbol's past ends at, ticks."""
        return int(self._bars[symbol].close[-1])


class Tape(Protocol):
    """What an exchange publishes: a finite :class:`TradeTape`, or an endless simulation."""

    name: str
    """A short description for logs."""
    specs: dict[str, SymbolSpec]
    """Exchange info of every symbol with trades or a past, by upper-case symbol."""
    listings: dict[str, Listing]
    """How exchangeInfo lists each symbol of ``specs``."""
    start_ms: int
    """Time of the first trade, ms."""

    @property
    def past(self) -> Past | None:
        """The 1-second bars before ``start_ms``'s second, or None."""
        ...

    def passes(self, shift_ms: int, loop: bool) -> Iterator[TapeTrade]:
        """The trades as printed, times shifted by ``shift_ms``; ``loop`` repeats a finite tape
        (later in time, ids continuing, each leg re-based to continue from its last price)."""
        ...


class TradeTape:
    """What an exchange will print: aggregate trades of one or more symbols in publication order.

    Args:
        trades: Aggregate trades in publication order (trade time, ties in arrival order).
        specs: Exchange info of every symbol on the tape.
        name: A short description for logs.
        past: The 1-second bars before the first trade's second, or None.
        listings: How exchangeInfo lists the symbols; USDT perpetuals by default.
    """

    def __init__(
        self,
        trades: Sequence[TapeTrade],
        specs: Mapping[str, SymbolSpec],
        name: str = "tape",
        *,
        past: Past | None = None,
        listings: Mapping[str, Listing] | None = None,
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
        self.past = past
        """The 1-second bars before the first trade's second, or None."""
        self.listings: dict[str, Listing] = {
            s: (listings or {}).get(s) or usdt_perpetual(s) for s in self.specs
        }
        """How exchangeInfo lists each symbol."""

    def with_past(self, past: Past) -> TradeTape:
        """The same tape with a past."""
        return TradeTape(self.trades, self.specs, self.name, past=past, listings=self.listings)

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

    def passes(self, shift_ms: int, loop: bool) -> Iterator[TapeTrade]:
        """The tape's trades as printed, pass after pass when looping.

        Each pass comes later in time (one mean inter-trade interval after the previous, so a
        loop looks like more of the same market rather than a pause), with aggregate and trade
        ids continuing, and each leg's prices scaled so that its first price equals its last
        price of the previous pass: the seam makes no jump the market did not make.

        Args:
            shift_ms: Time shift of the first pass (``rebase``), ms.
            loop: Repeat forever.

        Yields:
            The trades, times, ids and prices shifted.
        """
        span = self.end_ms - self.start_ms
        gap = max(1, round(span / len(self.trades)))
        fill_span = {s: self._fill_span(s) for s in self.specs}
        first: dict[str, float] = {}
        for t in self.trades:
            first.setdefault(t.symbol, t.price)
        factor = dict.fromkeys(self.specs, 1.0)
        last = dict(first)
        replace = msgspec.structs.replace
        for k in itertools.count():
            dt = shift_ms + k * (span + gap)
            for trade in self.trades:
                s = trade.symbol
                price = trade.price
                if factor[s] != 1.0:
                    spec = self.specs[s]
                    tick = float(spec.tick_size)
                    price = round(round(price * factor[s] / tick) * tick, spec.price_decimals)
                if dt or k:
                    trade = replace(
                        trade,
                        time=trade.time + dt,
                        id=trade.id + k * self.counts.get(s, 0),
                        first_trade_id=trade.first_trade_id + k * fill_span[s],
                        price=price,
                    )
                last[s] = price
                yield trade
            if not loop:
                return
            factor = {s: last[s] / first[s] if s in first else 1.0 for s in self.specs}

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


def _decimals(increment: str) -> int:
    # As Binance writes it: "0.10" prints BTCUSDT prices with two decimals ("61800.30").
    return len(increment.partition(".")[2])
