"""What a live run gives each pair when it starts: history stitched to the stream, and funding.

A pair on a live feed (Binance, or the demo's exchange) starts with the bars its window needs
(:mod:`pairs_tui.warm`, through the local store of :mod:`pairs_tui.history`) and, with carry on,
each leg's funding interval (``GET /fapi/v1/fundingInfo``, asked once per run) and the funding
in force (``GET /fapi/v1/premiumIndex``) until the mark-price stream speaks. Neither waits for
the other, and neither holds up the live stream.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import shutil
import tempfile
from pathlib import Path

from pairs_tui.config import Options
from pairs_tui.feed.errors import RestError
from pairs_tui.feed.source import LiveSource
from pairs_tui.history import History, HistoryStore, history_root, pair_bars
from pairs_tui.pipeline import Pipeline
from pairs_tui.warm import WarmStart

log = logging.getLogger("pairs_tui.live")


def _demo_root() -> Path:
    """A store for this demo run only, removed when the process ends."""
    root = Path(tempfile.mkdtemp(prefix="pairs-tui-demo-history-"))
    atexit.register(shutil.rmtree, root, True)
    return root


class LiveStart:
    """Starts pairs on a live feed: warm start and funding.

    Args:
        options: What the run does (history on or off, carry on or off).
        feed: The live feed; its REST client is shared (one request-weight budget).
    """

    def __init__(self, options: Options, feed: LiveSource) -> None:
        self.feed = feed
        settings = options.settings
        self.warm: WarmStart | None = None
        """The warm start; None with ``--no-history`` or ``[history] enabled = false``."""
        if options.history and settings.history.enabled:
            # The demo's market is made up: its bars must never join the real store, which a
            # later live run of the same symbols would trust.
            root = _demo_root() if options.demo else history_root(settings.history.folder)
            store = HistoryStore(root)
            self.warm = WarmStart(
                History(feed.rest, store), feed, pair_bars, feed.rest.server_time_ms
            )
        self._intervals: asyncio.Task[dict[str, float]] | None = None

    def attach(self, pipeline: Pipeline) -> None:
        """Start ``pipeline`` from history and funding once it runs on the desk."""
        pipeline.add_companion(functools.partial(self.start, pipeline))

    async def start(self, pipeline: Pipeline) -> None:
        """History and funding for one pair, side by side. Never raises."""
        jobs = []
        if self.warm is not None:
            jobs.append(self.warm.start(pipeline))
        if pipeline.carry is not None:
            jobs.append(self._funding(pipeline))
        await asyncio.gather(*jobs)

    async def widen(self, pipeline: Pipeline) -> None:
        """After the window grew: the older bars each timeframe now needs. Never raises."""
        if self.warm is not None:
            await self.warm.widen(pipeline)

    async def _funding(self, pipeline: Pipeline) -> None:
        carry = pipeline.carry
        assert carry is not None
        rest = self.feed.rest
        try:
            carry.set_intervals(await self._funding_intervals())
            marks = await asyncio.gather(*(rest.premium_index(s) for s in pipeline.symbols))
        except asyncio.CancelledError:
            raise
        except RestError as exc:
            log.warning("%s: funding unavailable until the mark stream speaks (%s)", pipeline, exc)
            return
        for rows in marks:
            for row in rows:
                pipeline.on_mark(row.to_mark())
        pipeline.touch()

    async def _funding_intervals(self) -> dict[str, float]:
        """Every listed symbol's funding interval (asked once; symbols not listed fund every
        8 hours)."""
        if self._intervals is None or (
            self._intervals.done() and self._intervals.exception() is not None
        ):
            self._intervals = asyncio.ensure_future(self._ask_intervals())
        return await asyncio.shield(self._intervals)

    async def _ask_intervals(self) -> dict[str, float]:
        rows = await self.feed.rest.funding_info()
        return {row.symbol.upper(): row.interval_h for row in rows}
