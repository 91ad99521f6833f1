"""Each leg on its own (key ``v``): volume as bars under its price, and its statistics over the
window (mean and standard deviation of the close, last return, annualised volatility)."""

from __future__ import annotations

import numpy as np
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content

from pairs_tui.analytics import PairStats
from pairs_tui.ui import formatting, plotting
from pairs_tui.ui.widgets.text_panel import TextPanel

SIGMA = "\u03c3"
"""Standard deviation, where room is short (next to mu for the mean)."""


def stats_line(stats: PairStats | None, leg: str, width: int) -> Content:
    """``mean 61,812.40  sd 12.31  last +1.2 bp  vol 48.2%/yr``, or shorter forms to fit.

    Args:
        stats: The latest bar's analytics (None before any).
        leg: ``a`` or ``b``.
        width: Cells available.
    """

    def get(name: str) -> float | None:
        value = None if stats is None else getattr(stats, f"{name}_{leg}")
        return value if formatting.known(value) else None

    mean, sd, last, vol = get("mean"), get("std"), get("return"), get("vol")
    ret = formatting.DASH if last is None else f"{formatting.number(last * 1e4, 2, signed=True)} bp"
    ann = formatting.DASH if vol is None else f"{vol * 100:.1f}%/yr"
    mean_text, sd_text = formatting.price(mean), _sd(sd)
    muted = "$text-muted"
    forms = [
        Content.assemble(
            ("mean ", muted),
            mean_text,
            ("  sd ", muted),
            sd_text,
            ("  last ", muted),
            ret,
            ("  vol ", muted),
            ann,
        ),
        Content.assemble(
            ("μ ", muted),
            mean_text,
            (f" {SIGMA} ", muted),
            sd_text,
            (" r ", muted),
            ret.replace(" ", ""),
            (" vol ", muted),
            ann.replace("/yr", ""),
        ),
        Content.assemble(
            (f"{SIGMA} ", muted),
            sd_text,
            (" r ", muted),
            ret.replace(" ", ""),
            (" vol ", muted),
            ann.replace("/yr", ""),
        ),
    ]
    return next((form for form in forms if form.cell_length <= width), forms[-1])


def _sd(value: float | None) -> str:
    """A standard deviation to three significant digits (``44.1``, ``2.13``, ``0.000412``)."""
    if value is None:
        return formatting.DASH
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.{max(0, 3 - len(str(int(value))))}f}"
    return f"{value:.3g}"


class LegPanel(Vertical):
    """One leg: its volume bars, then its statistics."""

    DEFAULT_CSS = """
    LegPanel {
        width: 1fr;
        height: 2;
        padding: 0 1;
        & > TextPanel { width: 100%; height: 1; text-wrap: nowrap; text-overflow: clip; }
        & > .volume { color: $secondary; }
    }
    """

    def __init__(self, leg: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.leg = leg
        """``a`` or ``b``."""
        self._volume = TextPanel("", classes="volume")
        self._stats = TextPanel("", classes="stats")

    def compose(self) -> ComposeResult:
        yield self._volume
        yield self._stats

    def show(self, stats: PairStats | None, volumes: np.ndarray) -> None:
        """Show the leg's latest statistics and volumes."""
        width = self.content_size.width or 36
        self._stats.set(stats_line(stats, self.leg, width))
        label = "volume "
        bars = plotting.volume_bars(volumes, max(0, width - len(label)))
        self._volume.set(
            Content.assemble((label, "$text-muted"), bars)
            if bars
            else Content.styled("volume: no bar yet", "$text-muted italic")
        )


class LegsPanel(Horizontal):
    """Both legs side by side, under their prices; hidden until ``v``."""

    DEFAULT_CSS = """
    LegsPanel {
        display: none;
        height: 2;
        &.-shown { display: block; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.leg_a = LegPanel("a", id="leg-a-stats")
        self.leg_b = LegPanel("b", id="leg-b-stats")

    def compose(self) -> ComposeResult:
        yield self.leg_a
        yield self.leg_b

    @property
    def shown(self) -> bool:
        """The panel is on screen."""
        return self.has_class("-shown")

    def toggle(self) -> bool:
        """Show or hide the panel; returns whether it is shown now."""
        self.toggle_class("-shown")
        return self.shown

    def show(self, stats: PairStats | None, volumes: dict[str, np.ndarray]) -> None:
        """Both legs' statistics and volumes (skipped while hidden: nothing to draw)."""
        if not self.shown:
            return
        self.leg_a.show(stats, volumes["volume_a"])
        self.leg_b.show(stats, volumes["volume_b"])
