"""The fault suite's harness: what the user would see, with every published trade accounted for.

A :class:`Run` is the real thing end to end over loopback: the embedded exchange with a fault
on, the Binance client, the :class:`~pairs_tui.pipeline.Pipeline` building bars, and the
headless writer printing its JSON lines. Tests assert on the headless ``feed`` object, on the
bars, and on the accounting: every trade the exchange published is in a bar, or counted as a
gap, or counted as late.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pairs_tui.bars import BarBuilder
from pairs_tui.config import Settings
from pairs_tui.exchange.faults import Faults
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import Tape, TapeTrade, TradeTape
from pairs_tui.feed.binance import BinanceFeed
from pairs_tui.feed.status import FeedStatus
from pairs_tui.headless import HeadlessWriter
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import PairBar, Trade
from pairs_tui.snapshot import ClosedBar

PAIR = ("BTCUSDT", "ETHUSDT")
WAIT_S = 15.0
"""How long a test waits for an expected state before failing."""
FEED_DEFAULTS: dict[str, Any] = {
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.4,
    "stable_after_s": 0.5,
    "watchdog_s": 2.0,
}
"""Client settings scaled down with the exchange's speed (real ones: 0.5 s, 30 s, 10 s, 20 s)."""


@dataclass(frozen=True)
class Accounting:
    """Where every published trade went."""

    published: int
    """Trades the exchange published from each leg's first delivered trade on."""
    delivered: int
    """Trades the client handed to the pipeline (live or backfilled)."""
    in_bars: int
    """Trades inside final 1s bars."""
    gaps: int
    """Trades the client counted as missing."""
    late: int
    """Trades that arrived after their bar was final."""
    backfilled: int
    """Trades recovered over REST."""

    @property
    def closed(self) -> bool:
        """Every published trade is in a bar, a gap or late, and nothing twice."""
        return (
            self.published == self.in_bars + self.gaps + self.late
            and self.delivered == self.in_bars + self.late
        )


def printed(trade: TapeTrade, tape: Tape) -> Trade:
    """A tape trade as the client decodes it (price and quantity as the exchange prints them)."""
    spec = tape.specs[trade.symbol]
    return Trade(
        trade.symbol,
        trade.time,
        float(f"{trade.price:.{spec.price_decimals}f}"),
        float(f"{trade.qty:.{spec.qty_decimals}f}"),
        trade.buyer_maker,
        trade.id,
    )


def reference_bars(trades: list[Trade]) -> list[PairBar]:
    """The 1s bars of ``trades`` built in trade-time order, with nothing late: the truth."""
    builder = BarBuilder(PAIR, 1_000)
    return builder.add_many(sorted(trades, key=lambda t: (t.time, t.id))) + builder.flush()


def assert_bars_equal(live: list[PairBar], expected: list[PairBar], *, missing: int = 0) -> None:
    """The live bars are the expected ones, then only flat bars (the clock runs on).

    Args:
        live: The bars the pipeline made final.
        expected: The bars of every trade that should be in them.
        missing: How many trades may be absent (those counted late): a bar short of trades
            may differ, and so may the flat bars after it, which repeat its close; every other
            bar must be equal, and the shortfall must add up to exactly ``missing``.
    """
    assert len(live) >= len(expected), f"{len(live)} live bars, {len(expected)} expected"
    short = 0
    tainted = [False, False]
    for got, want in zip(live, expected, strict=False):
        assert got.ts == want.ts
        for side, (g, w) in enumerate(((got.a, want.a), (got.b, want.b))):
            g_trades = 0 if g is None else g.trades
            w_trades = 0 if w is None else w.trades
            assert g_trades <= w_trades, f"bar {got.ts} has trades that are not published"
            if g_trades < w_trades:
                short += w_trades - g_trades
                tainted[side] = True
                continue
            if tainted[side] and w_trades == 0:
                continue  # flat after a short bar: it repeats that bar's close
            tainted[side] = False
            assert (g is None) == (w is None), got.ts
            if g is not None and w is not None:
                assert (g.open, g.high, g.low, g.close, g.trades) == (
                    w.open,
                    w.high,
                    w.low,
                    w.close,
                    w.trades,
                ), f"bar {got.ts}"
                assert g.volume == pytest.approx(w.volume, rel=1e-9, abs=1e-9)
    assert short == missing
    for extra in live[len(expected) :]:
        assert all(leg is None or leg.trades == 0 for leg in (extra.a, extra.b))


