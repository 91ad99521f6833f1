"""Filling the store: the bars a caller wants, from the store first, the rest from klines.

``1s`` bars come from ``GET /fapi/v1/continuousKlines?pair=…&contractType=PERPETUAL`` (plain
klines refuse ``1s``), the others from ``GET /fapi/v1/klines``. Only what the store lacks is
asked for, in pages of least weight (:mod:`pairs_tui.history.klines`), several at once up to a
bound shared by every caller; only closed bars are stored (the exchange clock is read first, and
only when a range reaches past what is known to be closed). A 429 is the client's to wait out;
a 418 (the IP banned) stops history: :class:`HistoryStopped` says why and until when, nothing
more is asked until then, and what was fetched before it is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

import polars as pl

from pairs_tui.feed.errors import IpBanned
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.history.klines import PAGE_LIMIT, KlineRow, Page, klines_to_bars, pages
from pairs_tui.history.store import HistoryStore, clip, grid_ceil, timeframe_ms

Progress = Callable[[int, int], None]
"""Told ``(requests done, requests planned)``: once before the first request, then as each ends."""

SETTLE_MS: Final = 1_000
"""How far past a bar's end the exchange clock must be before the bar is stored: the stitch's
own margin (:func:`pairs_tui.warm.stitch_time`)."""

_T = TypeVar("_T")


class HistoryStopped(Exception):
    """History fetching stopped: the exchange banned this IP (HTTP 418). The caller shows
    :attr:`reason` and goes on live; the live stream is not affected.

    Args:
        reason: What happened, in a sentence.
        until_ms: When fetching may resume, ms since the epoch (wall clock).
    """

    def __init__(self, reason: str, until_ms: float) -> None:
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(until_ms / 1000.0))
        super().__init__(f"history stopped until {until}: {reason}")
        self.reason = reason
        """Why history stopped."""
        self.until_ms = until_ms
        """When fetching may resume, ms since the epoch."""


@dataclass(frozen=True)
class RangeFetch:
    """One range of one symbol's bars the store lacks, and the requests that fetch it."""

    symbol: str
    """Upper-case symbol."""
    timeframe: str
    """Binance interval: ``1s``, ``1m``, ``5m``, ``1h``."""
    start_ms: int
    """First bar start, on the grid."""
    end_ms: int
    """End of the range, on the grid; every bar before it is closed."""
    pages: tuple[Page, ...]
    """The requests, in time order."""
    previous_close: float | None
    """Close of the stored bar just before the range, which bars without a kline repeat."""


@dataclass(frozen=True)
class FetchPlan:
    """Everything a call will fetch: the screen shows :attr:`requests` before it starts."""

    ranges: tuple[RangeFetch, ...]
    """The missing ranges, per symbol in time order."""

    @property
    def requests(self) -> int:
        """Requests to send."""
        return sum(len(r.pages) for r in self.ranges)

    @property
    def weight(self) -> int:
        """Request weight they cost together."""
        return sum(p.weight for r in self.ranges for p in r.pages)


