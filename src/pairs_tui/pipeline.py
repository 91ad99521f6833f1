"""Feed → bars → analytics → alerts, owned by one task that publishes immutable snapshots.

The :class:`Pipeline` is the only writer of market state. It is a :class:`TradeSink` for one
:class:`TradeSource`, turns trades into final bars on every timeframe, runs the pair analytics on
each, and tells its listeners about every final bar of the active timeframe. Everything
downstream — the screen, the headless writer, exports, the tests — reads :meth:`Pipeline.snapshot`
or listens; nothing reaches back in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import polars as pl

from pairs_tui.analytics import PairAnalytics, PairStats, WindowData
from pairs_tui.bars import BarAggregator, BarBuilder
from pairs_tui.config import Settings
from pairs_tui.feed.source import TradeSource
from pairs_tui.feed.status import FeedStatus
from pairs_tui.records import TIMEFRAMES, PairBar, Timeframe, Trade, timeframe_of
from pairs_tui.snapshot import BAR_SCHEMA, AlertEvent, ClosedBar, LegQuote, Snapshot, history_row
from pairs_tui.table import RollingTable
from pairs_tui.ticks import TICK_SCHEMA, TickStore

log = logging.getLogger("pairs_tui.pipeline")


class AlertEvaluator(Protocol):
    """Evaluates alert rules inside the data path (:class:`~pairs_tui.alerts.AlertBook` is one).

    The pipeline calls it on its own thread: on every final bar of the active timeframe, on
    every clock tick, and when the user's stationarity test has a result.
    """

    def on_bar(self, closed: ClosedBar) -> list[AlertEvent]:
        """Return the alert events that fire on this final bar."""
        ...

    def on_feed(
        self, status: FeedStatus, now_ms: float, last_trade_ms: int | None = None
    ) -> list[AlertEvent]:
        """Return the alert events the feed's silence fires, on the exchange clock ``now_ms``;
        ``last_trade_ms`` is the quieter leg's latest trade time (None before both traded)."""
        ...

    def on_stationarity(self, pvalue: float | None, ts_ms: int) -> list[AlertEvent]:
        """Return the alert events the p-value of an on-demand ADF test fires."""
        ...


TICK_S = 0.1
"""Period of the pipeline's heartbeat."""
MAX_TICK_LAG_S = 0.05
"""A heartbeat later than this does not close bars on the clock (see ``Pipeline._tick``)."""

BarListener = Callable[[ClosedBar], None]
TradeListener = Callable[[Trade], None]


@dataclass
class _Timeframe:
    """State of one timeframe: analytics, history and the count of bars."""

    name: Timeframe
    analytics: PairAnalytics
    history: RollingTable
    aggregator: BarAggregator | None = None
    count: int = 0
    latest: ClosedBar | None = None
    children: list[Timeframe] = field(default_factory=list)


