"""A pipeline's timeframes: each one's rolling analytics, its bar history and its last bar.

:class:`BarFrame` is one bar timeframe (1s, 1m, 5m). :class:`TickFrame` is the tick timeframe:
one row per trade of either leg with the other leg's price as of that trade, the same analytics
over the last ``W`` rows. Both can recompute every row they hold under other settings (a live
hedge or price switch), so that what follows equals a run started with those settings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import msgspec
import polars as pl

from pairs_tui.analytics import PairAnalytics, PairStats
from pairs_tui.bars import BarAggregator
from pairs_tui.records import (
    TIMEFRAMES,
    Bar,
    BarTimeframe,
    HedgeMethod,
    PairBar,
    PriceMode,
    Trade,
)
from pairs_tui.snapshot import BAR_SCHEMA, LEG_FIELDS, STAT_FIELDS, ClosedBar, history_row
from pairs_tui.table import RollingTable

_TICK_SECONDS = 1.0
"""Ticks have no length; volatility on tick rows is left out (see :meth:`TickFrame.take`)."""
_RECENT_PRICES = 256
"""Trades per leg remembered to find the other leg's price as of a trade that came late."""


def _stats_of(analytics: PairAnalytics, bar: PairBar) -> PairStats:
    a, b = bar.a, bar.b
    if a is not None and b is not None and a.close > 0 and b.close > 0:
        return analytics.update(a.close, b.close)
    return PairStats()


class BarFrame:
    """One bar timeframe of a pair: rolling analytics, bar history, count, last bar.

    Args:
        name: The timeframe.
        window: ``W``, bars in the rolling window.
        price: Log or raw prices.
        hedge: The hedge behind the spread and z-score.
        history_rows: Bars kept for plots, exports and recomputation.
    """

    def __init__(
        self,
        name: BarTimeframe,
        *,
        window: int,
        price: PriceMode,
        hedge: HedgeMethod,
        history_rows: int,
    ) -> None:
        self.name: BarTimeframe = name
        """The timeframe."""
        self.ms = TIMEFRAMES[name]
        """Bar length, ms."""
        self.history_rows = history_rows
        """Bars kept."""
        self.analytics = self._analytics(window, price, hedge)
        """The rolling analytics of this timeframe."""
        self.history = RollingTable(BAR_SCHEMA, history_rows, 512)
        """Bars and their analytics, oldest first."""
        self.aggregator: BarAggregator | None = None
        """Folds the next shorter timeframe's bars into this one's; None for the base."""
        self.children: list[BarFrame] = []
        """Longer timeframes folded from this one's bars."""
        self.count = 0
        """Final bars since the start (history included)."""
        self.latest: ClosedBar | None = None
        """The last final bar, with its analytics."""

    def _analytics(self, window: int, price: PriceMode, hedge: HedgeMethod) -> PairAnalytics:
        return PairAnalytics(
            window,
            price,
            hedge,
            bar_seconds=self.ms / 1000.0,
            max_window=max(self.history_rows, window),
        )

    def take(self, bar: PairBar) -> PairStats:
        """The analytics of one final bar; the bar joins the history."""
        stats = _stats_of(self.analytics, bar)
        self.count += 1
        self.history.append(history_row(bar, stats))
        return stats

    def reanalyse(self, window: int, price: PriceMode, hedge: HedgeMethod) -> None:
        """Recompute every held bar's analytics under other settings.

        The analytics start over at the oldest bar held, so every value from here on is the
        one a run started with these settings over the same bars would give.
        """
        self.analytics = self._analytics(window, price, hedge)
        held = self.history.frame()
        stats = [_stats_of(self.analytics, bar) for bar in bars_of(held)]
        _refill(self.history, held, stats)
        if self.latest is not None and stats:
            self.latest = msgspec.structs.replace(
                self.latest, stats=stats[-1], price=price, hedge=hedge, window=window
            )

    def prepend(
        self, older: Sequence[PairBar], window: int, price: PriceMode, hedge: HedgeMethod
    ) -> None:
        """Put bars older than every held one before them (a wider window needs more
        history), and recompute every bar's analytics from the oldest on."""
        held = self.history.frame()
        first = held["ts"][0] if held.height else None
        older = [bar for bar in older if first is None or bar.ts < first]
        if not older:
            return
        table = RollingTable(BAR_SCHEMA, self.history_rows, 512)
        for bar in older:
            table.append(history_row(bar, PairStats()))
        table.extend([held[name].to_list() for name in BAR_SCHEMA])
        self.history = table
        self.count += len(older)
        self.reanalyse(window, price, hedge)


