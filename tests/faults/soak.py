"""An accelerated soak: hours of exchange time in a minute, with a fault every few seconds.

The real pieces run end to end over loopback: the embedded exchange replaying a simulated pair
at ``speed`` times real time, the Binance client, the pipeline with its analytics and a headless
writer. Every ``every_s`` seconds of wall time the next fault of :data:`FAULTS` is injected; the
faults stop a few seconds before the tape ends, so that a later id reveals every gap. At the end,
every trade the exchange published must be in a bar, counted as a gap, or counted as late, and
none delivered twice; memory is sampled after every fault.

The ledger keeps counts and one byte per trade id, not the trades, so that what the soak
measures is the application's memory, not its own.

Used by ``tests/test_soak.py`` (asserts) and ``benchmarks/bench_reliability.py`` (the table in
RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairs_tui.config import BarSettings, Settings
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.feed.binance import BinanceFeed
from pairs_tui.headless import HeadlessWriter
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import Trade
from pairs_tui.snapshot import ClosedBar

PAIR = ("BTCUSDT", "ETHUSDT")


def rss_mb() -> float:
    """This process's resident set size, MB (from /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class NullOut:
    """A stdout that encodes nothing anywhere but counts the lines (headless output's cost
    without the soak's own memory growing)."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)

    def flush(self) -> None:
        pass


class Ledger:
    """Where every delivered trade went, in counts and one byte per id."""

    def __init__(self) -> None:
        self.first: dict[str, int] = {}
        """Each leg's first delivered id."""
        self.seen: dict[str, bytearray] = {s: bytearray() for s in PAIR}
        self.delivered = 0
        self.duplicates = 0
        self.before_first = 0
        self.in_bars = 0
        self.bars = 0
        self.changed = asyncio.Event()

    def on_trade(self, trade: Trade) -> None:
        first = self.first.setdefault(trade.symbol, trade.id)
        i = trade.id - first
        self.delivered += 1
        if i < 0:
            self.before_first += 1
            return
        seen = self.seen[trade.symbol]
        if i >= len(seen):
            seen.extend(bytes(i - len(seen) + 65_536))
        if seen[i]:
            self.duplicates += 1
        seen[i] = 1
        self.changed.set()

    def on_bar(self, closed: ClosedBar) -> None:
        bar = closed.bar
        self.in_bars += (bar.a.trades if bar.a else 0) + (bar.b.trades if bar.b else 0)
        self.bars += 1
        self.changed.set()


@dataclass
class FaultRecord:
    """What one kind of fault did over the soak."""

    name: str
    injected: int = 0
    recovered: int = 0
    max_recovery_s: float = 0.0
    """Longest time from the fault's end to the feed live again (reconnected, for the faults
    that need it), both streams flowing."""
    backfilled: int = 0
    gaps: int = 0
    late: int = 0
    malformed: int = 0


@dataclass
class SoakReport:
    """The soak's outcome."""

    wall_s: float
    exchange_hours: float
    speed: float
    published: int
    delivered: int
    in_bars: int
    gaps: int
    late: int
    backfilled: int
    malformed: int
    reconnects: int
    duplicates: int
    before_first: int
    bars: int
    headless_lines: int
    pongs: int
    max_incoming_per_s: int
    rss_mb: list[float] = field(default_factory=list)
    """RSS after warm-up and after every fault."""
    faults: dict[str, FaultRecord] = field(default_factory=dict)
    alive: bool = True
    """The pipeline ran throughout (it never ended, with or without an error)."""

    @property
    def accounted(self) -> bool:
        """Every published trade is in a bar, a gap or late; none twice."""
        return (
            self.published == self.in_bars + self.gaps + self.late
            and self.delivered == self.in_bars + self.late
            and self.duplicates == 0
            and self.before_first == 0
        )

    @property
    def rss_growth_mb(self) -> float:
        """RSS at the end minus RSS at the first sample after warm-up."""
        return self.rss_mb[-1] - self.rss_mb[0]


