"""Klines into bars, and the pages a range of bars costs.

A kline row is ``[openTime, o, h, l, c, volume, closeTime, quoteVolume, trades, …]`` with prices
and volumes printed as decimal strings; the client parses each to the nearest float64, as a
trade's price is parsed, so a kline's OHLC equals the bar the app folds from the same trades.
Only closed klines become bars. An interval without a kline, after the first one, repeats the
previous close with volume 0 and no trades, as :class:`~pairs_tui.bars.BarBuilder` does; before
the first kline there is no bar.

Pages: Binance weighs ``/fapi/v1/klines`` and ``/fapi/v1/continuousKlines`` by ``limit``: 1 below
100 rows, 2 below 500, 5 up to 1,000, 10 above. 499 rows for 2 is the most rows per unit of
weight (249.5; 1,000 rows give 200, 1,500 give 150, 99 give 99), so a range is cut into pages of
499 and a last page of what remains, which costs 1 when under 100 rows. This reaches the least
weight for every length (checked against an exhaustive search up to 20,000 rows), at the price
of at most two more requests than the fewest that reach it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Final, Protocol

import polars as pl

from pairs_tui.feed import weight
from pairs_tui.history.store import BARS_SCHEMA, empty_bars, grid_ceil

PAGE_LIMIT: Final = 499
"""Rows per full page: the most rows per unit of request weight."""

MAX_LIMIT: Final = 1500
"""The most rows Binance returns per kline request."""


class KlineRow(Protocol):
    """One kline as the REST client decodes it (:class:`pairs_tui.feed.schemas.rest.Kline`)."""

    @property
    def open_time(self) -> int:
        """Start of the interval, ms UTC."""

    @property
    def open(self) -> float:
        """First trade's price."""

    @property
    def high(self) -> float:
        """Highest price."""

    @property
    def low(self) -> float:
        """Lowest price."""

    @property
    def close(self) -> float:
        """Last trade's price."""

    @property
    def volume(self) -> float:
        """Base-asset volume."""

    @property
    def trades(self) -> int:
        """Trades in the interval."""


def kline_weight(limit: int) -> int:
    """The request weight of a kline request for ``limit`` rows (Binance's documented bands).

    Raises:
        ValueError: A limit outside 1 to 1,500.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1 to {MAX_LIMIT}, not {limit}")
    return weight.kline_weight(limit)


@dataclass(frozen=True)
class Page:
    """One kline request: ``limit`` bars from ``start_ms``."""

    start_ms: int
    """Open time of the first bar asked for, ms UTC."""
    limit: int
    """Bars asked for."""
    timeframe_ms: int
    """Bar length, ms."""

    @property
    def end_ms(self) -> int:
        """Start of the first bar after this page."""
        return self.start_ms + self.limit * self.timeframe_ms

    @property
    def last_open_ms(self) -> int:
        """Open time of the last bar asked for: the request's ``endTime``."""
        return self.end_ms - self.timeframe_ms

    @property
    def weight(self) -> int:
        """What the request costs."""
        return kline_weight(self.limit)


def pages(start_ms: int, end_ms: int, timeframe_ms: int, *, limit: int = PAGE_LIMIT) -> list[Page]:
    """The requests that fetch every bar starting in ``[start_ms, end_ms)``.

    Args:
        start_ms: First bar start wanted (rounded up to the grid).
        end_ms: Bar starts before this.
        timeframe_ms: Bar length.
        limit: Rows per full page.

    Returns:
        Pages in time order: full ones, then the remainder.
    """
    kline_weight(limit)
    at = grid_ceil(start_ms, timeframe_ms)
    end = grid_ceil(end_ms, timeframe_ms)
    out: list[Page] = []
    while at < end:
        rows = min(limit, (end - at) // timeframe_ms)
        out.append(Page(at, rows, timeframe_ms))
        at += rows * timeframe_ms
    return out


class KlineError(ValueError):
    """A kline the exchange sent does not fit the request (off the grid, out of order)."""


def klines_to_bars(
    rows: Iterable[KlineRow],
    start_ms: int,
    end_ms: int,
    timeframe_ms: int,
    *,
    previous_close: float | None = None,
) -> pl.DataFrame:
    """The bars of ``[start_ms, end_ms)`` from the klines fetched for it.

    Every bar in the range is closed (the caller stops the range at the exchange clock). Rows
    outside the range are dropped (a last row reaching now is one of them). An interval inside
    the range without a kline repeats the previous close with volume 0: the previous row's, or
    ``previous_close`` (the stored bar just before the range) for the range's first bars. Before
    the first close known there is no bar.

    Args:
        rows: Kline rows, in time order (several pages, concatenated).
        start_ms: First bar start of the range, on the grid.
        end_ms: End of the range, on the grid: every bar before it is closed.
        timeframe_ms: Bar length.
        previous_close: Close of the bar just before ``start_ms``, when known.

    Returns:
        One row per bar (:data:`~pairs_tui.history.store.BARS_SCHEMA`), oldest first.

    Raises:
        KlineError: A row off the timeframe's grid, or rows out of order or repeated.
    """
    kept = [r for r in rows if start_ms <= r.open_time < end_ms]
    for before, after in pairwise(kept):
        if after.open_time <= before.open_time:
            raise KlineError(f"klines out of order at open time {after.open_time}")
    off_grid = next((r.open_time for r in kept if r.open_time % timeframe_ms), None)
    if off_grid is not None:
        raise KlineError(f"kline open time {off_grid} is not on the {timeframe_ms} ms grid")
    if not kept and previous_close is None:
        return empty_bars()
    klines = pl.DataFrame(
        {
            "ts": [r.open_time for r in kept],
            "open": [r.open for r in kept],
            "high": [r.high for r in kept],
            "low": [r.low for r in kept],
            "close": [r.close for r in kept],
            "volume": [r.volume for r in kept],
            "trades": [r.trades for r in kept],
        },
        schema=BARS_SCHEMA,
    )
    first = start_ms if previous_close is not None else kept[0].open_time
    grid = pl.DataFrame({"ts": pl.int_range(first, end_ms, timeframe_ms, eager=True)})
    last_close = pl.col("close").forward_fill()
    if previous_close is not None:
        last_close = last_close.fill_null(previous_close)
    return (
        grid.cast({"ts": pl.Int64})
        .join(klines, on="ts", how="left", maintain_order="left")
        .with_columns(last_close.alias("filled"))
        .select(
            "ts",
            *(
                pl.col(name).fill_null(pl.col("filled"))
                for name in ("open", "high", "low", "close")
            ),
            pl.col("volume").fill_null(0.0),
            pl.col("trades").fill_null(0),
        )
    )
