"""What a pair's pipeline holds, and how it is read: the snapshot, the glance, the history.

:class:`PairState` is the read side of :class:`~pairs_tui.pipeline.Pipeline`, which writes it
(trades in, bars, analytics and alerts out). Everything here is cheap to call from the screen or
a writer at any moment; nothing here changes the market state.
"""

from __future__ import annotations

import msgspec
import polars as pl

from pairs_tui.analytics import PairStats, WindowData
from pairs_tui.bars import BarBuilder
from pairs_tui.carry import CarryBook
from pairs_tui.feed.source import TradeSource
from pairs_tui.feed.status import FeedStatus
from pairs_tui.frames import BarFrame, BarFrames, TickFrame
from pairs_tui.records import TICK, HedgeMethod, PairBar, PriceMode, Timeframe, Trade
from pairs_tui.snapshot import (
    AlertEvent,
    Carry,
    Glance,
    HistoryProgress,
    LegQuote,
    Snapshot,
)
from pairs_tui.ticks import TICK_SCHEMA, TickStore


class PairState:
    """A pair's market state as the pipeline keeps it (set by its constructor)."""

    source: TradeSource
    timeframe: Timeframe
    window: int
    price: PriceMode
    hedge: HedgeMethod
    carry: CarryBook | None
    _symbols: tuple[str, str]
    _builder: BarBuilder
    _frames: BarFrames
    _tick_frame: TickFrame | None
    _ticks: tuple[TickStore, TickStore]
    _last: list[Trade | None]
    _first_price: list[float | None]
    _fired: list[AlertEvent]
    _version: int
    _snapshot: Snapshot | None
    _messages: int
    _rate: float
    _finished: bool
    _error: str | None
    _history: HistoryProgress

    def window_data(self, timeframe: Timeframe | None = None) -> WindowData | None:
        """The current window's inputs for the stationarity tests (see PairAnalytics)."""
        return self._frame(timeframe or self.timeframe).analytics.window_data()

    def _frame(self, timeframe: Timeframe) -> BarFrame | TickFrame:
        if timeframe == TICK:
            if self._tick_frame is None:
                raise ValueError("tick rows are kept only while the tick timeframe is shown")
            return self._tick_frame
        return self._frames[timeframe]

    def _carry(self, bar: PairBar | None = None, stats: PairStats | None = None) -> Carry | None:
        if self.carry is None:
            return None
        beta = None if stats is None else stats.beta
        a = None if bar is None or bar.a is None else bar.a.close
        b = None if bar is None or bar.b is None else bar.b.close
        return self.carry.carry(beta, price=self.price, close_a=a, close_b=b)

    @property
    def status(self) -> FeedStatus:
        """The source's status with the bar builder's late count."""
        return msgspec.structs.replace(self.source.status, late=self._builder.late)

    def __repr__(self) -> str:
        return f"Pipeline({'/'.join(self._symbols)})"

    def touch(self) -> None:
        """Something the snapshot shows changed outside the pipeline's own calls."""
        self._touch()

    def _touch(self) -> None:
        self._version += 1

    def history(self, timeframe: Timeframe | None = None) -> pl.DataFrame:
        """Bars and analytics kept for ``timeframe`` (the active one by default)."""
        return self._frame(timeframe or self.timeframe).history.frame()

    def ticks(self) -> pl.DataFrame:
        """Trades kept in memory, both legs, in arrival order per leg."""
        frames = [
            t.frame().with_columns(symbol=pl.lit(s))
            for t, s in zip(self._ticks, self._symbols, strict=True)
        ]
        return pl.concat(frames).select("symbol", *TICK_SCHEMA)

    def snapshot(self) -> Snapshot:
        """The latest immutable picture; cheap to call often (cached until something changes)."""
        version = self._version + self._messages
        cached = self._snapshot
        if cached is not None and cached.version == version:
            return cached
        frame = self._frame(self.timeframe)
        quotes = self._quotes()
        latest = frame.latest
        self._snapshot = Snapshot(
            symbols=self._symbols,
            timeframe=self.timeframe,
            window=self.window,
            price=self.price,
            hedge=self.hedge,
            feed=self.status,
            quotes=quotes,
            bars=frame.history.frame(),
            latest=latest,
            bar_count=frame.count,
            messages_per_second=self._rate,
            alerts=tuple(self._fired),
            version=version,
            finished=self._finished,
            error=self._error,
            carry=self._carry(
                None if latest is None else latest.bar, None if latest is None else latest.stats
            ),
            history=self._history,
        )
        return self._snapshot

    def glance(self) -> Glance:
        """The pair at a glance (last prices, last bar's analytics, last alert): what a
        watchlist row shows, without copying out the bar history as :meth:`snapshot` does."""
        frame = self._frame(self.timeframe)
        return Glance(
            symbols=self._symbols,
            timeframe=self.timeframe,
            quotes=self._quotes(),
            latest=frame.latest,
            bar_count=frame.count,
            last_alert=self._fired[-1] if self._fired else None,
        )

    def _quotes(self) -> tuple[LegQuote | None, LegQuote | None]:
        a, b = (
            None
            if trade is None or first is None
            else LegQuote(trade.symbol, trade.price, trade.time, first)
            for trade, first in zip(self._last, self._first_price, strict=True)
        )
        return a, b
