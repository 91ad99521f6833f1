"""``--replay FILE...``: recorded trades (or bars) delivered like a live feed.

Every file is read and checked when the :class:`ReplaySource` is made
(:mod:`~pairs_tui.feed.replay.load`), so a bad file stops the command line before any screen
appears. The trades of all files come merged in trade-time order
(:class:`~pairs_tui.feed.replay.stream.MergedTrades`: a file of stream frames a block at a time
from a spill on disk, other files from one table in memory); :meth:`ReplaySource.run` turns them
into :class:`~pairs_tui.records.Trade` objects a few thousand at a time; at full speed, to a sink
that takes batches (:class:`~pairs_tui.feed.source.TradeFrameSink`: the desk and its
pipelines), it hands over their columns 65,536 trades at a time instead, and the bars are made
in bulk.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time as _time
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import polars as pl

from pairs_tui.feed.replay.bars import pair_bars
from pairs_tui.feed.replay.files import ReplayError
from pairs_tui.feed.replay.load import load, pair_of
from pairs_tui.feed.replay.stream import BATCH
from pairs_tui.feed.source import TradeFrameSink, TradeSink
from pairs_tui.feed.status import FeedState, FeedStatus
from pairs_tui.records import Trade

log = logging.getLogger("pairs_tui.feed.replay")

CHUNK = 4096
"""Trades turned into objects and delivered between two yields to the event loop."""
MIN_SLEEP_S = 0.01
"""At speed > 0 the replay sleeps at least this long, then delivers what fell due meanwhile."""

_T = TypeVar("_T")


class ReplaySource:
    """A :class:`~pairs_tui.feed.source.TradeSource` that replays files.

    Every file is read and checked here, before anything runs.

    Args:
        paths: Files in any supported format (all trades, or all bars), or Parquet folders.
        symbols: The pair, target leg first.
        speed: 0 replays as fast as possible; X > 0 replays in trade time sped up X times.
        clock: Monotonic seconds; tests inject a fake one.
        sleep: ``asyncio.sleep`` or a fake that moves the fake clock.

    Raises:
        ReplayError: A file cannot be used, the pair is not in the files, or ``speed`` is
            not a number >= 0. The message is one line naming the file (and line).
    """

    def __init__(
        self,
        paths: Sequence[Path | str],
        symbols: tuple[str, str],
        *,
        speed: float = 0.0,
        clock: Callable[[], float] = _time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not (isinstance(speed, int | float) and math.isfinite(speed) and speed >= 0):
            raise ReplayError(f"--speed must be a number >= 0, not {speed!r}")
        self.symbols = pair_of(symbols)
        """The pair, upper case, target leg first."""
        self.speed = float(speed)
        """Trade-time speed-up; 0 means as fast as possible."""
        self._clock = clock
        self._sleep = sleep
        self._data = load(paths, self.symbols)
        self._state: FeedState = "replay"
        self._delivered = 0
        self._anchor: tuple[float, int] | None = None
        """(clock, trade time) when paced delivery started."""
        self._next_ms: int | None = None
        """Due time of the next undelivered trade or bar; the clock stays below it."""
        self._end_ms: int | None = None
        """The clock's value once the replay is over."""
        self._detail = self._describe()
        for note in self._data.notes:
            log.warning("replay: %s", note)
        log.info("replay: %s", self._detail)

    @property
    def timeframe_ms(self) -> int | None:
        """The bars' timeframe when the files hold bars; None for trades."""
        return self._data.timeframe_ms

    @property
    def size(self) -> int:
        """How many trades (or bars) a run delivers."""
        table = self._data.trades if self._data.trades is not None else self._data.bars
        assert table is not None
        return table.height

    @property
    def status(self) -> FeedStatus:
        """``replay`` while running (and before), ``done`` at the end; counts since the start."""
        return FeedStatus(
            state=self._state,
            messages=self._delivered,
            malformed=self._data.malformed,
            gaps=self._data.gaps,
            detail=self._detail,
        )

    def exchange_now_ms(self) -> float | None:
        """The virtual trade-time clock at speed > 0; None at full speed (trades drive time).

        The clock runs at ``speed`` times wall time from the first trade, but never reaches
        the next trade not yet delivered, so a bar is never closed under a trade still queued
        here. After the end it stays at the last trade's time.
        """
        if self.speed == 0 or self._anchor is None:
            return None
        if self._end_ms is not None:
            return float(self._end_ms)
        now = self._virtual_ms()
        if self._next_ms is not None:
            now = min(now, self._next_ms - 1.0)
        return now

    async def run(self, sink: TradeSink) -> None:
        """Deliver every trade (or bar) to ``sink``, then set the state to ``done``.

        A second run replays from the start again.
        """
        self._state = "replay"
        self._delivered = 0
        self._anchor = None
        self._end_ms = None
        try:
            if self._data.bars is not None:
                await self._run_bars(sink)
            else:
                await self._run_trades(sink)
        except BaseException:
            self._state = "stopped"
            raise
        self._state = "done"
        self._detail = f"replayed {self._delivered:,} " + (
            "trades" if self._data.trades is not None else "bars"
        )

    async def _run_trades(self, sink: TradeSink) -> None:
        trades = self._data.trades
        assert trades is not None
        if not self.speed and isinstance(sink, TradeFrameSink):
            # Full speed to a sink that takes batches: no Trade objects, the bars in bulk.
            for batch in _sliced(trades.batches(), BATCH):
                sink.on_trade_frame(self.symbols, batch)
                self._delivered += batch.height
                await self._sleep(0)
            self._finish(trades.last_time)
            return
        on_trade = sink.on_trade
        legs = self.symbols
        parts = _sliced(trades.batches(), CHUNK)
        after = next(parts, None)
        while after is not None:
            part, after = after, next(parts, None)
            times = part["time"].to_list()
            made = list(
                map(
                    Trade,
                    map(legs.__getitem__, part["leg"].to_list()),
                    times,
                    part["price"].to_list(),
                    part["qty"].to_list(),
                    part["buyer_maker"].to_list(),
                    part["id"].to_list(),
                )
            )
            if self.speed:
                await self._paced(
                    times, made, on_trade, None if after is None else after["time"][0]
                )
            else:
                for trade in made:
                    on_trade(trade)
                self._delivered += len(made)
                await self._sleep(0)
        self._finish(trades.last_time)

    async def _run_bars(self, sink: TradeSink) -> None:
        grid = self._data.bars
        tf = self._data.timeframe_ms
        assert grid is not None and tf is not None
        for start in range(0, grid.height, CHUNK):
            part = grid.slice(start, CHUNK)
            bars = list(pair_bars(part))
            ends = [bar.ts + tf for bar in bars]
            if self.speed:
                # A bar is final, and delivered, when the clock passes its end.
                after = start + CHUNK
                await self._paced(
                    ends,
                    bars,
                    lambda bar: sink.on_bar(bar, tf),
                    grid["ts"][after] + tf if after < grid.height else None,
                )
                continue
            for bar in bars:
                sink.on_bar(bar, tf)
            self._delivered += len(bars)
            await self._sleep(0)
        self._finish(int(grid["ts"].last()) + tf if grid.height else None)  # type: ignore[arg-type]

    async def _paced(
        self, due: list[int], items: list[_T], deliver: Callable[[_T], None], due_after: int | None
    ) -> None:
        """Deliver ``items`` when the virtual clock reaches their ``due`` times, in batches.

        ``due_after`` is the due time of the item after these (None at the end), which the
        clock must stay below once these are delivered.
        """
        if self._anchor is None:
            self._anchor = (self._clock(), due[0])
        i, n = 0, len(items)
        self._next_ms = due[0]
        while i < n:
            now = self._virtual_ms()
            if due[i] > now:
                # Sleep until the next item is due, but never less than a batch's worth, so a
                # dense stretch is delivered in batches instead of one sleep per trade.
                await self._sleep(max((due[i] - now) / self.speed / 1000.0, MIN_SLEEP_S))
                continue
            j = bisect_right(due, now, i)
            for item in items[i:j]:
                deliver(item)
            self._delivered += j - i
            i = j
            self._next_ms = due[i] if i < n else due_after
            await self._sleep(0)

    def _virtual_ms(self) -> float:
        assert self._anchor is not None
        wall, first = self._anchor
        return first + (self._clock() - wall) * self.speed * 1000.0

    def _finish(self, last: object) -> None:
        self._next_ms = None
        if self.speed and isinstance(last, int):
            if self._anchor is None:
                self._anchor = (self._clock(), last)
            self._end_ms = last

    def _describe(self) -> str:
        data = self._data
        if data.trades is not None:
            what = f"{data.trades.height:,} trades"
        else:
            assert data.bars is not None and data.timeframe_ms is not None
            what = f"{data.bars.height:,} bars of {data.timeframe_ms:,} ms"
        pace = "as fast as possible" if self.speed == 0 else f"at {self.speed:g}x"
        return f"replaying {what} of {'/'.join(self.symbols)} {pace}"


def _sliced(batches: Iterator[pl.DataFrame], size: int) -> Iterator[pl.DataFrame]:
    """The rows of ``batches`` again, in pieces of ``size`` (the last of all may be shorter)."""
    held: list[pl.DataFrame] = []
    rows = 0
    for batch in batches:
        held.append(batch)
        rows += batch.height
        if rows < size:
            continue
        joined = pl.concat(held) if len(held) > 1 else held[0]
        whole = rows - rows % size
        for start in range(0, whole, size):
            yield joined.slice(start, size)
        held = [joined.slice(whole)] if rows > whole else []
        rows -= whole
    if rows:
        yield pl.concat(held) if len(held) > 1 else held[0]