class Pipeline:
    """Owns feed → bars → analytics → alerts for one pair and publishes snapshots.

    Args:
        settings: Configuration (bars, analytics, retention).
        source: Where trades come from.
        symbols: The pair, target first; upper-cased here.
        timeframe: The active timeframe at start.
        window: The analytics window at start.
        alerts: Optional alert evaluator run on every final bar of the active timeframe.
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
    ) -> None:
        self.settings = settings
        self.source = source
        self.symbols = (symbols[0].upper(), symbols[1].upper())
        self.timeframe = timeframe or settings.bars.timeframe
        self.window = window or settings.analytics.window
        self.price = settings.analytics.price
        self.hedge = settings.analytics.hedge
        self.alerts = alerts
        self._builder = BarBuilder(
            self.symbols,
            TIMEFRAMES["1s"],
            grace_ms=settings.bars.grace_ms,
            hold_clock=_monotonic_ms,
        )
        self._frames = {name: self._new_timeframe(name) for name in TIMEFRAMES}
        self._chain_from("1s")
        self._ticks = (
            TickStore(settings.bars.tick_retention),
            TickStore(settings.bars.tick_retention),
        )
        self._tick_append = (self._ticks[0].append, self._ticks[1].append)
        self._leg = {self.symbols[0]: 0, self.symbols[1]: 1}
        self._last: list[Trade | None] = [None, None]
        self._first_price: list[float | None] = [None, None]
        self._bar_listeners: list[BarListener] = []
        self._trade_listeners: tuple[TradeListener, ...] = ()
        self._fired: list[AlertEvent] = []
        self._carried: list[AlertEvent] = []
        """Alerts fired between bars, waiting to ride on the next final bar."""
        self._companions: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._version = 0
        """Changes other than trades; a snapshot's version adds the trade count to it."""
        self._snapshot: Snapshot | None = None
        self._messages = 0
        self._rate = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._finished = False
        self._error: str | None = None

    # -- wiring ---------------------------------------------------------------------------

    def _new_timeframe(self, name: Timeframe) -> _Timeframe:
        analytics = PairAnalytics(self.window, self.price, self.hedge)
        history = RollingTable(BAR_SCHEMA, self.settings.bars.history, 512)
        return _Timeframe(name, analytics, history)

    def _chain_from(self, base: Timeframe) -> None:
        """Bars of ``base`` come from the source; longer timeframes are folded from them."""
        names = list(TIMEFRAMES)
        for name in names:
            self._frames[name].children = []
            self._frames[name].aggregator = None
        previous = base
        for name in names[names.index(base) + 1 :]:
            self._frames[name].aggregator = BarAggregator(TIMEFRAMES[name], TIMEFRAMES[previous])
            self._frames[previous].children.append(name)
            previous = name
        self._base = base

    def add_bar_listener(self, listener: BarListener) -> None:
        """Call ``listener`` with every final bar of the active timeframe, in bar order."""
        self._bar_listeners.append(listener)

    def add_trade_listener(self, listener: TradeListener) -> None:
        """Call ``listener`` with every trade of the pair, in arrival order (e.g. a recorder)."""
        self._trade_listeners = (*self._trade_listeners, listener)

    def add_companion(self, companion: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``companion()`` as a task for as long as :meth:`run` runs.

        When run ends, however it ends, the task is cancelled and awaited before run returns,
        so a recorder can flush its last trades.
        """
        self._companions.append(companion)

    def add_alerts(self, events: Sequence[AlertEvent]) -> None:
        """Alerts fired outside a bar (the feed going stale, an on-demand test).

        They join the snapshot at once and ride on the next final bar, so headless output
        reports them too. Call on the pipeline's own thread.
        """
        if events:
            self._fired.extend(events)
            del self._fired[:-500]
            self._carried.extend(events)
            self._touch()

    # -- controls -------------------------------------------------------------------------

    def set_timeframe(self, timeframe: Timeframe) -> None:
        """Make ``timeframe`` the active one; its history is already there."""
        if timeframe not in TIMEFRAMES:
            raise ValueError(f"unknown timeframe {timeframe!r}")
        self.timeframe = timeframe
        self._touch()

    def set_window(self, window: int) -> None:
        """Change the analytics window of every timeframe from the next bar on."""
        window = max(3, int(window))
        if window == self.window:
            return
        self.window = window
        for frame in self._frames.values():
            frame.analytics.resize(window)
        self._touch()

    def window_data(self, timeframe: Timeframe | None = None) -> WindowData | None:
        """The current window's inputs for the stationarity tests; None until it is full."""
        return self._frames[timeframe or self.timeframe].analytics.window_data()

    def stationarity_tested(self, pvalue: float | None, ts_ms: int) -> None:
        """The user's on-demand ADF test has a p-value: the ``adf_p`` alert rules see it.

        Args:
            pvalue: The test's p-value; None when it did not run.
            ts_ms: The start of the window's last bar, ms UTC.
        """
        if self.alerts is not None:
            self.add_alerts(self.alerts.on_stationarity(pvalue, ts_ms))

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
        elif trade.time > last.time or (trade.time == last.time and trade.id >= last.id):
            self._last[leg] = trade
        for listener in self._trade_listeners:
            listener(trade)
        final = self._builder.add(trade)
        if final:
            self._take_final(final)

    def on_bar(self, bar: PairBar, timeframe_ms: int) -> None:
        """Take a final bar from a source of bars (a bar CSV)."""
        name = timeframe_of(timeframe_ms)
        if name is None:
            raise ValueError(f"bars of {timeframe_ms} ms are not on a supported timeframe")
        if name != self._base:
            self._chain_from(name)
            if list(TIMEFRAMES).index(self.timeframe) < list(TIMEFRAMES).index(name):
                log.info("bars in the file are %s: showing %s", name, name)
                self.timeframe = name
        self._close(name, bar)
        self._version += 1

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
        for bar in bars:
            self._close("1s", bar)

    def _close(self, name: Timeframe, bar: PairBar) -> None:
        frame = self._frames[name]
        a, b = bar.a, bar.b
        if a is not None and b is not None and a.close > 0 and b.close > 0:
            stats = frame.analytics.update(a.close, b.close)
        else:
            stats = PairStats()
        frame.count += 1
        frame.history.append(history_row(bar, stats))
        if name == self.timeframe:
            self._publish(frame, bar, stats)
        else:
            # Kept so that switching to this timeframe shows its last bar at once.
            frame.latest = ClosedBar(name, bar, stats, (), self.status)
        for child in frame.children:
            aggregator = self._frames[child].aggregator
            assert aggregator is not None  # every child of a timeframe is folded from it
            folded = aggregator.add(bar)
            if folded is not None:
                self._close(child, folded)

    def _publish(self, frame: _Timeframe, bar: PairBar, stats: PairStats) -> None:
        closed = ClosedBar(frame.name, bar, stats, (), self.status)
        fired = self.alerts.on_bar(closed) if self.alerts is not None else []
        if fired:
            self._fired.extend(fired)
            del self._fired[:-500]
        carried, self._carried = self._carried, []
        if fired or carried:
            closed = msgspec.structs.replace(closed, alerts=(*carried, *fired))
        frame.latest = closed
        for listener in self._bar_listeners:
            listener(closed)

    # -- running --------------------------------------------------------------------------

    @property
    def status(self) -> FeedStatus:
        """The source's status with the bar builder's late count."""
        return msgspec.structs.replace(self.source.status, late=self._builder.late)

    async def run(self) -> None:
        """Run the source to its end (replay) or until cancelled (live), finalising bars on the
        exchange clock meanwhile. At the end of a replay every remaining bar is final."""
        ticker = asyncio.create_task(self._tick(), name="pipeline-clock")
        companions = [asyncio.create_task(start()) for start in self._companions]
        try:
            await self.source.run(self)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            raise
        else:
            self._flush()
            self._finished = True
        finally:
            ticker.cancel()
            for task in companions:
                task.cancel()
            if companions:
                await asyncio.gather(*companions, return_exceptions=True)
            self._touch()

    def _flush(self) -> None:
        """End of input: every bar up to the last trade is final, on every timeframe."""
        self._take_final(self._builder.flush())
        for name in TIMEFRAMES:
            aggregator = self._frames[name].aggregator
            if aggregator is not None and (bar := aggregator.flush()) is not None:
                self._close(name, bar)

    async def _tick(self) -> None:
        """The pipeline's own heartbeat: clock-driven finalisation and the message rate."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + TICK_S
            await asyncio.sleep(TICK_S)
            # A late tick means the loop was held up (a GC pause, a heavy frame, a busy
            # machine) and frames may be waiting in the socket with trades of the bars the
            # clock has passed: let the reader drain them first, and close bars next tick.
            self.advance(by_clock=loop.time() - due < MAX_TICK_LAG_S)

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
            # Only the clock can see silence: the feed-stale rules are evaluated here.
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

    def _touch(self) -> None:
        self._version += 1

    def history(self, timeframe: Timeframe | None = None) -> pl.DataFrame:
        """Bars and analytics kept for ``timeframe`` (the active one by default)."""
        return self._frames[timeframe or self.timeframe].history.frame()

    def ticks(self) -> pl.DataFrame:
        """Trades kept in memory, both legs, in arrival order per leg."""
        frames = [
            t.frame().with_columns(symbol=pl.lit(s))
            for t, s in zip(self._ticks, self.symbols, strict=True)
        ]
        return pl.concat(frames).select("symbol", *TICK_SCHEMA)

    def snapshot(self) -> Snapshot:
        """The latest immutable picture; cheap to call often (cached until something changes)."""
        version = self._version + self._messages
        cached = self._snapshot
        if cached is not None and cached.version == version:
            return cached
        frame = self._frames[self.timeframe]
        quotes = tuple(
            None
            if trade is None or first is None
            else LegQuote(trade.symbol, trade.price, trade.time, first)
            for trade, first in zip(self._last, self._first_price, strict=True)
        )
        self._snapshot = Snapshot(
            symbols=self.symbols,
            timeframe=self.timeframe,
            window=self.window,
            price=self.price,
            hedge=self.hedge,
            feed=self.status,
            quotes=(quotes[0], quotes[1]),
            bars=frame.history.frame(),
            latest=frame.latest,
            bar_count=frame.count,
            messages_per_second=self._rate,
            alerts=tuple(self._fired),
            version=version,
            finished=self._finished,
            error=self._error,
        )
        return self._snapshot


def _monotonic_ms() -> float:
    """The local monotonic clock in ms: what a backfill's wait is timed on."""
    return time.monotonic() * 1000.0
