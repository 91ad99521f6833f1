"""The warm start: a pipeline begins with the bars its window needs, stitched to the live stream.

The stitch ``H`` is the start of the shown timeframe's bucket a second before the exchange's
clock when the warm start begins (see :func:`stitch_time`). Every bar strictly before ``H``
comes from history (klines, through the local store); every aggregate trade at or after ``H``
comes from the feed — the ones published before the live stream delivered them from
``GET /fapi/v1/aggTrades`` (the feed's catch-up), the rest live. No trade is counted twice and
none is missing, because history ends where the trades begin and the feed delivers each
aggregate-trade id once.

Each timeframe's bars come from klines of that timeframe, up to the bucket that holds ``H``.
A longer timeframe's bucket may still be open at ``H``; it is completed by folding the next
shorter timeframe's bars from its start to ``H`` (1m from 1s klines, 5m from 1m klines) and then
the trades. The pipeline keeps every bar waiting (a hold) until history is in, so the first bar
it publishes is the one starting at ``H``, with the analytics a run that had watched the whole
window would show.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import polars as pl

from pairs_tui.records import TICK, TIMEFRAMES, BarTimeframe, PairBar, Timeframe
from pairs_tui.snapshot import HistoryProgress

log = logging.getLogger("pairs_tui.warm")


class BarHistory(Protocol):
    """Where history bars come from (:class:`pairs_tui.history.History`)."""

    async def bars(
        self,
        symbol: str,
        timeframe: BarTimeframe,
        start_ms: int,
        end_ms: int,
    ) -> pl.DataFrame:
        """One symbol's bars in ``[start_ms, end_ms)``, from the store or fetched."""


class StitchFeed(Protocol):
    """What the warm start needs of the live feed."""

    async def catch_up_from(self, symbol: str, time_ms: int) -> None:
        """Deliver every aggregate trade of ``symbol`` from ``time_ms`` on, exactly once."""


class WarmPipeline(Protocol):
    """What the warm start needs of a pipeline."""

    @property
    def symbols(self) -> tuple[str, str]: ...
    @property
    def window(self) -> int: ...
    @property
    def timeframe(self) -> Timeframe: ...
    def hold_for_history(self) -> None: ...
    def seed(self, stitch_ms: int, bars: dict[BarTimeframe, list[PairBar]]) -> None: ...
    def release_history(self) -> None: ...
    def set_history(self, progress: HistoryProgress) -> None: ...
    def held_since(self, timeframe: BarTimeframe) -> int | None: ...
    def held_bars(self, timeframe: BarTimeframe) -> int: ...
    def prepend(self, timeframe: BarTimeframe, older: Sequence[PairBar]) -> None: ...


PairBars = Callable[[pl.DataFrame, pl.DataFrame, int, int, int], list[PairBar]]
"""Both legs' bars on one grid (:func:`pairs_tui.history.pair_bars`)."""


def stitch_time(exchange_now_ms: float, timeframe: Timeframe = "1s") -> int:
    """The stitch: the start of the shown timeframe's bucket a second before the exchange clock.

    A second of margin keeps every trade at or after it out of the klines' closed buckets even
    when the klines are read a moment after the exchange closed that second. Starting at the
    shown timeframe's bucket makes its first bar entirely of trades: a kline's trade count is
    the fills it holds, a bar's the aggregate trades, so a bar part kline and part trades would
    count its trades in two units (its prices and volume would still be exact).
    """
    before = int(exchange_now_ms) - 1000
    ms = TIMEFRAMES.get(timeframe, 1000) if timeframe != TICK else 1000
    return before - before % ms


MIN_SHOWN_BARS = 60
"""The plots show at least this many bars, so a small window still shows some history."""


def shown_bars(window: int) -> int:
    """How many of the latest bars the plots show: the window, or :data:`MIN_SHOWN_BARS`."""
    return max(window, MIN_SHOWN_BARS)


