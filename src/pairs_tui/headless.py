"""Headless mode: one JSON object a line on stdout for every final bar, logs on stderr.

A line is built from its :class:`~pairs_tui.snapshot.ClosedBar` alone, which says which pair,
prices, hedge and window it was computed with. With several pairs (``--watch``) the lines of
every pair come out in bar order, then pair order: :class:`WatchWriter` holds each pair's lines
until every pair has closed that bar.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import msgspec

from pairs_tui.config import NotWritten
from pairs_tui.snapshot import AlertEvent, ClosedBar

DEFAULT_QTY_DECIMALS = 8
"""Decimals of a volume when the symbol's step size is unknown (a replay without exchange
info): enough for any Binance step, and no float noise (``0.5780000000000002``)."""
HELD_LINES = 3_600
"""Lines a pair may be ahead of the slowest pair before the slowest stops holding it back."""


class TextOut(Protocol):
    """Where lines go: stdout, or anything with its ``write`` and ``flush``."""

    def write(self, text: str, /) -> object: ...
    def flush(self) -> object: ...


class FeedCounts(msgspec.Struct, frozen=True):
    """The ``feed`` object of a headless line: counts since the start."""

    state: str
    reconnects: int
    gaps: int
    late: int
    malformed: int


class BarLine(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One headless line, its fields in the documented order. Unknown values are null.

    The carry fields are there only when carry is on.
    """

    ts: int
    timeframe: str
    symbol_a: str
    symbol_b: str
    price: str
    hedge: str
    window: int
    close_a: float | None
    close_b: float | None
    volume_a: float
    volume_b: float
    trades_a: int
    trades_b: int
    beta: float | None
    alpha: float | None
    r2: float | None
    spread: float | None
    zscore: float | None
    corr: float | None
    half_life: float | None
    kalman_beta: float | None
    funding_a: float | msgspec.UnsetType | None = msgspec.UNSET
    funding_b: float | msgspec.UnsetType | None = msgspec.UNSET
    next_funding_ts: int | msgspec.UnsetType | None = msgspec.UNSET
    carry_bp_day: float | msgspec.UnsetType | None = msgspec.UNSET
    alerts: list[AlertEvent]
    feed: FeedCounts


def bar_line(closed: ClosedBar, qty_decimals: Mapping[str, int] | None = None) -> BarLine:
    """The headless record of one final bar.

    Args:
        closed: The bar and everything computed on it.
        qty_decimals: Decimals of each symbol's quantity step (exchange info), for volumes.
    """
    bar, stats, feed, carry = closed.bar, closed.stats, closed.feed, closed.carry
    a, b = bar.a, bar.b
    decimals = qty_decimals or {}
    sym_a, sym_b = closed.symbols
    return BarLine(
        ts=bar.ts,
        timeframe=closed.timeframe,
        symbol_a=sym_a,
        symbol_b=sym_b,
        price=closed.price,
        hedge=closed.hedge,
        window=closed.window,
        close_a=None if a is None else a.close,
        close_b=None if b is None else b.close,
        volume_a=0.0 if a is None else round(a.volume, decimals.get(sym_a, DEFAULT_QTY_DECIMALS)),
        volume_b=0.0 if b is None else round(b.volume, decimals.get(sym_b, DEFAULT_QTY_DECIMALS)),
        trades_a=0 if a is None else a.trades,
        trades_b=0 if b is None else b.trades,
        beta=stats.beta,
        alpha=stats.alpha,
        r2=stats.r2,
        spread=stats.spread,
        zscore=stats.zscore,
        corr=stats.corr,
        half_life=stats.half_life,
        kalman_beta=stats.kalman_beta,
        funding_a=msgspec.UNSET if carry is None else carry.funding_a,
        funding_b=msgspec.UNSET if carry is None else carry.funding_b,
        next_funding_ts=msgspec.UNSET if carry is None else carry.next_funding_ts,
        carry_bp_day=msgspec.UNSET if carry is None else carry.carry_bp_day,
        alerts=list(closed.alerts),
        feed=FeedCounts(feed.state, feed.reconnects, feed.gaps, feed.late, feed.malformed),
    )


class HeadlessWriter:
    """Writes one line per final bar and flushes it at once.

    Args:
        out: Where lines go (stdout).
        qty_decimals: Decimals of each symbol's quantity step, for volumes.
    """

    def __init__(self, out: TextOut, qty_decimals: Mapping[str, int] | None = None) -> None:
        self._out = out
        self._decimals = dict(qty_decimals or {})
        self._encode = msgspec.json.Encoder().encode
        self.lines = 0
        """Lines written so far."""

    def __call__(self, closed: ClosedBar) -> None:
        self.write([closed])

    def write(self, bars: Sequence[ClosedBar]) -> None:
        """Write the lines of ``bars`` in the order given, then flush."""
        if not bars:
            return
        encode = self._encode
        text = "".join(encode(bar_line(c, self._decimals)).decode() + "\n" for c in bars)
        try:
            self._out.write(text)
            self._out.flush()
        except BrokenPipeError:
            raise  # the reader went away (``| head``): it has what it wanted
        except OSError as exc:
            raise NotWritten(
                f"stdout: cannot write the JSON lines ({exc.strerror or exc}); "
                f"{self.lines:,} lines written before"
            ) from exc
        self.lines += len(bars)


class WatchWriter:
    """Lines of several pairs in bar order, then pair order.

    Each pair's bars close on their own (a pair whose legs both traded past a bar closes it
    before the clock does for the others), so a pair's lines wait until every pair has closed
    that bar, or until the pair is :data:`HELD_LINES` lines ahead (a pair that never trades
    does not hold the others forever).

    Args:
        writer: Where the lines go, in order.
        pairs: How many pairs; each gets its listener from :meth:`listener`.
    """

    def __init__(self, writer: HeadlessWriter, pairs: int) -> None:
        self._writer = writer
        self._latest: list[int | None] = [None] * pairs
        """Each pair's latest line time (bar start), None before its first."""
        self._held: list[tuple[int, int, int, ClosedBar]] = []
        """A heap of (ts, pair, order, bar) not yet written."""
        self._order = 0

    def listener(self, pair: int) -> Callable[[ClosedBar], None]:
        """What pair number ``pair`` (0-based, in watchlist order) hands its final bars to."""

        def take(closed: ClosedBar) -> None:
            self._order += 1
            heapq.heappush(self._held, (closed.bar.ts, pair, self._order, closed))
            self._latest[pair] = closed.bar.ts
            self._release()

        return take

    def flush(self) -> None:
        """Write every line held (the end of a replay, or stopping)."""
        held, self._held = sorted(self._held), []
        self._writer.write([item[3] for item in held])

    def _release(self) -> None:
        if any(ts is None for ts in self._latest) and len(self._held) < HELD_LINES:
            return
        known = [ts for ts in self._latest if ts is not None]
        ready_until = min(known)
        out: list[ClosedBar] = []
        while self._held and (self._held[0][0] <= ready_until or len(self._held) > HELD_LINES):
            out.append(heapq.heappop(self._held)[3])
        self._writer.write(out)
