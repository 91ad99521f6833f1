"""Memory: bytes per held trade, and RSS after a day of exchange time through the pipeline.

Goal (issue 7): under 40 B per held trade; under 400 MB RSS after 24 hours of exchange time at
100 trades/s per leg with the default tick retention. The baseline is the same columns held in
preallocated NumPy arrays, the least any Python store can hold them in.

    python -m benchmarks.bench_memory [--hours H]
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import numpy as np

from pairs_tui.config import Settings
from pairs_tui.feed.status import FeedStatus
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import Trade
from pairs_tui.ticks import TickStore

PAIR = ("BTCUSDT", "ETHUSDT")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class ClockedSource:
    """A stand-in source whose exchange clock is the last trade time (driven by the bench)."""

    def __init__(self) -> None:
        self.now = 0.0

    @property
    def status(self) -> FeedStatus:
        return FeedStatus(state="live")

    def exchange_now_ms(self) -> float | None:
        return self.now

    async def run(self, sink: object) -> None:
        return None


def held_bytes(n: int) -> tuple[float, float]:
    """Bytes per trade held in the tick store, and in NumPy arrays of the same columns."""
    store = TickStore(n)
    for i in range(n):
        store.append(
            Trade(
                "BTCUSDT",
                1_723_161_256_000 + i,
                61_800.0 + (i % 100) * 0.1,
                0.001 * (i % 7 + 1),
                bool(i & 1),
                5_266_583_935 + i,
            )
        )
    ours = store.frame().estimated_size() / n
    arrays = [
        np.zeros(n, np.int64),
        np.zeros(n, np.float64),
        np.zeros(n, np.float64),
        np.zeros(n, np.bool_),
        np.zeros(n, np.int64),
    ]
    baseline = sum(a.nbytes for a in arrays) / n
    return ours, baseline


def day_through_pipeline(hours: float, rate_per_leg: int) -> tuple[float, float, int, float]:
    """Feed ``hours`` of exchange time at ``rate_per_leg`` trades/s per leg through the pipeline.

    Returns RSS before and after (MB), trades fed, and seconds taken.
    """
    gc.collect()
    before = rss_mb()
    source = ClockedSource()
    pipeline = Pipeline(Settings(), source, PAIR)  # type: ignore[arg-type]
    rng = np.random.default_rng(1)
    start = 1_723_161_256_000
    seconds = int(hours * 3600)
    step = 1000 // rate_per_leg
    btc, eth = 61_800.0, 2_680.0
    fed = 0
    started = time.perf_counter()
    for second in range(seconds):
        moves = rng.normal(0.0, 1e-4, 2)
        btc *= 1 + moves[0]
        eth *= 1 + moves[1]
        base = start + second * 1000
        for k in range(rate_per_leg):
            t = base + k * step
            pipeline.on_trade(Trade("BTCUSDT", t, round(btc, 1), 0.01, False, fed))
            pipeline.on_trade(Trade("ETHUSDT", t + 1, round(eth, 2), 0.1, True, fed + 1))
            fed += 2
        source.now = base + 1000 + 250
        pipeline.advance()
    took = time.perf_counter() - started
    gc.collect()
    return before, rss_mb(), fed, took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate", type=int, default=100, help="trades per second per leg")
    args = parser.parse_args()
    ours, baseline = held_bytes(1_000_000)
    print(f"{'held trade, tick store (Polars)':<44}{ours:>10.2f} B/trade")
    print(f"{'held trade, NumPy arrays (baseline)':<44}{baseline:>10.2f} B/trade")
    print(f"{'ratio to baseline':<44}{ours / baseline:>10.2f}")
    before, after, fed, took = day_through_pipeline(args.hours, args.rate)
    print(f"{'exchange time fed':<44}{args.hours:>10.1f} h at {args.rate}/s per leg")
    print(f"{'trades fed':<44}{fed:>10,}")
    print(f"{'pipeline throughput':<44}{fed / took:>10,.0f} trades/s ({took:.0f} s)")
    print(f"{'RSS before':<44}{before:>10.0f} MB")
    print(f"{'RSS after':<44}{after:>10.0f} MB (goal < 400)")


if __name__ == "__main__":
    main()
