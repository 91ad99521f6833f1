"""What :class:`~pairs_tui.bars.BarBuilder` keeps per leg: the open bucket of trades, a batch's
folded buckets, a hold; and a batch of trades as columns.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl

from pairs_tui.records import Bar, Trade

TRADE_COLUMNS = ("leg", "time", "price", "qty", "buyer_maker", "id")
"""Columns of a batch of trades for :meth:`~pairs_tui.bars.BarBuilder.add_frame`: ``leg`` 0
(target) or 1."""


def trades_of(trades: pl.DataFrame, symbols: tuple[str, str]) -> Iterable[Trade]:
    """A batch of :data:`TRADE_COLUMNS` as :class:`Trade` objects, in order."""
    return map(
        Trade,
        map(symbols.__getitem__, trades["leg"].to_list()),
        trades["time"].to_list(),
        trades["price"].to_list(),
        trades["qty"].to_list(),
        trades["buyer_maker"].to_list(),
        trades["id"].to_list(),
    )


def summed_in_order(values: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The sum of each run of ``values``, added one by one from its start, as
    :meth:`~pairs_tui.bars.BarBuilder.add` adds a bucket's volume: equal to the bit, which a
    pairwise sum (``np.add.reduceat``, Polars' ``sum``) is not.

    The runs are the columns of a table padded with zeros (adding zero changes no sum), summed
    down its rows: along the slow axis numpy adds row after row, one number at a time per
    column (the pairwise sum is only taken along the fast axis, which a lone column is, so one
    run is accumulated instead). The table is cut a few times the mean run long, so a few long
    runs (a busy second) do not make it mostly padding; those go on in a smaller table from
    their partial sums, until every run is summed.

    Args:
        values: The runs back to back, none empty.
        ends: Where each run ends (exclusive), increasing; the last is ``values.size``.
    """
    sizes = np.diff(ends, prepend=0)
    out = np.empty(sizes.size)
    runs = np.arange(sizes.size)  # the run of ``out`` each current run sums
    while True:
        width, longest = sizes.size, int(sizes.max())
        rows = min(longest, (4 * values.size + 4096) // width)
        # Value i, the r-th of run j (which starts at i - r), goes to row r, column j.
        starts = np.cumsum(sizes) - sizes
        cell = np.repeat(np.arange(width) - starts * width, sizes)
        cell += np.arange(0, values.size * width, width)
        table = np.zeros((rows, width))
        if rows == longest:
            table.ravel()[cell] = values
        else:
            head = cell < table.size
            table.ravel()[cell[head]] = values[head]
        lone = width == 1  # a lone column is the fast axis, summed pairwise: accumulated
        partial = np.add.accumulate(table[:, 0])[-1:] if lone else np.add.reduce(table, axis=0)
        if rows == longest:
            out[runs] = partial
            return out
        long = sizes > rows
        out[runs[~long]] = partial[~long]
        rest = sizes[long] - rows
        values = np.insert(values[~head], np.cumsum(rest) - rest, partial[long])
        sizes, runs = rest + 1, runs[long]


class Hold:
    """Bars ending after ``from_ms`` wait, from ``started`` on the hold clock, for at most
    ``timeout_ms``."""

    __slots__ = ("from_ms", "started", "timeout_ms")

    def __init__(self, from_ms: int, started: int | None, timeout_ms: int) -> None:
        self.from_ms = from_ms
        self.started = started
        """When the hold began on the hold clock; None until the clock is known."""
        self.timeout_ms = timeout_ms


class Bucket:
    """The open accumulator of one leg in one bucket.

    Open and close are the earliest and latest trade by (trade time, id), not by arrival:
    a backfill delivers the trades of a gap after the live trade that revealed it, so arrival
    order is not trade order. Equal keys (sources without ids) keep arrival order.
    """

    __slots__ = ("end", "first", "high", "last", "low", "start", "trades", "volume")

    def __init__(self, start: int, end: int, trade: Trade) -> None:
        self.start = start
        self.end = end
        self.first = self.last = trade
        """The earliest and the latest trade by (time, id)."""
        self.high = self.low = trade.price
        self.volume = trade.qty
        self.trades = 1

    def add(self, trade: Trade) -> None:
        price = trade.price
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        t = trade.time
        last = self.last
        if t > last.time or (t == last.time and trade.id >= last.id):
            self.last = trade
        else:
            first = self.first
            if t < first.time or (t == first.time and trade.id < first.id):
                self.first = trade
        self.volume += trade.qty
        self.trades += 1

    @property
    def close(self) -> float:
        return self.last.price

    def bar(self) -> Bar:
        return Bar(self.first.price, self.high, self.low, self.last.price, self.volume, self.trades)


class FoldedLeg:
    """One leg's buckets after a batch (see :meth:`~pairs_tui.bars.BarBuilder.add_frame`), oldest
    first."""

    __slots__ = ("bars", "batch", "held", "keys", "seen", "symbol", "tf")

    def __init__(self, symbol: str, tf: int) -> None:
        self.symbol = symbol
        self.tf = tf
        self.seen = -1
        """The leg's latest trade time in the batch; -1 when it has none."""
        self.keys: list[int] = []
        """Bucket starts."""
        self.bars: list[Bar] = []
        """Each bucket's bar so far."""
        self.held: list[Bucket] = []
        """The open buckets before the batch's first, as they are."""
        self.batch: (
            tuple[int, list[int], np.ndarray, np.ndarray, list[np.ndarray], Bucket | None] | None
        ) = None
        """Where the batch's buckets come from: their first and last rows in the batch's
        columns, and the open bucket the first one continues."""

    def bucket(self, j: int) -> Bucket:
        """The ``j``-th bucket as an open :class:`Bucket`, as
        :meth:`~pairs_tui.bars.BarBuilder.add` has it."""
        if j < len(self.held):
            return self.held[j]
        assert self.batch is not None
        offset, keys, first, last, cols, carried = self.batch
        g = j - offset
        a, z = int(first[g]), int(last[g])
        bar = self.bars[j]
        _, t, p, q, m, i = cols

        def trade(r: int) -> Trade:
            return Trade(self.symbol, int(t[r]), float(p[r]), float(q[r]), bool(m[r]), int(i[r]))

        bucket = Bucket.__new__(Bucket)
        bucket.start = keys[g]
        bucket.end = keys[g] + self.tf
        bucket.first = carried.first if g == 0 and carried is not None else trade(a)
        bucket.last = trade(z)
        bucket.high, bucket.low, bucket.volume, bucket.trades = (
            bar.high,
            bar.low,
            bar.volume,
            bar.trades,
        )
        return bucket


def latest_of(part: pl.DataFrame, symbol: str) -> Trade:
    """The latest trade of a batch of one leg's columns, by (time, id), the last row on a tie:
    the rule :meth:`pairs_tui.pipeline.Pipeline.on_trade` keeps the latest price by."""
    times, ids = part["time"].to_numpy(), part["id"].to_numpy()
    at_top = times == times.max()
    best = ids[at_top].max()
    row = int(np.flatnonzero(at_top & (ids == best))[-1])
    return Trade(
        symbol,
        int(times[row]),
        float(part["price"][row]),
        float(part["qty"][row]),
        bool(part["buyer_maker"][row]),
        int(ids[row]),
    )
