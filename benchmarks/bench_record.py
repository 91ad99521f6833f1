"""Recording: what ``--record`` costs the feed, and whether it keeps up with 20,000 trades/s.

Goal (issue: alerts, exports and recording): the recorder keeps up with 20,000 trades per second
without slowing the feed. Four parts, each against a baseline in the same run:

A. Feed side, per trade: ``Recorder.on_trade`` against a bare ``list.append`` (the least any
   listener can cost) and against appending to five column lists, interleaved round-robin.
B. The pipeline's ``on_trade`` with and without the recorder attached (bars on every trade).
C. One flush, in the writer thread: columns from trades, Parquet, rename; at 20,000 trades/s a
   segment is rewritten at every flush until it holds ``segment_rows``, so the cost grows
   through a segment and is shown per flush along it.
D. Sustained: an asyncio feed paced at 20,000 and 50,000 trades/s for a while, the recorder
   flushing on its 2 s timer in a worker thread. Reported: feed-side ns per trade, how late the
   feed's ticks ran (event-loop lag) with and without the recorder, the writer's CPU, and that
   every trade is on disk at the end.

    python -m benchmarks.bench_record [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from pairs_tui.config import Settings
from pairs_tui.feed.status import FeedStatus
from pairs_tui.pipeline import Pipeline
from pairs_tui.record import Recorder
from pairs_tui.records import Trade

PAIR = ("BTCUSDT", "ETHUSDT")
START_MS = 1_723_161_600_000


def make_trades(n: int, rate: float, seed: int = 1) -> list[Trade]:
    """``n`` trades at ``rate`` per second, two legs 3:2, prices on a random walk."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal(n)) * 0.05
    qty = np.round(rng.exponential(0.05, n), 3) + 0.001
    maker = rng.random(n) < 0.5
    out = []
    for i in range(n):
        leg = 0 if i % 5 < 3 else 1
        price = round((61_800.0 if leg == 0 else 2_680.0) + walk[i] * (1 if leg == 0 else 0.05), 2)
        out.append(
            Trade(
                PAIR[leg],
                START_MS + int(i * 1000 / rate),
                price,
                float(qty[i]),
                bool(maker[i]),
                5_266_583_935 + i,
            )
        )
    return out


def probe() -> float:
    """The fixed noise probe of the research notes: a 2M-iteration pure-Python loop, ms."""
    t0 = time.perf_counter()
    x = 0
    for i in range(2_000_000):
        x += i
    return (time.perf_counter() - t0) * 1e3


def timed_loop(sink: Callable[[Trade], None], trades: list[Trade]) -> float:
    gc.collect()
    t0 = time.perf_counter_ns()
    for trade in trades:
        sink(trade)
    return (time.perf_counter_ns() - t0) / len(trades)


# -- A: feed side --------------------------------------------------------------------------


def part_a(trades: list[Trade], repeats: int, folder: Path) -> None:
    def bare() -> Callable[[Trade], None]:
        held: list[Trade] = []
        return held.append

    def columns() -> Callable[[Trade], None]:
        t: list[int] = []
        p: list[float] = []
        q: list[float] = []
        m: list[bool] = []
        d: list[int] = []

        def on_trade(trade: Trade) -> None:
            t.append(trade.time)
            p.append(trade.price)
            q.append(trade.qty)
            m.append(trade.buyer_maker)
            d.append(trade.id)

        return on_trade

    def recorder() -> Callable[[Trade], None]:
        return Recorder(folder, PAIR).on_trade

    variants = {
        "bare list.append (baseline)": bare,
        "Recorder.on_trade": recorder,
        "five column appends": columns,
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, make in variants.items():
            results[name].append(timed_loop(make(), trades))
    base = statistics.median(results["bare list.append (baseline)"])
    print(
        f"\nA. feed side, {len(trades):,} trades a run, {repeats} interleaved runs "
        "(ns per trade, loop included)"
    )
    print(f"{'variant':32} {'median':>8} {'best':>8} {'ratio':>7}")
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name:32} {med:8.1f} {min(values):8.1f} {med / base:7.2f}")


