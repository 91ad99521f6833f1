"""The tape: what an exchange will print, aggregate trades in publication order.

Binance aggregates fills of one symbol with the same trade time, price and taker side and
contiguous trade ids into one aggregate trade (``@aggTrade``, ``/fapi/v1/aggTrades``), and
still prints each fill on ``@trade``. A :class:`TradeTape` keeps both views: every aggregate
trade with the fills it holds. :func:`recorded_tape` is the real recording that ships with the
package.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

import msgspec

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


def _decimals(increment: str) -> int:
    # As Binance writes it: "0.10" prints BTCUSDT prices with two decimals ("61800.30").
    return len(increment.partition(".")[2])