def plan(stitch_ms: int, window: int) -> dict[BarTimeframe, tuple[int, int]]:
    """Per timeframe, the range ``[start, end)`` of bars history must give.

    Each timeframe needs a z-score on every bar the plots show, so the first screen is full:
    ``window + shown_bars(window)`` bars before its open bucket (the z-score of a bar uses the
    fit through the bar before). The next shorter timeframe must also cover the open bucket of
    the longer one, which it completes.
    """
    names = list(TIMEFRAMES)
    out: dict[BarTimeframe, tuple[int, int]] = {}
    for i, name in enumerate(names):
        ms = TIMEFRAMES[name]
        end = stitch_ms - stitch_ms % ms
        start = end - (window + shown_bars(window)) * ms
        if i + 1 < len(names):
            longer = TIMEFRAMES[names[i + 1]]
            start = min(start, stitch_ms - stitch_ms % longer)
        out[name] = (start, end)
    return out


class WarmStart:
    """Starts pipelines from history.

    Args:
        history: The bar store and its fetcher.
        feed: The live feed (its catch-up by time).
        pair_bars: Aligns two legs' bars on one grid.
        clock: Reads the exchange clock, ms (``GET /fapi/v1/time``).
    """

    def __init__(
        self,
        history: BarHistory,
        feed: StitchFeed,
        pair_bars: PairBars,
        clock: Callable[[], Awaitable[float]],
    ) -> None:
        self.history = history
        self.feed = feed
        self._pair_bars = pair_bars
        self._clock = clock

    async def start(self, pipeline: WarmPipeline) -> None:
        """Hold the pipeline's bars, load history, stitch, release. Never raises: a warm start
        that fails says why in the pipeline's snapshot and the pipeline goes on live."""
        pipeline.hold_for_history()
        symbols = pipeline.symbols
        total = len(TIMEFRAMES) * len(symbols)
        done = 0

        def progress() -> None:
            nonlocal done
            done += 1
            pipeline.set_history(HistoryProgress("loading", done, total))

        pipeline.set_history(HistoryProgress("loading", 0, total))
        catch_up: list[asyncio.Task[None]] = []
        try:
            stitch = stitch_time(await self._clock(), pipeline.timeframe)
            ranges = plan(stitch, pipeline.window)
            catch_up = [
                asyncio.create_task(self.feed.catch_up_from(symbol, stitch))
                for symbol in dict.fromkeys(symbols)
            ]
            bars = await self._load(symbols, ranges, progress)
            pipeline.seed(stitch, bars)
            await asyncio.gather(*catch_up)
        except asyncio.CancelledError:
            for task in catch_up:
                task.cancel()
            raise
        except Exception as exc:
            for task in catch_up:
                task.cancel()
            log.warning("%s: history unavailable (%s): starting without it", symbols, exc)
            pipeline.set_history(HistoryProgress("failed", done, total, str(exc)))
        else:
            loaded = sum(len(b) for b in bars.values())
            pipeline.set_history(HistoryProgress("done", total, total, f"{loaded} bars"))
        finally:
            pipeline.release_history()

    async def widen(self, pipeline: WarmPipeline) -> None:
        """After the window grew: fetch the older bars each timeframe now lacks. Never raises."""
        window = pipeline.window
        try:
            for name, ms in TIMEFRAMES.items():
                first = pipeline.held_since(name)
                missing = window + 1 - pipeline.held_bars(name)
                if first is None or missing <= 0:
                    continue
                start = first - missing * ms
                a, b = await asyncio.gather(
                    *(self.history.bars(symbol, name, start, first) for symbol in pipeline.symbols)
                )
                pipeline.prepend(name, self._pair_bars(a, b, start, first, ms))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: older history unavailable (%s)", pipeline.symbols, exc)
            pipeline.set_history(HistoryProgress("failed", 0, 0, str(exc)))

    async def _load(
        self,
        symbols: tuple[str, str],
        ranges: dict[BarTimeframe, tuple[int, int]],
        progress: Callable[[], None],
    ) -> dict[BarTimeframe, list[PairBar]]:
        async def load(symbol: str, name: BarTimeframe, start: int, end: int) -> pl.DataFrame:
            frame = await self.history.bars(symbol, name, start, end)
            progress()
            return frame

        jobs = [
            load(symbol, name, start, end)
            for name, (start, end) in ranges.items()
            for symbol in symbols
        ]
        frames: Sequence[pl.DataFrame] = await asyncio.gather(*jobs)
        out: dict[BarTimeframe, list[PairBar]] = {}
        for i, (name, (start, end)) in enumerate(ranges.items()):
            a, b = frames[2 * i], frames[2 * i + 1]
            out[name] = self._pair_bars(a, b, start, end, TIMEFRAMES[name])
        return out