# -- B: the pipeline with and without the recorder ------------------------------------------


class _NoSource:
    @property
    def status(self) -> FeedStatus:
        return FeedStatus(state="live")

    def exchange_now_ms(self) -> float | None:
        return None

    async def run(self, sink: object) -> None:
        return None


def part_b(trades: list[Trade], repeats: int, folder: Path) -> None:
    def plain() -> Callable[[Trade], None]:
        return Pipeline(Settings(), _NoSource(), PAIR).on_trade

    def recording() -> Callable[[Trade], None]:
        pipeline = Pipeline(Settings(), _NoSource(), PAIR)
        pipeline.add_trade_listener(Recorder(folder, PAIR).on_trade)
        return pipeline.on_trade

    results: dict[str, list[float]] = {"pipeline.on_trade": [], "  + recorder attached": []}
    for _ in range(repeats):
        results["pipeline.on_trade"].append(timed_loop(plain(), trades))
        results["  + recorder attached"].append(timed_loop(recording(), trades))
    base = statistics.median(results["pipeline.on_trade"])
    print(
        f"\nB. the pipeline's per-trade path, {len(trades):,} trades, {repeats} interleaved runs "
        "(ns per trade)"
    )
    print(f"{'variant':32} {'median':>8} {'best':>8} {'ratio':>7}")
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name:32} {med:8.1f} {min(values):8.1f} {med / base:7.2f}")


# -- C: one flush --------------------------------------------------------------------------


