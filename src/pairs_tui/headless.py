"""Headless mode: one JSON object a line on stdout for every final bar, logs on stderr."""

from __future__ import annotations

from typing import Any, TextIO

import msgspec

from pairs_tui.snapshot import ClosedBar


class FeedCounts(msgspec.Struct, frozen=True):
    """The ``feed`` object of a headless line: counts since the start."""

    state: str
    reconnects: int
    gaps: int
    late: int
    malformed: int


class BarLine(msgspec.Struct, frozen=True):
    """One headless line, its fields in the documented order. Unknown values are null."""

    ts: int
    timeframe: str
    symbol_a: str
    symbol_b: str
    price: str
    hedge: str
    window: int
    close_a: float | None
    close_b: float | None
    volume_a: float | None
    volume_b: float | None
    trades_a: int | None
    trades_b: int | None
    beta: float | None
    alpha: float | None
    r2: float | None
    spread: float | None
    zscore: float | None
    corr: float | None
    half_life: float | None
    kalman_beta: float | None
    alerts: list[Any]
    feed: FeedCounts


def bar_line(
    closed: ClosedBar,
    symbols: tuple[str, str],
    price: str,
    hedge: str,
    window: int,
) -> BarLine:
    """Build the headless record of one final bar."""
    bar, stats, feed = closed.bar, closed.stats, closed.feed
    a, b = bar.a, bar.b
    return BarLine(
        ts=bar.ts,
        timeframe=closed.timeframe,
        symbol_a=symbols[0],
        symbol_b=symbols[1],
        price=price,
        hedge=hedge,
        window=window,
        close_a=None if a is None else a.close,
        close_b=None if b is None else b.close,
        volume_a=None if a is None else a.volume,
        volume_b=None if b is None else b.volume,
        trades_a=None if a is None else a.trades,
        trades_b=None if b is None else b.trades,
        beta=stats.beta,
        alpha=stats.alpha,
        r2=stats.r2,
        spread=stats.spread,
        zscore=stats.zscore,
        corr=stats.corr,
        half_life=stats.half_life,
        kalman_beta=stats.kalman_beta,
        alerts=list(closed.alerts),
        feed=FeedCounts(feed.state, feed.reconnects, feed.gaps, feed.late, feed.malformed),
    )


class HeadlessWriter:
    """Writes one line per final bar and flushes it at once.

    Args:
        out: Where lines go (stdout).
        symbols, price, hedge: Constant fields of every line.
        window: A callable giving the window in force (it can change while running).
    """

    def __init__(
        self,
        out: TextIO,
        symbols: tuple[str, str],
        price: str,
        hedge: str,
        window: Any,
    ) -> None:
        self._out = out
        self._symbols = symbols
        self._price = price
        self._hedge = hedge
        self._window = window
        self._encode = msgspec.json.Encoder().encode
        self.lines = 0
        """Lines written so far."""

    def __call__(self, closed: ClosedBar) -> None:
        line = bar_line(closed, self._symbols, self._price, self._hedge, self._window())
        self._out.write(self._encode(line).decode() + "\n")
        self._out.flush()
        self.lines += 1
