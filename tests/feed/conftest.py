"""Fixtures for feed tests: a recording sink and a feed (the exchanges are in tests/conftest.py).

Everything runs over real sockets on 127.0.0.1; nothing reads outside the repository.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.feed.binance import BinanceFeed
from pairs_tui.records import MarkPrice, PairBar, Trade

FeedStarter = Callable[..., BinanceFeed]
"""What the ``run_feed`` fixture gives: ``run_feed(exchange, sink, **feed_kwargs)``."""

WAIT_S = 5.0
"""How long a test waits for an expected event before failing."""


class Recorder:
    """A :class:`~pairs_tui.feed.source.TradeSink` that keeps everything it is given.

    Args:
        expected: Set :attr:`reached` once this many trades have arrived (None: never).
    """

    def __init__(self, expected: int | None = None) -> None:
        self.trades: list[Trade] = []
        """Trades in arrival order."""
        self.bars: list[tuple[PairBar, int]] = []
        """Bars in arrival order, with their timeframe."""
        self.marks: list[MarkPrice] = []
        """Mark-price updates in arrival order."""
        self.events: list[tuple[str, str, int | None]] = []
        """``("hold", symbol, from_ms)`` and ``("release", symbol, None)`` in order."""
        self.expected = expected
        """The trade count that sets :attr:`reached`."""
        self.reached = asyncio.Event()
        """Set when :attr:`expected` trades have arrived."""
        self._changed = asyncio.Event()

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)
        if self.expected is not None and len(self.trades) >= self.expected:
            self.reached.set()
        self._changed.set()

    def on_bar(self, bar: PairBar, timeframe_ms: int) -> None:
        self.bars.append((bar, timeframe_ms))
        self._changed.set()

    def on_mark(self, mark: MarkPrice) -> None:
        self.marks.append(mark)
        self._changed.set()

    def hold(self, symbol: str, from_time_ms: int) -> None:
        self.events.append(("hold", symbol, from_time_ms))
        self._changed.set()

    def release(self, symbol: str) -> None:
        self.events.append(("release", symbol, None))
        self._changed.set()

    def of(self, symbol: str) -> list[Trade]:
        """The trades of one symbol, in arrival order."""
        return [t for t in self.trades if t.symbol == symbol]

    def held(self) -> set[str]:
        """Symbols held and not yet released."""
        open_: set[str] = set()
        for kind, symbol, _ in self.events:
            (open_.add if kind == "hold" else open_.discard)(symbol)
        return open_

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
        """Wait until ``predicate()`` holds; it is checked whenever the sink is called.

        Raises:
            TimeoutError: It did not hold within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_count(self, n: int, timeout: float = WAIT_S) -> None:
        """Wait until at least ``n`` trades have arrived."""
        await self.wait_until(lambda: len(self.trades) >= n, timeout)


@pytest.fixture
def recorder() -> Recorder:
    """A fresh recording sink."""
    return Recorder()


@pytest.fixture
async def run_feed() -> AsyncIterator[FeedStarter]:
    """Start a :class:`BinanceFeed` into a sink as a task: ``run_feed(exchange, sink, **kw)``.

    Fast backoff by default; every feed started is cancelled and awaited at teardown.
    """
    tasks: list[asyncio.Task[None]] = []

    def start(ex: EmbeddedExchange, sink: Any, **kwargs: Any) -> BinanceFeed:
        kwargs.setdefault("backoff_initial_s", 0.02)
        kwargs.setdefault("backoff_max_s", 0.2)
        symbols = kwargs.pop("symbols", ("btcusdt", "ethusdt"))
        feed = BinanceFeed(symbols, url=ex.url, **kwargs)
        tasks.append(asyncio.get_running_loop().create_task(feed.run(sink)))
        return feed

    yield start
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
