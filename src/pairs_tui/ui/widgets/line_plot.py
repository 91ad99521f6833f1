"""A line plot drawn by plotext 6, rebuilt only when its data or its size changes."""

from __future__ import annotations

import re
import textwrap
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.events import Resize
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from pairs_tui.ui import plotting

_RUNS = re.compile(rf"(?P<band>-(?: -)*)|(?P<zero>{plotting.ZERO}+)")


class LinePlot(Widget):
    """A braille line with optional bands and zero line, time on the x axis.

    The text comes from :func:`pairs_tui.ui.plotting.render`, colourless. This widget paints
    it with as few style runs as it can — the axis labels in one style, the plot area in another,
    only the bands and the zero line apart — and, after a rebuild, repaints only the lines that
    changed: over SSH the bytes are the cost, and most of a plot is spaces in one style. Under
    ``NO_COLOR`` the filters of the app take every colour out.

    | Class | Description |
    | :- | :- |
    | `line-plot--axis` | The axis labels. |
    | `line-plot--band` | The dotted entry bands. |
    | `line-plot--zero` | The zero line. |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "line-plot--axis",
        "line-plot--band",
        "line-plot--zero",
    }

    DEFAULT_CSS = """
    LinePlot {
        height: 1fr;
        min-height: 3;
        color: $foreground;
        & > .line-plot--axis { color: $text-muted; }
        & > .line-plot--band { color: $warning; }
        & > .line-plot--zero { color: $text-muted; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._series: plotting.Series | None = None
        self._message = ""
        self._plot: plotting.PlotText | None = None
        self._lines: tuple[str, ...] = ()
        self._strips: dict[int, Strip] = {}
        self._built_for: tuple[int, int] = (0, 0)
        self.builds = 0
        """How many times the plot was drawn (for tests and benchmarks)."""

    @property
    def text(self) -> str:
        """What the plot shows, as plain text."""
        return "\n".join(self._lines)

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
            self._rebuild(full=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def _rebuild(self, *, full: bool = False) -> None:
        width, height = self.content_size
        self._built_for = (width, height)
        plot = None
        if self._series is not None and width and height:
            plot = plotting.render(self._series, width, height)
            self.builds += plot is not None
        lines = plot.lines if plot is not None else _centred(self._message, width, height)
        old, self._lines, self._plot = self._lines, lines, plot
        self._strips.clear()
        if full or len(old) != len(lines):
            self.refresh()
            return
        changed = [
            Region(0, y, width, 1)
            for y, (a, b) in enumerate(zip(old, lines, strict=True))
            if a != b
        ]
        if changed:
            self.refresh(*changed)

    def render_line(self, y: int) -> Strip:
        strip = self._strips.get(y)
        if strip is None:
            strip = self._strips[y] = self._strip(y)
        return strip

    def _strip(self, y: int) -> Strip:
        base = self.rich_style
        width = self.content_size.width
        if y >= len(self._lines):
            return Strip.blank(width, base)
        line = self._lines[y]
        if self._plot is None:
            return Strip([Segment(line, base + Style(italic=True))]).adjust_cell_length(width, base)
        axis = self.get_component_rich_style("line-plot--axis")
        if y == len(self._lines) - 1:  # the time labels
            return Strip([Segment(line, axis)]).adjust_cell_length(width, base)
        split = self._plot.label_width
        segments = [Segment(line[:split], axis)]
        position = split
        for run in _RUNS.finditer(line, split):
            if run.start() > position:
                segments.append(Segment(line[position : run.start()], base))
            style = self.get_component_rich_style(f"line-plot--{run.lastgroup}")
            segments.append(Segment(run.group(), style))
            position = run.end()
        if position < len(line):
            segments.append(Segment(line[position:], base))
        return Strip(segments).adjust_cell_length(width, base)


_PARENTHESIS = re.compile(r"\([^)]*\)")
_NBSP = "\u00a0"


def _centred(message: str, width: int, height: int) -> tuple[str, ...]:
    """``message`` in the middle of a ``width`` x ``height`` block, wrapped between words
    (never cut in the middle of one)."""
    if not message or not width or not height:
        return ()
    # A parenthesis ("(≈ 10.9 min)") stays on one line: its spaces do not break.
    kept = _PARENTHESIS.sub(lambda m: m[0].replace(" ", _NBSP), message)
    wrapped = [line.replace(_NBSP, " ") for line in textwrap.wrap(kept, width)[:height]]
    lines = [""] * height
    top = max(0, min(height // 2 - 1, height - len(wrapped)))
    for i, text in enumerate(wrapped):
        lines[top + i] = text.center(width).rstrip()
    return tuple(lines)
