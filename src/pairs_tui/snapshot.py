"""What the pipeline publishes: final bars with their analytics, and immutable snapshots.

The pipeline is the only writer; the screen, the headless writer, exports, alerts and the tests
read these records and never the pipeline's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import msgspec
import polars as pl
from msgspec.structs import astuple

from pairs_tui.analytics.pair import PairStats
from pairs_tui.feed.status import FeedStatus
from pairs_tui.records import Bar, HedgeMethod, PairBar, PriceMode, Timeframe, Trade


class AlertEvent(msgspec.Struct, frozen=True):
    """One firing of one rule, as the screen, the headless line and the log carry it."""

    time: int
    """Bar start (ms UTC) for bar metrics; the exchange clock for ``stale``; the test's time
    for ``adf_p``."""
    rule: str
    """The rule's name."""
    metric: str
    op: str
    threshold: float
    value: float
    """The value that crossed the line."""
    message: str
    """One line for the banner, e.g. ``zscore 2.13 crossed above 2 (rule "z above 2")``."""
    bell: bool = False
    """The rule asks for the terminal bell."""


LEG_FIELDS: tuple[str, ...] = tuple(Bar.__struct_fields__)
"""Each leg's columns in the bar history, suffixed ``_a`` and ``_b``: ``open, high, low, close,
volume, trades``, in :class:`~pairs_tui.records.Bar` order."""
STAT_FIELDS: tuple[str, ...] = tuple(PairStats.__struct_fields__)
"""The analytics columns of the bar history, in :class:`PairStats` order."""
BAR_SCHEMA: dict[str, type[pl.DataType]] = {
    "ts": pl.Int64,
    **{
        f"{name}_{leg}": (pl.Int64 if name == "trades" else pl.Float64)
        for leg in ("a", "b")
        for name in LEG_FIELDS
    },
    **{name: (pl.Int64 if name in ("n", "bars_needed") else pl.Float64) for name in STAT_FIELDS},
}
"""Columns of the bar history: both legs' OHLCV and trade counts, then every analytics field."""


class Carry(msgspec.Struct, frozen=True):
    """Perpetual funding of both legs and what it costs to hold the spread.

    ``carry_bp_day`` is for the long spread: long 1 USDT of A against short β USDT of B (log
    prices), or 1 unit of A against β units of B (raw prices, the B term scaled by
    ``close_B / close_A``); the short spread earns the negative.
    """

    funding_a: float | None
    """Leg A's funding rate in force (a fraction: 0.0001 is 1 bp), or None before any."""
    funding_b: float | None
    """Leg B's funding rate in force."""
    next_funding_ts: int | None
    """The earlier of the two legs' next funding times, ms UTC."""
    carry_bp_day: float | None
    """``1e4 · (-r_A · 24/h_A + β · r_B · 24/h_B)``; None without both rates and a β."""
    interval_a_h: float = 8.0
    """Leg A's funding interval, hours."""
    interval_b_h: float = 8.0
    """Leg B's funding interval, hours."""
    premium_a: float | None = None
    """Leg A's mark over its index, minus 1 (a fraction)."""
    premium_b: float | None = None
    """Leg B's mark over its index, minus 1."""
    next_funding_a: int | None = None
    """Leg A's next funding time, ms UTC."""
    next_funding_b: int | None = None
    """Leg B's next funding time, ms UTC."""


class ClosedBar(msgspec.Struct, frozen=True):
    """A final bar of the active timeframe (or a tick row), with everything computed on it."""

    timeframe: Timeframe
    bar: PairBar
    stats: PairStats
    alerts: tuple[AlertEvent, ...]
    """Alert events this bar fired (empty when none)."""
    feed: FeedStatus
    """The feed's counters when the bar became final."""
    symbols: tuple[str, str]
    """The pair, target first."""
    price: PriceMode
    """The price mode the analytics used."""
    hedge: HedgeMethod
    """The hedge method behind the spread and z-score."""
    window: int
    """The window the analytics used."""
    carry: Carry | None = None
    """Funding and carry when the bar became final; None when carry is off."""


class HistoryProgress(msgspec.Struct, frozen=True):
    """Where the warm start stands: the screen shows "history 3/6 requests"."""

    state: str = "off"
    """``off`` (no warm start), ``loading``, ``done`` or ``failed``."""
    done: int = 0
    """Requests (or store reads) finished."""
    total: int = 0
    """Requests (or store reads) planned."""
    detail: str = ""
    """One line: what failed and why, or what was loaded."""


NO_HISTORY = HistoryProgress()
"""No warm start (a replay, ``--no-history``)."""


@dataclass(frozen=True, slots=True)
class LegQuote:
    """The latest trade of one leg."""

    symbol: str
    price: float
    time: int
    """Trade time, ms UTC."""
    first_price: float
    """The first price of the session, for the change figure."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a consumer needs to draw the pair at one moment. Never mutated."""

    symbols: tuple[str, str]
    timeframe: Timeframe
    window: int
    price: PriceMode
    hedge: HedgeMethod
    feed: FeedStatus
    quotes: tuple[LegQuote | None, LegQuote | None]
    bars: pl.DataFrame
    """History of the active timeframe, oldest first (:data:`BAR_SCHEMA`)."""
    latest: ClosedBar | None
    """The last final bar of the active timeframe."""
    bar_count: int
    """Final bars of the active timeframe since the start."""
    messages_per_second: float
    alerts: tuple[AlertEvent, ...] = ()
    """Every alert fired since the start, oldest first (bounded)."""
    version: int = 0
    """Increases whenever anything above changes."""
    finished: bool = False
    """The source has ended (a replay reached its end)."""
    error: str | None = None
    """Why the pipeline stopped, when it stopped on an error."""
    carry: Carry | None = None
    """Funding and carry now; None when carry is off."""
    history: HistoryProgress = NO_HISTORY
    """The warm start's progress."""


@dataclass(frozen=True, slots=True)
class Glance:
    """A pair at a glance, for a watchlist row: cheap to take for every pair ten times a second
    (a :class:`Snapshot` also copies out the bar history)."""

    symbols: tuple[str, str]
    timeframe: Timeframe
    quotes: tuple[LegQuote | None, LegQuote | None]
    latest: ClosedBar | None
    """The last final bar (or tick row) of the active timeframe."""
    bar_count: int
    """Final bars of the active timeframe since the start."""
    last_alert: AlertEvent | None
    """The newest alert of the pair, if any fired."""


_NO_LEG = (None,) * len(LEG_FIELDS)


def history_row(bar: PairBar, stats: PairStats) -> tuple[object, ...]:
    """One row of :data:`BAR_SCHEMA`: the bar's legs, then its analytics (each struct's fields
    in their order, which are the columns' order: a bar of a replay costs 0.4 µs here, not 1.8)."""
    a, b = bar.a, bar.b
    return (
        bar.ts,
        *(_NO_LEG if a is None else astuple(a)),
        *(_NO_LEG if b is None else astuple(b)),
        *astuple(stats),
    )


class AlertEvaluator(Protocol):
    """Evaluates alert rules inside the data path."""

    @property
    def keep(self) -> int:
        """Alerts kept for the screen's list."""

    def on_bar(self, closed: ClosedBar) -> list[AlertEvent]:
        """The alert events that fire on this final bar."""

    def on_feed(
        self, status: FeedStatus, now_ms: float, last_trade_ms: int | None
    ) -> list[AlertEvent]:
        """The ``stale`` events on the clock tick."""


BarListener = Callable[[ClosedBar], None]
TradeListener = Callable[[Trade], None]
