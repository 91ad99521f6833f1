"""A titled plot: a one-line heading with the latest value, and the plot under it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content

from pairs_tui.ui import plotting
from pairs_tui.ui.widgets.line_plot import LinePlot
from pairs_tui.ui.widgets.text_panel import TextPanel


class PlotPanel(Vertical):
    """``z-score                                     +1.84`` over a :class:`LinePlot`.

    Args:
        title: The heading, e.g. ``z-score``.
    """

    DEFAULT_CSS = """
    PlotPanel {
        height: 1fr;
        & > .plot-title { height: 1; padding: 0 1; color: $text-muted; }
    }
    """

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        """The heading."""
        self._heading = TextPanel(title, classes="plot-title")
        self.plot = LinePlot()
        """The plot under the heading."""

    def compose(self) -> ComposeResult:
        yield self._heading
        yield self.plot

    def show_value(self, value: Content | str) -> None:
        """Show the latest value beside the title (refreshed with the numbers)."""
        self._heading.set(Content.assemble((self.title, "bold"), "  ", value))

    def show_plot(self, series: plotting.Series | None, message: str = "") -> None:
        """Redraw the plot (on the plot timer)."""
        self.plot.show(series, message)
