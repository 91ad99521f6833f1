"""The tick store: one leg's latest trades, kept in Polars for exports.

Every trade of the pair passes through :attr:`TickStore.appender`, so it does the least it can:
five list appends, the trade's fields into one list per column, while the trade is still in the
CPU's cache. Every ``chunk_rows`` trades the columns become a Polars chunk of a
:class:`~pairs_tui.table.RollingTable`, about 32 bytes a trade. Keeping the Trade records and
reading them back into columns per chunk was measured at twice the cost in the live feed: by
then thousands of trades, allocated among the socket's own objects, have left the cache.

Where the C extension :mod:`pairs_tui._columns` is built, the five appends are one call into it
(the same lists of the same objects, so the same chunks); without it, they are Python's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from pairs_tui.records import Trade
from pairs_tui.table import RollingTable

try:
    from pairs_tui._columns import Appender
except ImportError:  # built without a C compiler: the appends are Python's
    _Appender: type[Appender] | None = None
else:
    _Appender = Appender

TICK_SCHEMA: dict[str, type[pl.DataType]] = {
    "time": pl.Int64,
    "price": pl.Float64,
    "qty": pl.Float64,
    "buyer_maker": pl.Boolean,
    "id": pl.Int64,
}
"""Columns of the in-memory tick store, one store per leg (8+8+8+1/8+8 bytes a trade)."""


class TickStore:
    """The last ``max_rows`` trades of one leg, oldest first.

    Args:
        max_rows: Trades kept; memory stays bounded by about ``max_rows + chunk_rows`` trades.
        chunk_rows: Trades held in Python lists before they move into a Polars chunk.
    """

    __slots__ = (
        "_appender",
        "_chunk_rows",
        "_ids",
        "_makers",
        "_prices",
        "_qtys",
        "_table",
        "_times",
        "appender",
    )

    def __init__(self, max_rows: int, chunk_rows: int = 4096) -> None:
        self._table = RollingTable(TICK_SCHEMA, max_rows, chunk_rows)
        self._chunk_rows = self._table.chunk_rows
        self._times: list[int] = []
        self._prices: list[float] = []
        self._qtys: list[float] = []
        self._makers: list[bool] = []
        self._ids: list[int] = []
        self._appender = (
            None
            if _Appender is None
            else _Appender(Trade, tuple(TICK_SCHEMA), self._chunk_rows, self._seal)
        )
        self.appender: Callable[[Trade], None] = (
            self.append if self._appender is None else self._appender.append
        )
        """:meth:`append`, for a caller that binds it once (the pipeline): the C appender's own
        method where it is built, one Python call a trade fewer."""

    def __len__(self) -> int:
        return min(len(self._table) + len(self._columns()[-1]), self._table.max_rows)

    def append(self, trade: Trade) -> None:
        """Keep one trade."""
        if self._appender is not None:
            self._appender.append(trade)
            return
        self._times.append(trade.time)
        self._prices.append(trade.price)
        self._qtys.append(trade.qty)
        self._makers.append(trade.buyer_maker)
        ids = self._ids
        ids.append(trade.id)
        if len(ids) >= self._chunk_rows:
            self._seal()

    def extend(self, trades: pl.DataFrame) -> None:
        """Keep a batch of trades given as columns (at least those of :data:`TICK_SCHEMA`)."""
        if self._columns()[-1]:
            self._seal()
        self._table.extend_frame(trades)

    def frame(self) -> pl.DataFrame:
        """The kept trades (at most ``max_rows``), oldest first, in :data:`TICK_SCHEMA`."""
        kept = self._table.frame()
        columns = self._columns()
        if not columns[-1]:
            return kept
        pending = self._table.frame_of(columns)
        return pl.concat([kept, pending], rechunk=False).tail(self._table.max_rows)

    def _seal(self) -> None:
        """The trades held in lists become a chunk of the table."""
        if self._appender is not None:
            self._table.extend(self._appender.take())
            return
        self._table.extend(self._columns())
        self._times, self._prices, self._qtys, self._makers, self._ids = [], [], [], [], []

    def _columns(self) -> tuple[Sequence[object], ...]:
        if self._appender is not None:
            return self._appender.columns
        return self._times, self._prices, self._qtys, self._makers, self._ids
