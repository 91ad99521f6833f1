"""A line plot drawn by plotext 6, rebuilt only when its data or its size changes."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.events import Resize
from textual.widget import Widget

from pairs_tui.ui import plotting

_RUNS = re.compile(
    rf"(?P<line>[\u2800-\u28ff]+)|(?P<band>{plotting.BAND}+)|(?P<zero>{plotting.ZERO}+)"
)


class LinePlot(Widget):
    """A braille line with optional bands and zero line, time on the x axis.

    The text comes from :func:`pairs_tui.ui.plotting.render`, colourless; this widget colours
    the runs of the line, the bands and the zero line from its component classes, one style
    per run, so a redraw costs few escape codes. Under ``NO_COLOR`` it adds no colour at all.

    | Class | Description |
    | :- | :- |
    | `line-plot--line` | The data line. |
    | `line-plot--band` | The dotted bands. |
    | `line-plot--zero` | The zero line. |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "line-plot--line", "line-plot--band", "line-plot--zero",
    }

    DEFAULT_CSS = """
    LinePlot {
        height: 1fr;
        min-height: 3;
        color: $text-muted;
        & > .line-plot--line { color: $accent; }
        & > .line-plot--band { color: $warning 80%; }
        & > .line-plot--zero { color: $text-muted; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._series: plotting.Series | None = None
        self._message = ""
        self._plain = ""
        self._built_for: tuple[int, int] = (0, 0)
        self.builds = 0
        """How many times the plot was drawn (for tests and benchmarks)."""

    def show(self, series: plotting.Series | None, message: str = "") -> None:
        """Draw ``series``, or show ``message`` when there is nothing to draw yet.

        Args:
            series: The data, or None.
            message: Shown in place of the plot when ``series`` has no data.
        """
        self._series = series
        self._message = message
        self._rebuild()

    def on_resize(self, event: Resize) -> None:
        if self.content_size != self._built_for:
            self._rebuild()

    def _rebuild(self) -> None:
        width, height = self.content_size
        self._built_for = (width, height)
        if self._series is not None and self._series.has_data and width and height:
            self._plain = plotting.render(self._series, width, height)
            self.builds += 1
        else:
            self._plain = ""
        self.refresh()

    def render(self) -> RenderResult:
        if not self._plain:
            above = "\n" * max(0, self.content_size.height // 2 - 1)
            return Text(above + self._message, justify="center", style="italic")
        text = Text(self._plain, no_wrap=True, overflow="crop")
        if self.app.no_color:
            return text
        styles = {
            name: self.get_component_rich_style(f"line-plot--{name}", partial=True)
            for name in ("line", "band", "zero")
        }
        for match in _RUNS.finditer(self._plain):
            style: Style = styles[match.lastgroup or "line"]
            text.stylize(style, match.start(), match.end())
        return text
