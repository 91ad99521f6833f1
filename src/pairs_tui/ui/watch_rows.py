"""What a watchlist row says of a pair, read from its :class:`~pairs_tui.snapshot.Glance`.

Nothing from Textual: the columns, their cell texts and their sort order are answered here, so
the screen only decides which cells changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pairs_tui.records import TICK
from pairs_tui.snapshot import AlertEvent, Glance
from pairs_tui.ui import formatting, plotting, view

SPARK_BARS = 12
"""Bars of z-score in a row's sparkline."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the watchlist table."""

    key: str
    label: str
    width: int
    right: bool = True
    """Numbers are right-aligned; names and text are not."""


COLUMNS = (
    Column("pair", "pair", 17, right=False),
    Column("close_a", "last A", 10),
    Column("close_b", "last B", 10),
    Column("beta", "β", 6),
    Column("zscore", "z", 6),
    Column("spark", "z, last bars", SPARK_BARS, right=False),
    Column("half_life", "half-life", 9),
    Column("corr", "corr", 5),
    Column("alert", "last alert", 40, right=False),
)
"""The table's columns, left to right."""


@dataclass(frozen=True, slots=True)
class WatchRow:
    """One pair's row: the numbers it sorts on and the texts it shows."""

    pair: tuple[str, str]
    close_a: float | None
    close_b: float | None
    beta: float | None
    zscore: float | None
    half_life: float | None
    """In bars (or ticks)."""
    corr: float | None
    alert: AlertEvent | None
    timeframe: str

    def value(self, key: str) -> float | str | None:
        """What the column ``key`` sorts on (|z| for the z-score columns)."""
        if key == "pair":
            return "/".join(self.pair)
        if key in ("zscore", "spark"):
            return None if self.zscore is None else abs(self.zscore)
        if key == "alert":
            return None if self.alert is None else float(self.alert.time)
        value = getattr(self, key)
        return value if isinstance(value, float) and math.isfinite(value) else None

    def texts(self, entry_z: float) -> dict[str, tuple[str, str]]:
        """Per column but the sparkline: its text and a Rich style (``""`` for none)."""
        z = self.zscore
        hot = z is not None and abs(z) >= entry_z
        seconds = formatting.TIMEFRAME_SECONDS.get(self.timeframe, 1)
        if self.half_life is None:
            half_life = formatting.DASH
        elif self.timeframe == TICK:
            half_life = f"{self.half_life:,.0f} ticks"
        else:
            half_life = formatting.duration(self.half_life * seconds)
        alert = formatting.DASH
        if self.alert is not None:
            when = formatting.clock(view.alert_time(self.alert))
            # The rule's name says what fired in the least room; the banner has the rest.
            alert = f"{when} {self.alert.rule or view.alert_text(self.alert)}"
        return {
            "pair": ("/".join(self.pair), ""),  # plain: a price change is written from here
            "close_a": (formatting.price(self.close_a), ""),
            "close_b": (formatting.price(self.close_b), ""),
            "beta": (formatting.number(self.beta, 3), ""),
            "zscore": (formatting.number(z, 2, signed=True), "bold reverse" if hot else "bold"),
            "half_life": (half_life, ""),
            "corr": (formatting.number(self.corr, 2), ""),
            "alert": (alert, "" if self.alert is None else "italic"),
        }


def watch_row(glance: Glance) -> WatchRow:
    """The row of a pair from its glance."""
    stats = None if glance.latest is None else glance.latest.stats
    a, b = glance.quotes
    return WatchRow(
        pair=glance.symbols,
        close_a=None if a is None else a.price,
        close_b=None if b is None else b.price,
        beta=None if stats is None else stats.beta,
        zscore=None if stats is None else stats.zscore,
        half_life=None if stats is None else stats.half_life,
        corr=None if stats is None else stats.corr,
        alert=glance.last_alert,
        timeframe=glance.timeframe,
    )


def order(rows: list[WatchRow], key: str, *, descending: bool) -> list[tuple[str, str]]:
    """The pairs sorted on column ``key``; rows without a value last, either way."""
    known = [r for r in rows if r.value(key) is not None]
    unknown = [r for r in rows if r.value(key) is None]
    known.sort(key=lambda r: r.value(key), reverse=descending)  # type: ignore[arg-type,return-value]
    return [r.pair for r in (*known, *unknown)]


def spark(zscores: np.ndarray) -> str:
    """The sparkline of the latest z-scores, :data:`SPARK_BARS` wide."""
    return plotting.sparkline(zscores, SPARK_BARS)