class Run:
    """The pipeline on the client on the exchange, with listeners that see what a user sees.

    Args:
        exchange: The exchange, started.
        feed: The client, not started.
        settings: Pipeline settings.
    """

    def __init__(self, exchange: EmbeddedExchange, feed: BinanceFeed, settings: Settings) -> None:
        self.exchange = exchange
        """The exchange."""
        self.feed = feed
        """The client."""
        self.pipeline = Pipeline(settings, feed, PAIR)
        """The pipeline: bars, analytics, the headless writer."""
        self.out = io.StringIO()
        """What headless mode printed."""
        self.bars: list[PairBar] = []
        """Final 1s bars, in order."""
        self.delivered: list[Trade] = []
        """Trades the pipeline received, in arrival order."""
        self.changed = asyncio.Event()
        """Set on every trade and bar."""
        self.task: asyncio.Task[None] | None = None
        self.pipeline.add_bar_listener(self._on_bar)
        self.pipeline.add_bar_listener(HeadlessWriter(self.out))
        self.pipeline.add_trade_listener(self._on_trade)

    def _on_bar(self, closed: ClosedBar) -> None:
        self.bars.append(closed.bar)
        self.changed.set()

    def _on_trade(self, trade: Trade) -> None:
        self.delivered.append(trade)
        self.changed.set()

    def start(self) -> None:
        """Run the pipeline (and so the client) as a task."""
        self.task = asyncio.get_running_loop().create_task(self.pipeline.run())

    @property
    def status(self) -> FeedStatus:
        """The feed's status as the screen and headless mode show it (late included)."""
        return self.pipeline.status

    def lines(self) -> list[dict[str, Any]]:
        """The headless lines printed so far."""
        return [json.loads(line) for line in self.out.getvalue().splitlines()]

    def first_ids(self) -> dict[str, int]:
        """Each leg's first delivered id: the client is answerable from there on."""
        first: dict[str, int] = {}
        for trade in self.delivered:
            first[trade.symbol] = min(first.get(trade.symbol, trade.id), trade.id)
        return first

    def published(self) -> list[Trade]:
        """What the exchange published from each leg's first delivered trade on, as printed."""
        first = self.first_ids()
        tape = self.exchange.tape
        return [
            printed(t, tape)
            for symbol in PAIR
            for t in self.exchange.history(symbol)
            if symbol in first and t.id >= first[symbol]
        ]

    def accounting(self) -> Accounting:
        """Where every published trade went, now."""
        status = self.status
        first = self.first_ids()
        published = sum(sum(1 for t in self.exchange.history(s) if t.id >= first[s]) for s in first)
        in_bars = sum(
            (bar.a.trades if bar.a else 0) + (bar.b.trades if bar.b else 0) for bar in self.bars
        )
        return Accounting(
            published=published,
            delivered=len(self.delivered),
            in_bars=in_bars,
            gaps=status.gaps,
            late=status.late,
            backfilled=self.feed.backfilled,
        )

    async def wait_for(
        self, predicate: Callable[[], bool], what: str, timeout: float = WAIT_S
    ) -> None:
        """Wait until ``predicate()`` holds.

        It is re-checked on every trade and bar and at least every 0.1 s (the pipeline's own
        heartbeat, which is when clock-driven bars and counters change).

        Raises:
            AssertionError: It did not hold in time; the message says what and the accounting.
        """
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self.changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.changed.wait(), 0.1)
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for {what}: {self.accounting()}, {self.status}"
            ) from None

    async def settle(self, timeout: float = WAIT_S) -> Accounting:
        """Wait for the tape's end and for every published trade to be accounted for.

        Returns:
            The final accounting.
        """
        await self.exchange.wait_until(self.exchange.finished.is_set, timeout)
        await self.wait_for(lambda: self.accounting().closed, "the accounting to close", timeout)
        return self.accounting()

    async def stop(self) -> None:
        """Cancel the pipeline and wait for it."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


RunFactory = Callable[..., Awaitable[Run]]
"""``await start_run(tape=..., speed=..., faults=..., exchange=..., feed=..., settings=...)``."""


@pytest.fixture(scope="session")
def fault_tape() -> TradeTape:
    """20 s of a simulated pair at 40 and 25 arrivals a second (about 1,000 trades a leg)."""
    return simulated_tape(PAIR, duration_s=20.0, rate_per_s=(40.0, 25.0), seed=23)


@pytest.fixture
async def start_run(fault_tape: TradeTape) -> AsyncIterator[RunFactory]:
    """Start an exchange with faults and a pipeline on the client; all stopped at teardown."""
    runs: list[Run] = []
    exchanges: list[EmbeddedExchange] = []

    async def start(
        *,
        tape: TradeTape | None = None,
        speed: float = 20.0,
        faults: Faults | None = None,
        exchange: dict[str, Any] | None = None,
        feed: dict[str, Any] | None = None,
        settings: Settings | None = None,
    ) -> Run:
        ex = EmbeddedExchange(tape or fault_tape, speed=speed, faults=faults, **(exchange or {}))
        await ex.start()
        exchanges.append(ex)
        kwargs = {**FEED_DEFAULTS, "rng": random.Random(5), **(feed or {})}
        client = BinanceFeed(PAIR, url=ex.url, **kwargs)
        run = Run(ex, client, settings or Settings())
        runs.append(run)
        run.start()
        return run

    yield start
    for run in runs:
        await run.stop()
    for ex in exchanges:
        await ex.stop()