class Soak:
    """One soak run's moving parts.

    Args:
        wall_s: How long the tape lasts in wall time.
        speed: Exchange time per wall time.
        every_s: Wall seconds between faults.
        seed: Seed of the simulated tape.
        watchdog_s: The client's watchdog (Binance's 20 s scaled by the speed, by default).
        fault_s: How long the faults that last (stall, silence, freeze, garbage) stay on.
        faults: Which faults to inject, in turn (default: all of :data:`FAULTS`).
    """

    def __init__(
        self,
        wall_s: float,
        speed: float,
        every_s: float,
        seed: int = 1,
        *,
        watchdog_s: float = 0.25,
        fault_s: float = 0.5,
        faults: list[str] | None = None,
    ) -> None:
        self.wall_s = wall_s
        self.speed = speed
        self.every_s = every_s
        self.watchdog_s = watchdog_s
        self.fault_s = fault_s
        self.faults = [(n, f) for n, f in FAULTS if faults is None or n in faults]
        tape = simulated_tape(PAIR, duration_s=wall_s * speed, rate_per_s=(20.0, 12.0), seed=seed)
        self.first_ids = {s: next(t.id for t in tape.trades if t.symbol == s) for s in PAIR}
        self.exchange = EmbeddedExchange(
            tape,
            speed=speed,
            rebase=True,
            ping_interval_s=0.2,  # Binance: 3 minutes; answered or the client is dropped
            ping_timeout_s=2.0,
            history_limit=60_000,
            # Request weight is budgeted per wall-clock minute; the soak's minute passes
            # `speed` times faster, and so may its budget.
            weight_limit=round(2_400 * speed),
        )
        self.tape = tape
        self.feed: BinanceFeed | None = None
        self.ledger = Ledger()
        self.out = NullOut()
        # Bounded stores, so that memory reaches its plateau within the run.
        self.settings = Settings(bars=BarSettings(history=2_000, tick_retention=20_000))
        self.pipeline: Pipeline | None = None
        self.task: asyncio.Task[None] | None = None

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds, re-checked on every trade and bar and every 50 ms.

        Returns:
            Whether it held within ``timeout``.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not predicate():
                    self.ledger.changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.ledger.changed.wait(), 0.05)
                return True
        return False

    def published(self) -> int:
        """Trades published from each leg's first delivered trade on."""
        first = self.ledger.first
        return sum(self.exchange.published(s) - (first[s] - self.first_ids[s]) for s in first)

    def counters(self) -> tuple[int, int, int, int]:
        """``(backfilled, gaps, late, malformed)`` now."""
        assert self.feed is not None and self.pipeline is not None
        status = self.pipeline.status
        return self.feed.backfilled, status.gaps, status.late, status.malformed

    def live(self) -> bool:
        assert self.feed is not None
        return self.feed.status.state == "live"

    async def run(self) -> SoakReport:
        """Run the soak and report."""
        await self.exchange.start()
        ex = self.exchange
        self.feed = feed = BinanceFeed(
            PAIR,
            url=ex.url,
            watchdog_s=self.watchdog_s,
            backoff_initial_s=0.05,
            backoff_max_s=1.0,
            stable_after_s=1.0,
            rng=random.Random(3),
        )
        self.pipeline = pipeline = Pipeline(self.settings, feed, PAIR)
        pipeline.add_trade_listener(self.ledger.on_trade)
        pipeline.add_bar_listener(self.ledger.on_bar)
        pipeline.add_bar_listener(HeadlessWriter(self.out))
        started = time.monotonic()
        self.task = asyncio.get_running_loop().create_task(pipeline.run())
        records = {name: FaultRecord(name) for name, _ in self.faults}
        rss = []
        alive = True
        try:
            await self.wait_for(lambda: self.ledger.delivered > 0 and self.live(), 10)
            await self.wait_for(lambda: time.monotonic() - started >= 2.0, 5)
            rss.append(rss_mb())
            k = 0
            end_of_faults = started + self.wall_s - 6.0
            while time.monotonic() + self.every_s < end_of_faults:
                name, inject = self.faults[k % len(self.faults)]
                k += 1
                window_end = time.monotonic() + self.every_s
                record = records[name]
                before = self.counters()
                reconnects = feed.status.reconnects
                record.injected += 1
                await inject(self)  # returns once the fault is over (at once for one-shots)
                t0 = time.monotonic()
                if name in CONNECTION_FAULTS:

                    def reconnected(r: int = reconnects) -> bool:
                        return feed.status.reconnects > r and self.live()

                    ok = await self.wait_for(reconnected, max(0.1, window_end - time.monotonic()))
                else:
                    ok = await self.wait_for(self.live, max(0.1, window_end - time.monotonic()))
                if ok:
                    record.recovered += 1
                    record.max_recovery_s = max(record.max_recovery_s, time.monotonic() - t0)

                def window_over(w: float = window_end) -> bool:
                    return time.monotonic() >= w

                await self.wait_for(window_over, self.every_s)
                after = self.counters()
                record.backfilled += after[0] - before[0]
                record.gaps += after[1] - before[1]
                record.late += after[2] - before[2]
                record.malformed += after[3] - before[3]
                rss.append(rss_mb())
                alive = alive and not self.task.done()
            await ex.wait_until(ex.finished.is_set, self.wall_s + 30)
            await self.wait_for(lambda: self._accounted(), 30)
            alive = alive and not self.task.done()
            rss.append(rss_mb())
            backfilled, gaps, late, malformed = self.counters()
            return SoakReport(
                wall_s=time.monotonic() - started,
                exchange_hours=(self.tape.end_ms - self.tape.start_ms) / 3_600_000,
                speed=self.speed,
                published=self.published(),
                delivered=self.ledger.delivered,
                in_bars=self.ledger.in_bars,
                gaps=gaps,
                late=late,
                backfilled=backfilled,
                malformed=malformed,
                reconnects=feed.status.reconnects,
                duplicates=self.ledger.duplicates,
                before_first=self.ledger.before_first,
                bars=self.ledger.bars,
                headless_lines=self.out.lines,
                pongs=ex.pongs,
                max_incoming_per_s=ex.max_incoming_per_s,
                rss_mb=rss,
                faults=records,
                alive=alive,
            )
        finally:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            await ex.stop()

    def _accounted(self) -> bool:
        assert self.pipeline is not None
        status = self.pipeline.status
        published = self.published()
        return (
            published == self.ledger.in_bars + status.gaps + status.late
            and self.ledger.delivered == self.ledger.in_bars + status.late
        )


