"""How numbers read on the screen: prices, changes, ratios, p-values, durations, times.

Pure functions, nothing from Textual, so they are tested and reused (help, exports) alike.
Unknown values print as an en dash, never as ``nan`` or ``None``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

DASH = "\u2013"
"""What an unknown value looks like: an en dash."""
MINUS = "\u2212"
"""A real minus sign, as wide as the plus."""

TIMEFRAME_SECONDS = {"1s": 1, "1m": 60, "5m": 300}
"""Length of a bar in seconds, per timeframe."""


def known(value: float | None) -> bool:
    """True for a finite number."""
    return value is not None and math.isfinite(value)


def price(value: float | None) -> str:
    """A price with thousands separators and as many decimals as its size needs."""
    if not known(value):
        return DASH
    assert value is not None
    size = abs(value)
    decimals = 2 if size >= 100 else 4 if size >= 1 else 6
    return f"{value:,.{decimals}f}"


def change(value: float | None, first: float | None) -> str:
    """Signed percentage change from ``first`` to ``value``."""
    if not known(value) or not known(first) or not first:
        return DASH
    assert value is not None and first is not None
    return f"{(value / first - 1.0) * 100:+.2f}%"


def number(value: float | None, decimals: int = 4, *, signed: bool = False) -> str:
    """A fixed-point number, with a real minus sign."""
    if not known(value):
        return DASH
    text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
    return text.replace("-", MINUS)


def compact(value: float) -> str:
    """A short axis label: at most about five significant characters."""
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1000:
        text = f"{value:,.0f}"
    elif size >= 10:
        text = f"{value:.1f}".rstrip("0").rstrip(".")
    elif size >= 0.01:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.1e}"
    return text.replace("-", MINUS)


def p_value(value: float | None) -> str:
    """A p-value: three decimals, or ``<0.001``."""
    if not known(value):
        return DASH
    assert value is not None
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def count(value: float | None) -> str:
    """A count or rate with thousands separators."""
    if not known(value):
        return DASH
    assert value is not None
    return f"{value:,.0f}"


def duration(seconds: float | None) -> str:
    """A duration in the largest unit that keeps it readable: ``41 s``, ``3.5 min``, ``2.1 h``."""
    if not known(seconds):
        return DASH
    assert seconds is not None
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def clock(ms: int | float, *, seconds: bool = True) -> str:
    """``HH:MM:SS`` (or ``HH:MM``) in UTC for a time in ms since the epoch."""
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%H:%M:%S" if seconds else "%H:%M")


def latency(ms: float | None) -> str:
    """Latency in ms, or in s when it is large."""
    if not known(ms):
        return DASH
    assert ms is not None
    return f"{ms:,.0f} ms" if ms < 10_000 else f"{ms / 1000:,.0f} s"


def bars_needed(window: int, have: int) -> int:
    """Bars still missing before a ``window``-bar statistic exists."""
    return max(0, window - have)
