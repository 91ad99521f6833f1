"""The exchange's 1-second bars, from its past and from every published trade, and klines folded
from them.

Every kline the exchange serves, of any interval, is folded from one series of 1-second bars per
symbol: the past (bars made by a model, :class:`PastSeconds`) followed by the bars of the trades
published since (:meth:`SecondBars.add`). So klines of every interval agree with each other and
with the 1s continuous klines, and a kline's OHLCV is exactly that of the trades published in it.

Prices are kept in ticks and quantities in steps (integers), so a kline's volume is the exact
decimal sum of its trades' quantities, never a float sum; quote volumes are in tick·step units.
A second without a trade repeats the previous close with volume 0 and no trades.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from pairs_tui.exchange.tape import Past, PastSeconds, SymbolSpec, TapeTrade

Ints = NDArray[np.int64]
"""A column of integers."""


def fixed(units: int, decimals: int) -> str:
    """``units`` of ``10**-decimals`` as a decimal string: ``fixed(618003, 1) == "61800.3"``."""
    if decimals == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def _units(increment: str, decimals: int) -> int:
    whole, _, frac = increment.partition(".")
    return int(whole + frac.ljust(decimals, "0")[:decimals] if decimals else whole)


class Grid:
    """A symbol's price and quantity grids: ticks and steps to Binance's decimal strings.

    Args:
        spec: The symbol's exchange info.
    """

    def __init__(self, spec: SymbolSpec) -> None:
        self.price_decimals = spec.price_decimals
        """Decimals of a printed price."""
        self.qty_decimals = spec.qty_decimals
        """Decimals of a printed quantity."""
        self.tick = float(spec.tick_size)
        """The tick size."""
        self.step = float(spec.step_size)
        """The step size."""
        self.tick_units = _units(spec.tick_size, self.price_decimals)
        """The tick in units of the last price decimal (``"0.10"`` with 2 decimals: 10)."""
        self.step_units = _units(spec.step_size, self.qty_decimals)
        """The step in units of the last quantity decimal."""

    def ticks(self, price: float) -> int:
        """A price on the grid, in ticks."""
        return round(price / self.tick)

    def steps(self, qty: float) -> int:
        """A quantity on the grid, in steps."""
        return round(qty / self.step)

    def price(self, ticks: int) -> str:
        """Ticks as a printed price."""
        return fixed(ticks * self.tick_units, self.price_decimals)

    def qty(self, steps: int) -> str:
        """Steps as a printed quantity."""
        return fixed(steps * self.step_units, self.qty_decimals)

    def quote(self, tick_steps: int) -> str:
        """A quote amount in tick·step units, printed exactly."""
        units = tick_steps * self.tick_units * self.step_units
        return fixed(units, self.price_decimals + self.qty_decimals)


_FIELDS = ("open", "high", "low", "close", "volume", "taker_buy", "quote", "taker_quote")
_COUNTS = ("fills", "aggs")
_LIVE_TYPES = dict.fromkeys(("open", "high", "low", "close", "fills", "aggs"), np.int32)
"""Prices in ticks and counts fit 32 bits; volumes and quote amounts take 64 (56 bytes a
second of a symbol once it trades)."""


class Seconds:
    """Columns of consecutive 1-second bars (a slice of a :class:`SecondBars`)."""

    __slots__ = (*_FIELDS, *_COUNTS)

    def __init__(self, columns: dict[str, Ints]) -> None:
        for name in (*_FIELDS, *_COUNTS):
            setattr(self, name, columns[name])

    open: Ints
    high: Ints
    low: Ints
    close: Ints
    volume: Ints
    taker_buy: Ints
    quote: Ints
    taker_quote: Ints
    fills: Ints
    aggs: Ints

    def __len__(self) -> int:
        return len(self.close)


class SecondBars:
    """One symbol's 1-second bars: its past, then one bar per second of published trades.

    Index 0 is the first second of the past (or, without a past, the first second of the
    tape); ``origin_s`` places it in time, and may move until the first trade is added (a
    rebased exchange's past ends "now" until its timeline starts).

    Args:
        spec: The symbol's exchange info.
        past: The exchange's past (this symbol's is drawn when first needed), or None.
    """

    def __init__(self, spec: SymbolSpec, past: Past | None = None) -> None:
        self.grid = Grid(spec)
        """Ticks and steps to decimal strings."""
        self.symbol = spec.symbol
        """Upper-case symbol."""
        self._past = past if past is not None and past.has(spec.symbol) else None
        self.past_len = self._past.seconds if self._past is not None else 0
        """Seconds of past."""
        self.first: int | None = 0 if self.past_len else None
        """Index of the first second with data (none before it: no kline), None while empty."""
        self._last_close: int | None = None
        self.last_trade: TapeTrade | None = None
        """The latest trade added."""
        self._live: dict[str, NDArray[np.signedinteger[Any]]] = {
            name: np.zeros(0, _LIVE_TYPES.get(name, np.int64)) for name in (*_FIELDS, *_COUNTS)
        }
        self._n = 0  # live seconds materialised
        self._bar: list[int] = []  # the live second being filled, as the columns' values

    @property
    def past(self) -> PastSeconds | None:
        """The symbol's past bars, or None."""
        return self._past.bars(self.symbol) if self._past is not None else None

    @property
    def last_close(self) -> int | None:
        """The latest close, ticks (the past's last, before any trade)."""
        if self._last_close is None and self._past is not None:
            self._last_close = self._past.end_close(self.symbol)
        return self._last_close

    @property
    def size(self) -> int:
        """Seconds materialised (past and live), up to the last second with a trade."""
        return self.past_len + self._n

    def add(self, trade: TapeTrade, index: int) -> None:
        """Add one published trade, in publication order, to its second.

        Args:
            trade: The trade as published.
            index: Its second's index (its second minus ``origin_s``); never before the last.
        """
        grid = self.grid
        p = grid.ticks(trade.price)
        q = grid.steps(trade.qty)
        buy = 0 if trade.buyer_maker else q
        fills = len(trade.fill_qtys)
        if self.first is None:
            self.first = index
        live = index - self.past_len
        if live < 0:
            raise ValueError(f"a trade at second {index} falls in the past ({self.past_len} s)")
        bar = self._bar
        if live == self._n - 1:
            bar[1] = max(bar[1], p)
            bar[2] = min(bar[2], p)
            bar[3] = p
            bar[4] += q
            bar[5] += buy
            bar[6] += p * q
            bar[7] += p * buy
            bar[8] += fills
            bar[9] += 1
        else:
            if live < self._n:
                raise ValueError(f"trade {trade.id} of {trade.symbol} is out of time order")
            self._grow(live + 1)
            c = self.last_close
            if c is not None and live > self._n:
                # Seconds without a trade repeat the previous close.
                for name in ("open", "high", "low", "close"):
                    self._live[name][self._n : live] = c
            self._n = live + 1
            self._bar = bar = [p, p, p, p, q, buy, p * q, p * buy, fills, 1]
        for name, value in zip((*_FIELDS, *_COUNTS), bar, strict=True):
            self._live[name][live] = value
        self._last_close = p
        self.last_trade = trade

    def _grow(self, size: int) -> None:
        capacity = len(self._live["close"])
        if size <= capacity:
            return
        capacity = max(size, 2 * capacity, 4096)
        for name, column in self._live.items():
            grown = np.zeros(capacity, column.dtype)
            grown[: self._n] = column[: self._n]
            self._live[name] = grown

    def seconds(self, lo: int, hi: int) -> Seconds:
        """The materialised bars of seconds ``lo:hi`` (clipped to what exists).

        Args:
            lo: First index.
            hi: Index after the last.

        Returns:
            The columns, past and live joined.
        """
        lo = max(lo, 0)
        hi = min(hi, self.size)
        parts: list[dict[str, Ints]] = []
        past = self.past
        if past is not None and lo < self.past_len:
            end = min(hi, self.past_len)
            quote, taker_quote = past.quote(lo, end)
            cols = {n: getattr(past, n)[lo:end].astype(np.int64) for n in ("open", "high", "low")}
            cols |= {
                n: getattr(past, n)[lo:end].astype(np.int64)
                for n in ("close", "volume", "taker_buy", "fills", "aggs")
            }
            cols |= {"quote": quote, "taker_quote": taker_quote}
            parts.append(cols)
        a, b = max(lo - self.past_len, 0), max(hi - self.past_len, 0)
        if b > a:
            parts.append({n: c[a:b].astype(np.int64) for n, c in self._live.items()})
        if not parts:
            return Seconds({n: np.zeros(0, np.int64) for n in (*_FIELDS, *_COUNTS)})
        if len(parts) == 1:
            return Seconds(parts[0])
        return Seconds({n: np.concatenate([p[n] for p in parts]) for n in parts[0]})

    def close_before(self, index: int) -> int | None:
        """The close carried into second ``index`` (the last close before it), ticks."""
        if self.first is None or index <= self.first:
            return None
        i = min(index, self.size) - 1
        past = self.past
        if past is not None and i < self.past_len:
            return int(past.close[i])
        return int(self._live["close"][i - self.past_len])