class TickFrame:
    """The tick timeframe: one row per trade of either leg, priced against the other leg as of
    that trade (its latest trade at or before it, never a later one).

    Rows follow arrival; a trade older than the last row (a backfilled one) makes no row, since
    rows must go forward in time. Volatility is not defined per tick and is left out.

    Args:
        symbols: The pair, target first.
        window: ``W``, rows in the rolling window.
        price: Log or raw prices.
        hedge: The hedge behind the spread and z-score.
        history_rows: Rows kept.
    """

    def __init__(
        self,
        symbols: tuple[str, str],
        *,
        window: int,
        price: PriceMode,
        hedge: HedgeMethod,
        history_rows: int,
    ) -> None:
        self.symbols = symbols
        self.history_rows = history_rows
        self.analytics = self._analytics(window, price, hedge)
        self.history = RollingTable(BAR_SCHEMA, history_rows, 512)
        self.count = 0
        self.latest: ClosedBar | None = None
        self._recent: tuple[deque[tuple[int, int, float]], deque[tuple[int, int, float]]] = (
            deque(maxlen=_RECENT_PRICES),
            deque(maxlen=_RECENT_PRICES),
        )
        """Each leg's latest trades as (time, id, price), in arrival order."""
        self._last_time = -1

    def _analytics(self, window: int, price: PriceMode, hedge: HedgeMethod) -> PairAnalytics:
        return PairAnalytics(
            window,
            price,
            hedge,
            bar_seconds=_TICK_SECONDS,
            max_window=max(self.history_rows, window),
        )

    def take(self, trade: Trade, leg: int) -> tuple[PairBar, PairStats] | None:
        """The row of one trade and its analytics, or None when it makes no row.

        Args:
            trade: The trade.
            leg: 0 for the target leg, 1 for the hedge leg.
        """
        self._recent[leg].append((trade.time, trade.id, trade.price))
        if trade.time < self._last_time:
            return None
        other = _as_of(self._recent[1 - leg], trade.time)
        if other is None:
            return None
        self._last_time = trade.time
        own = Bar(trade.price, trade.price, trade.price, trade.price, trade.qty, 1)
        flat = Bar.flat(other)
        row = PairBar(trade.time, own, flat) if leg == 0 else PairBar(trade.time, flat, own)
        stats = _without_volatility(_stats_of(self.analytics, row))
        self.count += 1
        self.history.append(history_row(row, stats))
        return row, stats

    def load(
        self, ticks_a: pl.DataFrame, ticks_b: pl.DataFrame
    ) -> tuple[PairBar, PairStats] | None:
        """Start from the trades kept in the tick stores (switching to ticks mid-session).

        Args:
            ticks_a: Leg A's kept trades (``time``, ``price``, ``qty``, ``id``), arrival order.
            ticks_b: Leg B's.

        Returns:
            The last row and its analytics, or None when there is none.
        """
        rows = _as_of_rows(ticks_a, ticks_b, self.history_rows)
        for leg, ticks in enumerate((ticks_a, ticks_b)):
            recent = ticks.tail(_RECENT_PRICES).select("time", "id", "price").iter_rows()
            self._recent[leg].extend(recent)
        return self._replay(rows)

    def reanalyse(
        self, window: int, price: PriceMode, hedge: HedgeMethod
    ) -> tuple[PairBar, PairStats] | None:
        """Recompute every held row's analytics under other settings; return the last row."""
        self.analytics = self._analytics(window, price, hedge)
        rows = bars_of(self.history.frame())
        self.history = RollingTable(BAR_SCHEMA, self.history_rows, 512)
        self.count = 0
        return self._replay(rows)

    def _replay(self, rows: Iterable[PairBar]) -> tuple[PairBar, PairStats] | None:
        last = None
        for row in rows:
            stats = _without_volatility(_stats_of(self.analytics, row))
            self.count += 1
            self.history.append(history_row(row, stats))
            self._last_time = row.ts
            last = row, stats
        return last


def _as_of(recent: Sequence[tuple[int, int, float]], time_ms: int) -> float | None:
    """The price of the latest trade (by time, then id) at or before ``time_ms``."""
    best: tuple[int, int, float] | None = None
    for entry in reversed(recent):
        if entry[0] <= time_ms and (best is None or entry[:2] > best[:2]):
            best = entry
            if entry is recent[-1]:
                break  # arrival order is time order but for backfills: the newest wins
    return None if best is None else best[2]


