"""What the screen reads out of a :class:`~pairs_tui.snapshot.Snapshot`; nothing from Textual.

The widgets ask these functions for columns and states instead of reaching into the
snapshot's frame themselves, so the questions "how many bars are still needed" and "which bars
does a plot span" are answered in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pairs_tui.analytics import PairStats
from pairs_tui.config import Options
from pairs_tui.feed.status import FeedStatus
from pairs_tui.snapshot import BAR_SCHEMA, AlertEvent, Snapshot
from pairs_tui.ui import formatting
from pairs_tui.warm import shown_bars

VOLUME_SPAN = 400
"""The most bars of volume the legs panel draws (one per cell)."""

HEDGE_NAMES = {"ols": "OLS", "ols0": "OLS (no intercept)", "huber": "Huber", "kalman": "Kalman"}
"""How the hedge methods of the config read on screen."""
SHORT_HEDGE_NAMES = {"ols": "OLS", "ols0": "OLS no int.", "huber": "Huber", "kalman": "Kalman"}
"""The same where room is short (still telling OLS from OLS through the origin)."""


@dataclass(frozen=True, slots=True)
class WarmUp:
    """How far the analytics are from their first value.

    Attributes:
        needed: Bars still missing before the rolling statistics exist (0 when warm).
        seconds: About how long that takes on the active timeframe.
        first_bar: False until the first final bar of both legs.
    """

    needed: int
    seconds: float
    first_bar: bool

    @property
    def warm(self) -> bool:
        """The statistics exist."""
        return self.first_bar and self.needed == 0

    def message(self, what: str = "", *, short: bool = False) -> str:
        """A sentence for a panel that has nothing to show yet.

        Args:
            what: What is being waited for, e.g. ``the z-score``.
            short: Leave out how long it takes.
        """
        if not self.first_bar:
            return "waiting for the first bar of both legs…"
        for_what = f" for {what}" if what else ""
        text = f"warming up: {self.needed:,} more bar{'s' if self.needed != 1 else ''}{for_what}"
        return text if short else f"{text} (≈ {formatting.duration(self.seconds)})"


def empty_snapshot(options: Options) -> Snapshot:
    """What the screen shows before the source is open: nothing yet, connecting."""
    settings = options.settings.analytics
    return Snapshot(
        symbols=(options.symbols[0].upper(), options.symbols[1].upper()),
        timeframe=options.timeframe,
        window=options.window,
        price=settings.price,
        hedge=settings.hedge,
        feed=FeedStatus(),
        quotes=(None, None),
        bars=pl.DataFrame(schema=BAR_SCHEMA),
        latest=None,
        bar_count=0,
        messages_per_second=0.0,
    )


def latest_stats(snapshot: Snapshot) -> PairStats | None:
    """The analytics of the latest final bar of the shown timeframe.

    Right after a switch of timeframe the snapshot has no ``latest`` bar of the new one until
    its next bar closes, but its history does: read the last row then.
    """
    if snapshot.latest is not None:
        return snapshot.latest.stats
    if snapshot.bars.height == 0:
        return None
    row = snapshot.bars.row(-1, named=True)
    return PairStats(**{name: row[name] for name in PairStats.__struct_fields__ if name in row})


def warm_up(snapshot: Snapshot) -> WarmUp:
    """Bars still needed for the z-score, from the latest bar's statistics."""
    stats = latest_stats(snapshot)
    seconds_per_bar = formatting.TIMEFRAME_SECONDS.get(snapshot.timeframe, 1)
    if stats is None:
        needed = snapshot.window + 1
        return WarmUp(needed, needed * seconds_per_bar, first_bar=False)
    if stats.bars_needed is not None:
        needed = stats.bars_needed
    elif stats.zscore is not None:
        needed = 0
    else:
        have = stats.n if stats.n > 0 else snapshot.bar_count
        needed = formatting.bars_needed(snapshot.window, have)
    return WarmUp(needed, needed * seconds_per_bar, first_bar=True)


def plot_span(snapshot: Snapshot) -> int:
    """How many of the latest bars the plots show (the warm start fetches their z-scores)."""
    return shown_bars(snapshot.window)


def columns(snapshot: Snapshot, names: tuple[str, ...], tail: int) -> dict[str, np.ndarray]:
    """The last ``tail`` rows of some bar columns as float arrays, nulls as NaN."""
    frame = snapshot.bars
    if frame.height == 0:
        return {name: np.empty(0) for name in names}
    part = frame.select(names).tail(tail)
    return {
        name: part.get_column(name).cast(pl.Float64).to_numpy(allow_copy=True) for name in names
    }


def spread_scale(snapshot: Snapshot) -> tuple[float, str]:
    """Factor and unit the spread is shown in: basis points on log prices, price otherwise."""
    return (1e4, "bp") if snapshot.price == "log" else (1.0, "")


def model_text(snapshot: Snapshot, *, short: bool = False) -> str:
    """``OLS on log prices`` (``OLS, log`` when ``short``)."""
    if short:
        return f"{SHORT_HEDGE_NAMES.get(snapshot.hedge, snapshot.hedge)}, {snapshot.price}"
    return f"{HEDGE_NAMES.get(snapshot.hedge, snapshot.hedge)} on {snapshot.price} prices"


def alert_time(event: AlertEvent) -> int:
    """When an alert fired, ms UTC: the bar's start, or the exchange clock for silence."""
    return event.time


def alert_text(event: AlertEvent) -> str:
    """One line for an alert event: its own message, or else the rule written out."""
    if event.message:
        return event.message
    text = f"{event.metric or 'alert'} {formatting.compact(event.value)}"
    text += f" crossed {formatting.compact(event.threshold)}"
    if event.rule:
        text += f'  (rule "{event.rule}")'
    return text
