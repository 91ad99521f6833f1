"""Line plots as plain text, drawn by plotext 6, and sparklines; nothing from Textual.

plotext 6 has one master figure (``plotext.figure``), so every plot is drawn on it in turn, on
the UI thread only. The figure is built colourless: the widget colours the few runs that matter
(the line, the bands) itself, which keeps the bytes on the wire low and follows the app's theme.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pairs_tui.ui import formatting

if TYPE_CHECKING:
    from types import ModuleType
_SPARK = "▁▂▃▄▅▆▇█"
_TIME_STEPS_S = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
)
"""Candidate spacings of the time labels: each label lands on a round time."""

DOTTED = "┈"
"""The character plotext draws a dotted line with."""
BAND = "- "
"""How the entry bands are written: ASCII dashes, a third of the bytes of ``┈`` over SSH."""
_DOTTED_RUN = re.compile(f"{DOTTED}+")
ZERO = "─"
"""The character of a plain line: the zero line."""


@dataclass(frozen=True, slots=True)
class Series:
    """What one plot shows: values on the bar-time grid, oldest first.

    Attributes:
        ts: Bar start times, ms UTC.
        values: One value per bar; NaN where it is unknown.
        bands: Levels drawn as dotted lines (the ± entry bands).
        zero: Draw the zero line.
        seconds_labels: Time labels with seconds (``HH:MM:SS``) rather than ``HH:MM``.
    """

    ts: np.ndarray
    values: np.ndarray
    bands: tuple[float, ...] = ()
    zero: bool = True
    seconds_labels: bool = True
    tick_format: Callable[[float], str] = field(default=formatting.compact, compare=False)
    """Formats the y-axis labels."""

    @property
    def has_data(self) -> bool:
        """At least two known values to draw a line through."""
        return int(np.isfinite(self.values).sum()) >= 2


def downsample(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's minimum and maximum, in time order, so spikes survive.

    Args:
        x: Positions, increasing.
        y: Values, finite.
        buckets: How many buckets (about the plot's width in dots / 2).

    Returns:
        At most ``2 * buckets`` points.
    """
    n = len(x)
    if buckets <= 0 or n <= 2 * buckets:
        return x, y
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep: list[int] = []
    for lo, hi in itertools.pairwise(edges):
        if hi <= lo:
            continue
        part = y[lo:hi]
        a, b = lo + int(np.argmin(part)), lo + int(np.argmax(part))
        keep.extend((a, b) if a < b else (b, a) if a > b else (a,))
    index = np.asarray(keep, dtype=np.int64)
    return x[index], y[index]


def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """Round tick values (1-2-5 steps) inside ``[lo, hi]``, about ``count`` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or count < 1:
        return []
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def time_ticks(t0_ms: int, t1_ms: int, slots: int) -> list[int]:
    """Round times (ms) between ``t0_ms`` and ``t1_ms``, at most ``slots`` of them."""
    span_s = max(1.0, (t1_ms - t0_ms) / 1000)
    step = next((s for s in _TIME_STEPS_S if span_s / s <= max(1, slots)), _TIME_STEPS_S[-1])
    step_ms = step * 1000
    first = -(-t0_ms // step_ms) * step_ms
    return list(range(first, t1_ms + 1, step_ms))


@dataclass(frozen=True, slots=True)
class PlotText:
    """A drawn plot: its lines, and where the y-axis labels end."""

    lines: tuple[str, ...]
    """``height`` lines of plain text, no escape codes."""
    label_width: int
    """Cells of y-axis labels at the start of each line."""

    @property
    def text(self) -> str:
        """The lines joined."""
        return "\n".join(self.lines)


def render(series: Series, width: int, height: int) -> PlotText | None:
    """Draw ``series`` as a braille line plot of ``width`` x ``height`` cells.

    Returns:
        The plot, or None when there is nothing to draw (or no room).
    """
    if width < 16 or height < 3 or not series.has_data:
        return None
    ts = series.ts.astype(np.int64)
    t0 = int(ts[0])
    finite = np.isfinite(series.values)
    x = (ts[finite] - t0) / 1000.0
    y = series.values[finite].astype(np.float64)
    x, y = downsample(x, y, width)

    levels = [*series.bands, *([0.0] if series.zero else [])]
    lo = float(min(y.min(), *levels)) if levels else float(y.min())
    hi = float(max(y.max(), *levels)) if levels else float(y.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    pad = (hi - lo) * 0.04
    lo, hi = lo - pad, hi + pad

    plotext, no_colour = _plotext()
    fig = plotext.figure
    fig.clear()
    fig.plot_size(width, height)
    fig.theme("colorless")
    fig.canvas("default")
    fig.axes(False, axis="both", side="upper")
    fig.draw(fig.signal(x.tolist(), y.tolist(), marker="braille").lines())
    for band in series.bands:
        fig.line(band, pixel=no_colour, style="dotted")
    if series.zero:
        fig.line(0.0, pixel=no_colour)

    rows = max(2, min(6, (height - 1) // 3))
    y_ticks = sorted({*nice_ticks(lo, hi, rows), *series.bands, *([0.0] if series.zero else [])})
    y_ticks = [v for v in y_ticks if lo <= v <= hi]
    labels = [series.tick_format(v) for v in y_ticks]
    fig.ruler("y").lim(lo, hi)
    fig.ruler("y").ticks(y_ticks, labels)

    t1 = int(ts[-1])
    label = 8 if series.seconds_labels else 5
    x_ticks = time_ticks(t0, t1, max(1, (width - 6) // (label + 6)))
    fig.ruler("x").lim(0.0, max((t1 - t0) / 1000.0, 1.0))
    fig.ruler("x").ticks(
        [(t - t0) / 1000.0 for t in x_ticks],
        [formatting.clock(t, seconds=series.seconds_labels) for t in x_ticks],
    )
    text = str(fig.build().string(colorless=True))
    text = _DOTTED_RUN.sub(lambda run: (BAND * len(run[0]))[: len(run[0])], text)
    lines = tuple(text.split("\n")[:height])
    return PlotText(lines, max((len(label) for label in labels), default=0))


@functools.cache
def _plotext() -> tuple[ModuleType, Any]:
    """plotext, imported on the first plot: about 0.1 s the first frame does not wait for."""
    import plotext

    plotext.terminal.limit(False, False)  # draw at the widget's size, not the terminal's
    return plotext, plotext.pixel()


def sparkline(values: np.ndarray, width: int) -> str:
    """The last ``width`` values as block characters, one per cell, scaled to their range."""
    if width <= 0:
        return ""
    tail = values[-width:]
    tail = tail[np.isfinite(tail)]
    if len(tail) == 0:
        return ""
    lo, hi = float(tail.min()), float(tail.max())
    if hi - lo <= 0:
        return _SPARK[0] * len(tail)
    levels = ((tail - lo) / (hi - lo) * (len(_SPARK) - 1)).round().astype(np.int64)
    return "".join(_SPARK[i] for i in levels)


def volume_bars(values: np.ndarray, width: int) -> str:
    """The last ``width`` volumes as bars from zero, one per cell: a bar with no trade is a
    blank, any volume at least the lowest block."""
    if width <= 0:
        return ""
    tail = np.nan_to_num(values[-width:], nan=0.0)
    if len(tail) == 0:
        return ""
    top = float(tail.max())
    if top <= 0:
        return " " * len(tail)
    levels = np.ceil(tail / top * len(_SPARK)).astype(np.int64)
    return "".join(" " if i <= 0 else _SPARK[i - 1] for i in levels)