def part_c(trades: list[Trade], folder: Path) -> None:
    per_flush = 40_000  # 2 s at 20,000 trades/s
    recorder = Recorder(folder, PAIR)
    rows = []
    for k in range(0, len(trades) - per_flush + 1, per_flush):
        batch = trades[k : k + per_flush]
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        recorder._write(batch, False)  # what the worker thread runs
        rows.append(
            (k + per_flush, (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3)
        )
    recorder.close_now()
    size = sum(p.stat().st_size for p in folder.rglob("*.parquet"))
    print(
        f"\nC. one flush of {per_flush:,} trades (2 s at 20,000/s) in the writer thread, "
        f"segments of {recorder.segment_rows:,} rows; wall includes the fsync"
    )
    print(f"{'trades so far':>14} {'wall ms':>9} {'CPU ms':>8}")
    for done, wall, cpu in rows:
        print(f"{done:14,} {wall:9.1f} {cpu:8.1f}")
    mean_cpu = statistics.mean(cpu for _, _, cpu in rows)
    print(
        f"mean CPU per flush {mean_cpu:.1f} ms (all threads) = {mean_cpu / 2_000 * 100:.1f}% "
        f"of a core at 20,000 trades/s; {len(recorder.files)} files, synthetic trades "
        f"{size / len(trades):.1f} B/trade on disk"
    )
    real = _session_b()
    if real:
        recorder = Recorder(folder / "real", PAIR)
        recorder._write(real, True)
        size = sum(p.stat().st_size for p in (folder / "real").rglob("*.parquet"))
        print(f"real trades (session B, {len(real):,}): {size / len(real):.1f} B/trade on disk")


def _session_b() -> list[Trade]:
    """The real trades the tests use, if this is a checkout with its fixtures."""
    path = (
        Path(__file__).parent.parent
        / "tests"
        / "fixtures"
        / "sessionB_2024-08-08T2354Z_2024-08-09T0000Z_trade_envelopes.ndjson.gz"
    )
    if not path.exists():
        return []
    out = []
    with gzip.open(path, "rt") as lines:
        for line in lines:
            d = json.loads(line)["data"]
            out.append(Trade(d["s"], d["T"], float(d["p"]), float(d["q"]), d["m"], d["t"]))
    return out


# -- D: sustained --------------------------------------------------------------------------


class _TimedRecorder(Recorder):
    """The recorder, timing its writer thread."""

    write_walls: list[float]

    def _write(self, batch: list[Trade], final: bool) -> None:
        t0 = time.perf_counter()
        super()._write(batch, final)
        self.write_walls.append(time.perf_counter() - t0)


async def sustained(
    trades: list[Trade],
    rate: int,
    seconds: float,
    folder: Path | None,
) -> dict[str, float]:
    """Feed ``trades`` at ``rate``/s in 5 ms ticks; with a recorder when ``folder`` is given."""
    tick = 0.005
    per_tick = int(rate * tick)
    ticks = int(seconds / tick)
    recorder = None
    if folder is not None:
        recorder = _TimedRecorder(folder, PAIR, flush_seconds=2.0)
        recorder.write_walls = []
    held: list[Trade] = []
    sink: Callable[[Trade], None] = recorder.on_trade if recorder is not None else held.append
    runner = asyncio.create_task(recorder.run()) if recorder is not None else None
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    feed_ns = 0
    gc.collect()
    cpu0 = time.process_time()
    started = loop.time()
    for k in range(ticks):
        target = started + k * tick
        now = loop.time()
        if now < target:
            await asyncio.sleep(target - now)  # pacing the feed, not synchronising with it
        else:
            await asyncio.sleep(0)
        lags.append(loop.time() - target)
        chunk = trades[k * per_tick : (k + 1) * per_tick]
        t0 = time.perf_counter_ns()
        for trade in chunk:
            sink(trade)
        feed_ns += time.perf_counter_ns() - t0
    elapsed = loop.time() - started
    sent = ticks * per_tick
    cpu = (time.process_time() - cpu0) / elapsed * 100
    out = {
        "sent": sent,
        "rate": sent / elapsed,
        "feed_ns": feed_ns / sent,
        "cpu": cpu,
        "lag_p50": statistics.median(lags) * 1e3,
        "lag_p99": sorted(lags)[int(len(lags) * 0.99)] * 1e3,
        "lag_max": max(lags) * 1e3,
    }
    if recorder is not None and runner is not None:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        assert folder is not None
        on_disk = pl.scan_parquet(folder, hive_partitioning=True).select(pl.len()).collect()
        out.update(on_disk=on_disk.item(), flush_max=max(recorder.write_walls) * 1e3)
    return out


def part_d(seconds: float, root: Path) -> None:
    print(f"\nD. sustained feed, {seconds:g} s a run, 5 ms ticks, 2 s flushes in a worker thread")
    print(
        f"{'rate/s':>7} {'recorder':>9} {'achieved/s':>11} {'feed ns/trade':>14} "
        f"{'lag p50 ms':>11} {'p99 ms':>7} {'max ms':>7} {'CPU':>9} "
        f"{'flush max ms':>13} {'on disk':>9}"
    )
    for rate in (20_000, 50_000):
        trades = make_trades(int(rate * seconds) + rate, rate)
        for with_recorder in (False, True):
            folder = root / f"sustained-{rate}" if with_recorder else None
            r = asyncio.run(sustained(trades, rate, seconds, folder))
            disk = (
                f"{int(r['on_disk']):,}" + (" all" if r["on_disk"] == r["sent"] else " LOST")
                if with_recorder
                else ""
            )
            cpu = f"{r['cpu']:.0f}%"
            flush = f"{r['flush_max']:.0f}" if with_recorder else ""
            print(
                f"{rate:7,} {'yes' if with_recorder else 'no':>9} {r['rate']:11,.0f} "
                f"{r['feed_ns']:14.0f} {r['lag_p50']:11.2f} {r['lag_p99']:7.2f} "
                f"{r['lag_max']:7.2f} {cpu:>9} {flush:>13} {disk:>9}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each part D run")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved runs in A and B")
    args = parser.parse_args()
    print(f"noise probe before: {probe():.0f} ms (65-68 fast phase, 115-135 slow)")
    root = Path(tempfile.mkdtemp(prefix="bench-record-"))
    try:
        trades = make_trades(400_000, 20_000)
        part_a(trades, args.repeats, root / "a")
        part_b(trades[:200_000], max(3, args.repeats // 2), root / "b")
        part_c(trades, root / "c")
        part_d(args.seconds, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nnoise probe after: {probe():.0f} ms")


if __name__ == "__main__":
    main()