# -- the faults, each a coroutine that injects one and clears it ------------------------------


async def _for(soak: Soak, seconds: float) -> None:
    """Let ``seconds`` of wall time pass while a fault is on (time itself is the fault)."""
    until = time.monotonic() + seconds
    await soak.wait_for(lambda: time.monotonic() >= until, seconds + 1)


async def drop(soak: Soak) -> None:
    soak.exchange.drop_connections()


async def lifetime_close(soak: Soak) -> None:
    soak.exchange.close_connections(1000, "lifetime reached")


async def rate_limit_close(soak: Soak) -> None:
    soak.exchange.close_connections(1008, "Too many requests")


async def refused_handshakes(soak: Soak) -> None:
    soak.exchange.faults.refuse_handshakes = 3
    soak.exchange.drop_connections()


async def stalled_stream(soak: Soak) -> None:
    soak.exchange.faults.stall_symbol = "ETHUSDT"
    await _for(soak, soak.fault_s)
    soak.exchange.faults.stall_symbol = None


async def silent_stream(soak: Soak) -> None:
    soak.exchange.faults.silent_symbol = "BTCUSDT"
    soak.exchange.drop_connections()
    await _for(soak, soak.fault_s)
    soak.exchange.faults.silent_symbol = None


async def frozen_connection(soak: Soak) -> None:
    soak.exchange.faults.freeze = True
    await _for(soak, soak.fault_s)
    soak.exchange.faults.freeze = False


async def garbage_frames(soak: Soak) -> None:
    soak.exchange.faults.garbage_every = 5
    await _for(soak, soak.fault_s)
    soak.exchange.faults.garbage_every = None