def _as_of_rows(ticks_a: pl.DataFrame, ticks_b: pl.DataFrame, keep: int) -> list[PairBar]:
    """Tick rows of the last ``keep`` trades of either leg, by trade time (then id)."""
    legs = [
        ticks.select("time", "id", "price", "qty").with_columns(leg=pl.lit(leg, pl.Int8))
        for leg, ticks in enumerate((ticks_a, ticks_b))
    ]
    both = pl.concat(legs).sort("time", "leg", "id", maintain_order=True).tail(keep)
    rows: list[PairBar] = []
    for leg in (0, 1):
        other = legs[1 - leg].sort("time", "id").select("time", other="price")
        mine = both.filter(pl.col("leg") == leg).with_row_index("order")
        joined = mine.join_asof(other, on="time", strategy="backward")
        for time, price, qty, other_price in joined.select(
            "time", "price", "qty", "other"
        ).iter_rows():
            if other_price is None:
                continue
            own = Bar(price, price, price, price, qty, 1)
            flat = Bar.flat(other_price)
            rows.append(PairBar(time, own, flat) if leg == 0 else PairBar(time, flat, own))
    order = sorted(range(len(rows)), key=lambda i: rows[i].ts)
    return [rows[i] for i in order]


def _without_volatility(stats: PairStats) -> PairStats:
    if stats.vol_a is None and stats.vol_b is None:
        return stats
    return msgspec.structs.replace(stats, vol_a=None, vol_b=None)


def bars_of(held: pl.DataFrame) -> list[PairBar]:
    """The bars of history rows (their analytics columns are ignored)."""
    legs: list[list[Bar | None]] = []
    for leg in ("a", "b"):
        columns = [held[f"{name}_{leg}"].to_list() for name in LEG_FIELDS]
        legs.append(
            [
                None if c is None else Bar(o, h, low, c, v, n)
                for o, h, low, c, v, n in zip(*columns, strict=True)
            ]
        )
    return [PairBar(t, a, b) for t, a, b in zip(held["ts"].to_list(), *legs, strict=True)]


def _refill(table: RollingTable, held: pl.DataFrame, stats: list[PairStats]) -> None:
    """Replace the table's rows by ``held``'s bar columns with new analytics."""
    columns: list[list[object]] = []
    for name in BAR_SCHEMA:
        if name in STAT_FIELDS:
            columns.append([getattr(s, name) for s in stats])
        else:
            columns.append(held[name].to_list())
    table.clear()
    table.extend(columns)


class BarFrames:
    """Every bar timeframe of a pair, shortest first: the base one takes the source's bars, each
    longer one is folded from the one before it.

    Args:
        window: ``W`` of every timeframe.
        price: Log or raw prices.
        hedge: The hedge behind the spread and z-score.
        history_rows: Bars each timeframe keeps.
    """

    def __init__(
        self, *, window: int, price: PriceMode, hedge: HedgeMethod, history_rows: int
    ) -> None:
        self._frames = {
            name: BarFrame(name, window=window, price=price, hedge=hedge, history_rows=history_rows)
            for name in TIMEFRAMES
        }
        self.base: BarTimeframe = "1s"
        """The timeframe the source's bars come in (1s from trades; a bar file's own)."""
        self.chain_from("1s")

    def __getitem__(self, name: BarTimeframe) -> BarFrame:
        return self._frames[name]

    def __iter__(self) -> Iterator[BarFrame]:
        return iter(self._frames.values())

    def chain_from(self, base: BarTimeframe) -> None:
        """Bars of ``base`` come from the source; longer timeframes are folded from them."""
        names = list(TIMEFRAMES)
        for frame in self._frames.values():
            frame.children = []
            frame.aggregator = None
        previous = base
        for name in names[names.index(base) + 1 :]:
            frame = self._frames[name]
            frame.aggregator = BarAggregator(TIMEFRAMES[name], TIMEFRAMES[previous])
            self._frames[previous].children.append(frame)
            previous = name
        self.base = base

    def seed(
        self,
        stitch_ms: int,
        bars: Mapping[BarTimeframe, Sequence[PairBar]],
        closed: Callable[[BarTimeframe, PairBar, PairStats], ClosedBar],
    ) -> None:
        """Every timeframe from history (see :meth:`pairs_tui.pipeline.Pipeline.seed`);
        ``closed`` makes each timeframe's last bar."""
        for name in reversed(list(TIMEFRAMES)):  # 5m first: the shorter timeframes fold into it
            frame = self._frames[name]
            for bar in bars.get(name, ()):
                frame.latest = closed(name, bar, frame.take(bar))
                for longer in frame.children:
                    if bar.ts >= stitch_ms - stitch_ms % longer.ms:  # the longer bar still open
                        assert longer.aggregator is not None
                        folded = longer.aggregator.add(bar)
                        assert folded is None, "a bar before the stitch closed an open bucket"

    def held_since(self, name: BarTimeframe) -> int | None:
        """Start of the oldest bar held on ``name``, or None when none is."""
        history = self._frames[name].history.frame()
        return int(history["ts"][0]) if history.height else None