class Kline:
    """One folded kline, in ticks, steps and tick·step units."""

    __slots__ = (
        "aggs",
        "close",
        "fills",
        "high",
        "low",
        "open",
        "open_ms",
        "quote",
        "taker_buy",
        "taker_quote",
        "volume",
    )

    def __init__(self, open_ms: int, values: tuple[int, ...]) -> None:
        self.open_ms = open_ms
        """Open time, ms."""
        (
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.taker_buy,
            self.quote,
            self.taker_quote,
            self.fills,
            self.aggs,
        ) = values


def fold(bars: SecondBars, origin_s: int, opens_ms: Ints, interval_ms: int) -> list[Kline]:
    """Fold 1-second bars into klines.

    Args:
        bars: The symbol's bars.
        origin_s: The epoch second of index 0.
        opens_ms: Open times of the klines wanted, ascending and ``interval_ms`` apart.
        interval_ms: Kline length, a whole number of seconds.

    Returns:
        One kline per open time from the one holding the symbol's first second with data
        (none before it); those after the last trade repeat its close.
    """
    if len(opens_ms) == 0 or bars.first is None:
        return []
    k0 = int(opens_ms[0])
    lo = max(k0 // 1000 - origin_s, bars.first)
    hi = (int(opens_ms[-1]) + interval_ms) // 1000 - origin_s
    cols = bars.seconds(lo, hi)
    n = len(cols)
    index = np.arange(n, dtype=np.int64)
    group = ((lo + index + origin_s) * 1000 - k0) // interval_ms
    starts = np.searchsorted(group, np.arange(len(opens_ms)))
    ends = np.append(starts[1:], n)
    filled = cols.fills > 0
    sums = [
        _sum_by(getattr(cols, name), starts, ends)
        for name in ("volume", "taker_buy", "quote", "taker_quote", "fills", "aggs")
    ]
    first = _reduce_by(np.minimum, np.where(filled, index, n), starts, ends, n)
    last = _reduce_by(np.maximum, np.where(filled, index, -1), starts, ends, -1)
    big = np.iinfo(np.int64).max
    high = _reduce_by(np.maximum, np.where(filled, cols.high, -big), starts, ends, -big)
    low = _reduce_by(np.minimum, np.where(filled, cols.low, big), starts, ends, big)
    first_kline = ((origin_s + bars.first) * 1000 - k0) // interval_ms
    carried = bars.close_before(lo)
    out: list[Kline] = []
    for k in range(max(first_kline, 0), len(opens_ms)):
        if ends[k] > starts[k]:
            carried = int(cols.close[ends[k] - 1])  # seconds without a trade carry the close
        if last[k] >= 0:
            ohlc = (int(cols.open[first[k]]), int(high[k]), int(low[k]), int(cols.close[last[k]]))
            out.append(Kline(int(opens_ms[k]), ohlc + tuple(int(c[k]) for c in sums)))
        elif carried is not None:
            out.append(Kline(int(opens_ms[k]), (carried,) * 4 + (0,) * 6))
    return out


def _sum_by(column: Ints, starts: Ints, ends: Ints) -> Ints:
    total = np.concatenate([[0], np.cumsum(column)])
    out: Ints = total[ends] - total[starts]
    return out


def _reduce_by(ufunc: np.ufunc, column: Ints, starts: Ints, ends: Ints, empty: int) -> Ints:
    out = np.full(len(starts), empty, np.int64)
    nonempty = ends > starts
    if nonempty.any():
        out[nonempty] = ufunc.reduceat(column, starts[nonempty])
    return out