class History:
    """Bars of any symbol and timeframe: the store first, the rest fetched, stored, returned.

    Args:
        rest: The REST client.
        store: The bar store.
        concurrency: Kline requests in flight at once, over every call of this object.
        page_limit: Rows per full page (499: least weight per row).
        flush_rows: Fetched rows written to the store at a time within a range, so that a range
            cut short (a 418) keeps what came before.
    """

    def __init__(
        self,
        rest: BinanceRest,
        store: HistoryStore,
        *,
        concurrency: int = 4,
        page_limit: int = PAGE_LIMIT,
        flush_rows: int = 20_000,
    ) -> None:
        self.rest = rest
        """The REST client."""
        self.store = store
        """The bar store."""
        self.page_limit = page_limit
        """Rows per full page."""
        self.flush_rows = flush_rows
        """Rows written at a time within a range."""
        self.stopped: HistoryStopped | None = None
        """Set by a 418 until the ban ends; every call raises it meanwhile."""
        self._slots = asyncio.Semaphore(concurrency)
        self._closed_ms = 0
        """The latest exchange clock read less :data:`SETTLE_MS`: bars ending by it are closed."""
        self._clock_lock = asyncio.Lock()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def bars(
        self,
        symbol: str,
        timeframe: str,
        start_ms: int,
        end_ms: int,
        *,
        progress: Progress | None = None,
    ) -> pl.DataFrame:
        """One symbol's bars starting in ``[start_ms, end_ms)``, fetching what the store lacks.

        Args:
            symbol: Symbol, any case.
            timeframe: ``1s``, ``1m``, ``5m`` or ``1h``.
            start_ms: First bar start wanted, ms UTC.
            end_ms: Bar starts before this; bars not closed yet on the exchange are left out.
            progress: Told ``(done, total)`` requests.

        Returns:
            The bars (:data:`~pairs_tui.history.store.BARS_SCHEMA`, ``ts`` Int64 ms), oldest
            first; none before the symbol's first kline.

        Raises:
            HistoryStopped: The IP is banned (now or since an earlier 418).
            ValueError: A bad timeframe or symbol.
            RestError: Another failure of the exchange (the client's errors).
        """
        found = await self.bars_of([symbol], timeframe, start_ms, end_ms, progress=progress)
        return next(iter(found.values()))

    async def bars_of(
        self,
        symbols: Iterable[str],
        timeframe: str,
        start_ms: int,
        end_ms: int,
        *,
        progress: Progress | None = None,
    ) -> dict[str, pl.DataFrame]:
        """As :meth:`bars` for several symbols at once, their requests in one count.

        Returns:
            Each symbol's bars, by upper-case symbol, in the order given.
        """
        plan = await self.plan(symbols, timeframe, start_ms, end_ms)
        await self.fetch(plan, progress=progress)
        names = _names(symbols)
        frames = await asyncio.gather(
            *(asyncio.to_thread(self.store.read, s, timeframe, start_ms, end_ms) for s in names)
        )
        return dict(zip(names, frames, strict=True))

    async def plan(
        self, symbols: Iterable[str], timeframe: str, start_ms: int, end_ms: int
    ) -> FetchPlan:
        """What fetching ``[start_ms, end_ms)`` of each symbol will ask, before asking it.

        Reads the store, and the exchange clock when the range reaches past the bars known to
        be closed.

        Raises:
            HistoryStopped: The IP is banned.
            ValueError: A bad timeframe or symbol.
            RestError: The exchange clock could not be read.
        """
        self._check_stopped()
        step = timeframe_ms(timeframe)
        lo, hi = grid_ceil(start_ms, step), grid_ceil(end_ms, step)
        names = _names(symbols)
        loaded = await asyncio.gather(
            *(asyncio.to_thread(self.store.load, s, timeframe, lo - step, hi) for s in names)
        )
        wanted = {s: clip(stored.missing, lo, hi) for s, stored in zip(names, loaded, strict=True)}
        reach = max((end for spans in wanted.values() for _, end in spans), default=None)
        if reach is None:
            return FetchPlan(())
        closed = await self._closed_until(reach, step)
        ranges: list[RangeFetch] = []
        for symbol, stored in zip(names, loaded, strict=True):
            for start, end in clip(wanted[symbol], lo, closed):
                cut = tuple(pages(start, end, step, limit=self.page_limit))
                before = _close_at(stored.bars, start - step)
                ranges.append(RangeFetch(symbol, timeframe, start, end, cut, before))
        return FetchPlan(tuple(ranges))

    async def fetch(self, plan: FetchPlan, *, progress: Progress | None = None) -> None:
        """Fetch every range of ``plan`` into the store, several requests at once.

        Args:
            plan: From :meth:`plan`.
            progress: Told ``(0, total)`` first, then ``(done, total)`` as each request ends.

        Raises:
            HistoryStopped: A 418; ranges (and whole parts of ranges) fetched before it are kept.
            RestError: Another failure of the exchange.
        """
        total, done = plan.requests, 0

        def finished() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        if progress is not None:
            progress(0, total)
        await _all([self._fetch_range(r, finished) for r in plan.ranges])

    async def _fetch_range(self, fetch: RangeFetch, finished: Callable[[], None]) -> None:
        """Pages fetched at once, written in time order as they arrive, ``flush_rows`` at a time;
        on a failure, the pages before the failed one are still written."""
        tasks = [asyncio.create_task(self._page(fetch, page, finished)) for page in fetch.pages]
        rows: list[KlineRow] = []
        written = reached = fetch.start_ms
        close = fetch.previous_close
        writing = False
        try:
            for page, task in zip(fetch.pages, tasks, strict=True):
                rows.extend(await task)
                reached = page.end_ms
                if len(rows) >= self.flush_rows or reached == fetch.end_ms:
                    writing = True
                    close = await self._write(fetch, rows, written, reached, close)
                    rows, written, writing = [], reached, False
        except BaseException:
            # A failed page, or a sibling's failure cancelling this range: the pages before it
            # are closed bars like any others, so they are kept.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if reached > written and not writing:
                await self._write(fetch, rows, written, reached, close)
            raise

    async def _write(
        self, fetch: RangeFetch, rows: list[KlineRow], start: int, end: int, close: float | None
    ) -> float | None:
        """Store the bars of ``[start, end)``; return the last close, for the next part."""
        step = timeframe_ms(fetch.timeframe)
        bars = klines_to_bars(rows, start, end, step, previous_close=close)
        lock = self._locks.setdefault((fetch.symbol, fetch.timeframe), asyncio.Lock())
        async with lock:
            await asyncio.to_thread(
                self.store.write, fetch.symbol, fetch.timeframe, bars, [(start, end)]
            )
        return float(bars["close"][-1]) if len(bars) else close

    async def _page(
        self, fetch: RangeFetch, page: Page, finished: Callable[[], None]
    ) -> Sequence[KlineRow]:
        async with self._slots:
            self._check_stopped()
            if fetch.timeframe == "1s":
                asked = self.rest.continuous_klines(
                    fetch.symbol,
                    "1s",
                    contract_type="PERPETUAL",
                    start_ms=page.start_ms,
                    end_ms=page.last_open_ms,
                    limit=page.limit,
                )
            else:
                asked = self.rest.klines(
                    fetch.symbol,
                    fetch.timeframe,
                    start_ms=page.start_ms,
                    end_ms=page.last_open_ms,
                    limit=page.limit,
                )
            rows = await self._unless_banned(asked)
        finished()
        return rows

    async def _unless_banned(self, request: Awaitable[_T]) -> _T:
        """The answer to ``request``; a 418 becomes :class:`HistoryStopped`."""
        try:
            return await request
        except IpBanned as exc:
            raise self._stop(exc.until_ms) from exc

    async def _closed_until(self, end_ms: int, step: int) -> int:
        """The end of the closed bars of ``step`` up to ``end_ms``.

        A bar counts as closed once the exchange clock is :data:`SETTLE_MS` past its end (a
        trade is stamped a moment before the exchange folds it). The clock is read only when
        ``end_ms`` is past what the last reading closed (it only moves on, so an older reading
        stays true), and once for calls that need it at the same time (the warm start asks for
        every timeframe of both legs at once).
        """
        if end_ms > self._closed_ms:
            async with self._clock_lock:
                if end_ms > self._closed_ms:
                    now = int(await self._unless_banned(self.rest.server_time_ms()))
                    self._closed_ms = max(self._closed_ms, now - SETTLE_MS)
        closed = self._closed_ms - self._closed_ms % step
        return min(end_ms, closed)

    def _stop(self, until_ms: float) -> HistoryStopped:
        if self.stopped is None or self.stopped.until_ms <= time.time() * 1000.0:
            self.stopped = HistoryStopped(
                "the exchange banned this IP for too many requests (HTTP 418)", until_ms
            )
        return self.stopped

    def _check_stopped(self) -> None:
        if self.stopped is not None:
            if self.stopped.until_ms > time.time() * 1000.0:
                raise self.stopped
            self.stopped = None


def _close_at(bars: pl.DataFrame, ts: int) -> float | None:
    """The close of the bar starting at ``ts``, if ``bars`` hold it."""
    row = bars.filter(pl.col("ts") == ts)
    return float(row["close"][0]) if len(row) else None


def _names(symbols: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(s.strip().upper() for s in symbols))


async def _all(jobs: Sequence[Awaitable[_T]]) -> list[_T]:
    """Every job at once; on the first failure the others are cancelled (and awaited, so that
    their partial writes are done) before it is raised."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