async def dropped_frames(soak: Soak) -> None:
    soak.exchange.faults.skip_every = 7
    await _for(soak, soak.fault_s)
    soak.exchange.faults.skip_every = None


async def dropped_frames_rest_down(soak: Soak) -> None:
    soak.exchange.faults.rest_unavailable = True
    soak.exchange.faults.skip_every = 11
    await _for(soak, soak.fault_s)
    soak.exchange.faults.skip_every = None
    # REST stays down until the backfill has given up on what was skipped.
    await _for(soak, 0.8)
    soak.exchange.faults.rest_unavailable = False


FAULTS: list[tuple[str, Callable[[Soak], Awaitable[None]]]] = [
    ("abrupt drop (TCP reset)", drop),
    ("lifetime close (1000)", lifetime_close),
    ("rate-limit close (1008)", rate_limit_close),
    ("refused handshakes (503 x3)", refused_handshakes),
    ("stalled stream", stalled_stream),
    ("silent acknowledged stream", silent_stream),
    ("frozen connection", frozen_connection),
    ("garbage frames (1 in 5)", garbage_frames),
    ("dropped frames, REST up", dropped_frames),
    ("dropped frames, REST down", dropped_frames_rest_down),
]
"""Injected in this order, round and round."""
CONNECTION_FAULTS = {
    "abrupt drop (TCP reset)",
    "lifetime close (1000)",
    "rate-limit close (1008)",
    "refused handshakes (503 x3)",
    "stalled stream",
    "silent acknowledged stream",
    "frozen connection",
}
"""Faults the client recovers from by reconnecting."""


async def soak(wall_s: float, speed: float, every_s: float, **kwargs: Any) -> SoakReport:
    """Run one soak.

    Args:
        wall_s: How long the tape lasts in wall time.
        speed: Exchange time per wall time (120: two hours in a minute).
        every_s: Wall seconds between faults.
        **kwargs: The rest of :class:`Soak`'s arguments.

    Returns:
        The report.
    """
    return await Soak(wall_s, speed, every_s, **kwargs).run()


def table(report: SoakReport) -> str:
    """The report as the Markdown table of RELIABILITY.md."""
    rows = [
        "| fault | injected | recovered | slowest recovery | backfilled | gaps (lost) | late |"
        " malformed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report.faults.values():
        rows.append(
            f"| {r.name} | {r.injected} | {r.recovered} | {r.max_recovery_s:.2f} s | "
            f"{r.backfilled:,} | {r.gaps:,} | {r.late:,} | {r.malformed:,} |"
        )
    rows.append(
        f"| **total** | {sum(r.injected for r in report.faults.values())} | "
        f"{sum(r.recovered for r in report.faults.values())} | | {report.backfilled:,} | "
        f"{report.gaps:,} | {report.late:,} | {report.malformed:,} |"
    )
    return "\n".join(rows)


def summary(report: SoakReport) -> str:
    """The soak's headline figures, one per line."""
    growth = report.rss_growth_mb
    return "\n".join(
        [
            f"exchange time {report.exchange_hours:.2f} h at {report.speed:g}x in "
            f"{report.wall_s:.0f} s of wall time; pipeline alive throughout: {report.alive}",
            f"published {report.published:,} = in bars {report.in_bars:,} + gaps "
            f"{report.gaps:,} + late {report.late:,}; delivered {report.delivered:,}, "
            f"twice {report.duplicates}; accounted: {report.accounted}",
            f"reconnections {report.reconnects}, backfilled {report.backfilled:,}, malformed "
            f"{report.malformed:,}, bars {report.bars:,}, headless lines "
            f"{report.headless_lines:,}, server pings answered {report.pongs:,}, most "
            f"messages the client sent in a second {report.max_incoming_per_s}",
            f"RSS {report.rss_mb[0]:.0f} MB after warm-up, {max(report.rss_mb):.0f} MB at most, "
            f"{report.rss_mb[-1]:.0f} MB at the end ({growth:+.1f} MB)",
        ]
    )
