"""One pair: trades → bars on every timeframe → analytics → alerts → immutable snapshots.

The :class:`Pipeline` is the only writer of a pair's market state. It takes trades (and mark
prices, holds, releases) from its source through a :class:`~pairs_tui.desk.Desk`, turns them
into final bars on every timeframe, runs the pair analytics on each, and tells its listeners
about every final bar of the active timeframe. Everything downstream — the screen, the headless
writer, exports, the tests — reads :meth:`Pipeline.snapshot` (the read side,
:class:`~pairs_tui.pair_state.PairState`) or listens; nothing reaches back.

A pipeline can start from history (:meth:`seed`, the warm start), and change its timeframe,
window, hedge method and price mode while it runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import msgspec
import polars as pl

from pairs_tui.analytics import PairStats
from pairs_tui.bars import BarBuilder
from pairs_tui.buckets import latest_of, trades_of
from pairs_tui.carry import CarryBook
from pairs_tui.config import Settings
from pairs_tui.desk import Companion
from pairs_tui.feed.source import TradeSource
from pairs_tui.frames import BarFrame, BarFrames, TickFrame
from pairs_tui.pair_state import PairState
from pairs_tui.records import (
    TICK,
    TIMEFRAMES,
    BarTimeframe,
    HedgeMethod,
    MarkPrice,
    PairBar,
    PriceMode,
    Timeframe,
    Trade,
    timeframe_of,
)
from pairs_tui.snapshot import (
    NO_HISTORY,
    AlertEvaluator,
    AlertEvent,
    BarListener,
    ClosedBar,
    HistoryProgress,
    Snapshot,
    TradeListener,
)
from pairs_tui.ticks import TickStore

log = logging.getLogger("pairs_tui.pipeline")

KEPT_ALERTS = 500
"""Alerts kept for the snapshot when no alert book says otherwise."""
HISTORY_HOLD = "*history*"
"""The hold that keeps every bar waiting while the warm start loads history."""
HISTORY_HOLD_MS = 60_000
"""How long the warm start may keep bars waiting before they close without it."""


class Pipeline(PairState):
    """Owns trades → bars → analytics → alerts for one pair and publishes snapshots.

    Args:
        settings: Configuration (bars, analytics, retention).
        source: Where trades come from (for its status and its exchange clock).
        symbols: The pair, target first; upper-cased here.
        timeframe: The active timeframe at start (``tick`` for tick rows).
        window: The analytics window at start.
        alerts: Optional alert evaluator run on every final bar of the active timeframe.
        carry: Keep each leg's funding and the spread's carry from mark prices.
    """

    def __init__(
        self,
        settings: Settings,
        source: TradeSource,
        symbols: tuple[str, str],
        *,
        timeframe: Timeframe | None = None,
        window: int | None = None,
        alerts: AlertEvaluator | None = None,
        carry: bool = False,
    ) -> None:
        self.settings = settings
        self.source = source
        self._symbols = (symbols[0].upper(), symbols[1].upper())
        self.timeframe: Timeframe = timeframe or settings.bars.timeframe
        self.window = window or settings.analytics.window
        self.price: PriceMode = settings.analytics.price
        self.hedge: HedgeMethod = settings.analytics.hedge
        self.alerts = alerts
        self.carry = CarryBook(self._symbols) if carry else None
        """Funding of both legs; None when carry is off."""
        self._builder = self._new_builder()
        self._add_bar = self._builder.add_to
        self._frames = BarFrames(
            window=self.window,
            price=self.price,
            hedge=self.hedge,
            history_rows=settings.bars.history,
        )
        self._tick_frame: TickFrame | None = None
        self._ticks = (
            TickStore(settings.bars.tick_retention),
            TickStore(settings.bars.tick_retention),
        )
        self._tick_append = (self._ticks[0].appender, self._ticks[1].appender)
        self._leg = {self._symbols[0]: 0, self._symbols[1]: 1}
        self._last: list[Trade | None] = [None, None]
        self._first_price: list[float | None] = [None, None]
        self._bar_listeners: list[BarListener] = []
        self._trade_listeners: tuple[TradeListener, ...] = ()
        self._keep = alerts.keep if alerts is not None else KEPT_ALERTS
        self._fired: list[AlertEvent] = []
        self._carried: list[AlertEvent] = []
        """Alerts fired between bars, waiting to ride on the next final bar."""
        self._companions: list[Companion] = []
        self._version = 0
        """Changes other than trades; a snapshot's version adds the trade count to it."""
        self._snapshot: Snapshot | None = None
        self._messages = 0
        self._rate = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._finished = False
        self._error: str | None = None
        self._history = NO_HISTORY
        if self.timeframe == TICK:
            self.timeframe = "1s"
            self.set_timeframe(TICK)

    # -- wiring ---------------------------------------------------------------------------

    @property
    def symbols(self) -> tuple[str, str]:
        """The pair, target first."""
        return self._symbols

    def _new_builder(self) -> BarBuilder:
        return BarBuilder(
            self._symbols,
            TIMEFRAMES["1s"],
            grace_ms=self.settings.bars.grace_ms,
            hold_clock=_monotonic_ms,
        )

    def add_bar_listener(self, listener: BarListener) -> None:
        """Call ``listener`` with every final bar of the active timeframe, in bar order."""
        self._bar_listeners.append(listener)

    def add_trade_listener(self, listener: TradeListener) -> None:
        """Call ``listener`` with every trade of the pair, in arrival order (e.g. a recorder)."""
        self._trade_listeners = (*self._trade_listeners, listener)

    def add_companion(self, companion: Companion) -> None:
        """Run ``companion()`` as a task for as long as the pipeline runs (see :meth:`run`)."""
        self._companions.append(companion)

    def companions(self) -> Sequence[Companion]:
        """The tasks to run alongside the source."""
        return tuple(self._companions)

    def add_alerts(self, events: Sequence[AlertEvent]) -> None:
        """Alerts fired outside a bar (the feed going stale, an on-demand test).

        They join the snapshot at once and ride on the next final bar, so headless output
        reports them too. Call on the pipeline's own thread.
        """
        if events:
            self._fired.extend(events)
            del self._fired[: -self._keep]
            self._carried.extend(events)
            self._touch()

    # -- controls -------------------------------------------------------------------------

    def set_timeframe(self, timeframe: Timeframe) -> None:
        """Make ``timeframe`` the active one; bar timeframes' history is already there, tick
        rows are rebuilt from the trades kept."""
        if timeframe != TICK and timeframe not in TIMEFRAMES:
            raise ValueError(f"unknown timeframe {timeframe!r}")
        if timeframe == TICK and self._tick_frame is None:
            frame = TickFrame(
                self._symbols,
                window=self.window,
                price=self.price,
                hedge=self.hedge,
                history_rows=self.settings.bars.history,
            )
            self._tick_frame = frame
            last = frame.load(self._ticks[0].frame(), self._ticks[1].frame())
            frame.latest = None if last is None else self._closed(TICK, *last)
        elif timeframe != TICK:
            self._tick_frame = None  # rows per trade cost per trade: kept only while shown
        self.timeframe = timeframe
        self._touch()

    def set_window(self, window: int) -> None:
        """Change the analytics window of every timeframe from the next bar on."""
        window = max(3, int(window))
        if window == self.window:
            return
        self.window = window
        for frame in self._frames:
            frame.analytics.resize(window)
        if self._tick_frame is not None:
            self._tick_frame.analytics.resize(window)
        self._touch()

    def set_analytics(
        self, *, price: PriceMode | None = None, hedge: HedgeMethod | None = None
    ) -> None:
        """Switch the price mode or the hedge method live: every timeframe's held bars are
        analysed again, so what follows equals a run started with these settings."""
        price = price or self.price
        hedge = hedge or self.hedge
        if (price, hedge) == (self.price, self.hedge):
            return
        self.price, self.hedge = price, hedge
        for frame in self._frames:
            frame.reanalyse(self.window, price, hedge)
        if self._tick_frame is not None:
            last = self._tick_frame.reanalyse(self.window, price, hedge)
            self._tick_frame.latest = None if last is None else self._closed(TICK, *last)
        self._touch()

    # -- history (the warm start) ------------------------------------------------------

    def hold_for_history(self) -> None:
        """Keep every bar waiting until :meth:`release_history` (history is loading)."""
        self._builder.hold(
            HISTORY_HOLD, 0, self.source.exchange_now_ms(), timeout_ms=HISTORY_HOLD_MS
        )

    def seed(self, stitch_ms: int, bars: Mapping[BarTimeframe, Sequence[PairBar]]) -> None:
        """Start every timeframe from history: bars before ``stitch_ms`` (a 1s boundary).

        Args:
            stitch_ms: Where history ends and trades begin. Every trade at or after it comes
                from the feed; bars before it from ``bars``.
            bars: Per timeframe, its final bars in order. A timeframe's bars end before the
                bucket of that timeframe holding ``stitch_ms``; the shorter timeframe's bars
                from that bucket's start to the stitch are folded into it.
        """
        self._frames.seed(stitch_ms, bars, self._closed)
        first = bars.get("1s", ())
        last = first[-1] if first else None
        dropped = self._builder.start_at(
            stitch_ms,
            (None if last is None or last.a is None else last.a.close),
            (None if last is None or last.b is None else last.b.close),
        )
        if dropped:
            log.info("%s: %d trades before the stitch were in history already", self, dropped)
        self._touch()

    def held_since(self, timeframe: BarTimeframe) -> int | None:
        """Start of the oldest bar held on ``timeframe``, or None when none is."""
        return self._frames.held_since(timeframe)

    def held_bars(self, timeframe: BarTimeframe) -> int:
        """Bars held on ``timeframe``."""
        return len(self._frames[timeframe].history)

    def prepend(self, timeframe: BarTimeframe, older: Sequence[PairBar]) -> None:
        """Older history for ``timeframe`` (a wider window): every held bar is analysed again
        from the oldest, as if the pipeline had started there."""
        self._frames[timeframe].prepend(older, self.window, self.price, self.hedge)
        self._touch()

    def release_history(self) -> None:
        """History is in (or given up on): bars close again."""
        self.release(HISTORY_HOLD)

    def set_history(self, progress: HistoryProgress) -> None:
        """What the snapshot says of the warm start."""
        self._history = progress
        self._touch()

    # -- TradeSink ------------------------------------------------------------------------

    def on_trade(self, trade: Trade) -> None:
        """Take one trade from the source."""
        # This runs for every trade. It bumps no version: the snapshot's counts trades too.
        leg = self._leg.get(trade.symbol)
        if leg is None:
            return
        self._messages += 1
        self._tick_append[leg](trade)
        last = self._last[leg]
        if last is None:
            self._last[leg] = trade
            self._first_price[leg] = trade.price
        # A backfilled trade arrives after later live ones: it is not the latest price.
        elif (t := trade.time) > (last_t := last.time) or (t == last_t and trade.id >= last.id):
            self._last[leg] = trade
        if self._trade_listeners:
            for listener in self._trade_listeners:
                listener(trade)
        final = self._add_bar(leg, trade)
        if final:
            self._take_final(final)
        if self._tick_frame is not None:
            row = self._tick_frame.take(trade, leg)
            if row is not None:
                self._publish(TICK, *row)

    def on_trade_frame(self, trades: pl.DataFrame) -> None:
        """Take a batch of this pair's trades at once (a replay at full speed).

        What :meth:`on_trade` on each row would do, over whole columns: the bars come from
        :meth:`BarBuilder.add_frame`, the tick store takes the columns, the latest price is the
        batch's last. With a trade listener or tick rows shown, every row goes through
        :meth:`on_trade` instead.

        Args:
            trades: Columns :data:`~pairs_tui.buckets.TRADE_COLUMNS`, ``leg`` 0 for the target.
        """
        if not trades.height:
            return
        if self._trade_listeners or self._tick_frame is not None:
            for trade in trades_of(trades, self._symbols):
                self.on_trade(trade)
            return
        self._messages += trades.height
        for part in trades.partition_by("leg", maintain_order=True):
            leg = int(part["leg"][0])
            self._ticks[leg].extend(part)
            self._take_last(leg, part)
        final = self._builder.add_frame(trades)
        if final:
            self._take_final(final)

    def _take_last(self, leg: int, part: pl.DataFrame) -> None:
        """The latest price after a batch of one leg, by the rule of :meth:`on_trade`."""
        trade = latest_of(part, self._symbols[leg])
        last = self._last[leg]
        if last is None:
            self._last[leg] = trade
            self._first_price[leg] = float(part["price"][0])
        elif trade.time > last.time or (trade.time == last.time and trade.id >= last.id):
            self._last[leg] = trade

    def on_bar(self, bar: PairBar, timeframe_ms: int) -> None:
        """Take a final bar from a source of bars (a bar CSV)."""
        name = timeframe_of(timeframe_ms)
        if name is None:
            raise ValueError(f"bars of {timeframe_ms} ms are not on a supported timeframe")
        if name != self._frames.base:
            self._frames.chain_from(name)
            active = self.timeframe
            if active == TICK or list(TIMEFRAMES).index(active) < list(TIMEFRAMES).index(name):
                log.info("bars in the file are %s: showing %s", name, name)
                self.timeframe = name
        self._close(self._frames[name], bar)
        self._version += 1

    def on_mark(self, mark: MarkPrice) -> None:
        """Take a mark-price update (funding rate, next funding time) of either leg."""
        if self.carry is not None and self.carry.on_mark(mark):
            self._touch()

    def hold(self, symbol: str, from_time_ms: int) -> None:
        """Make bars from ``from_time_ms`` on wait for a backfill of ``symbol``."""
        self._builder.hold(symbol, from_time_ms, self.source.exchange_now_ms())

    def release(self, symbol: str) -> None:
        """The backfill of ``symbol`` ended; finalise what waited for it."""
        self._take_final(self._builder.release(symbol))
        now = self.source.exchange_now_ms()
        if now is not None:
            self._take_final(self._builder.advance(now))

    # -- bars -----------------------------------------------------------------------------

    def _take_final(self, bars: list[PairBar]) -> None:
        base = self._frames["1s"]
        for bar in bars:
            self._close(base, bar)

    def _close(self, frame: BarFrame, bar: PairBar) -> None:
        stats = frame.take(bar)
        if frame.name == self.timeframe:
            self._publish(frame.name, bar, stats)
        else:
            # Kept so that switching to this timeframe shows its last bar at once.
            frame.latest = self._closed(frame.name, bar, stats)
        for child in frame.children:
            assert child.aggregator is not None  # every child of a timeframe is folded from it
            folded = child.aggregator.add(bar)
            if folded is not None:
                self._close(child, folded)

    def _publish(self, name: Timeframe, bar: PairBar, stats: PairStats) -> None:
        closed = self._closed(name, bar, stats)
        fired = self.alerts.on_bar(closed) if self.alerts is not None else []
        if fired:
            self._fired.extend(fired)
            del self._fired[: -self._keep]
        carried, self._carried = self._carried, []
        if fired or carried:
            closed = msgspec.structs.replace(closed, alerts=(*carried, *fired))
        self._frame(name).latest = closed
        for listener in self._bar_listeners:
            listener(closed)

    def _closed(self, name: Timeframe, bar: PairBar, stats: PairStats) -> ClosedBar:
        return ClosedBar(
            timeframe=name,
            bar=bar,
            stats=stats,
            alerts=(),
            feed=self.status,
            symbols=self._symbols,
            price=self.price,
            hedge=self.hedge,
            window=self.window,
            carry=self._carry(bar, stats),
        )

    # -- running --------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the source for this pair alone, to its end (replay) or until cancelled (live).

        At the end of a replay every remaining bar is final. Several pairs on one source run
        on a :class:`~pairs_tui.desk.Desk` instead.
        """
        from pairs_tui.desk import Desk

        await Desk(self.source, [self]).run()

    def finish(self) -> None:
        """End of input: every bar up to the last trade is final, on every timeframe."""
        self._take_final(self._builder.flush())
        for frame in self._frames:
            if frame.aggregator is not None and (bar := frame.aggregator.flush()) is not None:
                self._close(frame, bar)
        self._finished = True

    def fail(self, error: str) -> None:
        """The source stopped on ``error``."""
        self._error = error

    def advance(self, *, by_clock: bool = True) -> None:
        """Finalise bars the exchange clock has passed, and refresh the message rate.

        Args:
            by_clock: False skips clock-driven finalisation this time (the loop was late).
        """
        now = self.source.exchange_now_ms() if by_clock else None
        if now is not None:
            if self.source.status.state in ("connecting", "reconnecting"):
                # Bars held for a backfill wait out the outage: what was missed is fetched
                # after it, and a bar made final meanwhile would count those trades as late.
                self._builder.renew_holds(now)
            final = self._builder.advance(now)
            if final:
                self._take_final(final)
            if self.alerts is not None:
                self.add_alerts(self.alerts.on_feed(self.status, now, self._last_trade_ms()))
        mono = time.monotonic()
        then, count = self._rate_mark
        if mono - then >= 1.0:
            self._rate = (self._messages - count) / (mono - then)
            self._rate_mark = (mono, self._messages)
        self._touch()

    def _last_trade_ms(self) -> int | None:
        """Trade time of the quieter leg's latest trade; None until both legs traded."""
        a, b = self._last
        return None if a is None or b is None else min(a.time, b.time)


def _monotonic_ms() -> float:
    """The local monotonic clock in ms: what a backfill's wait is timed on."""
    return time.monotonic() * 1000.0
