"""``--sweep``: the wall time of a grid on one process against the pool of every core.

The bars: a seeded cointegrated pair of 1m bars (log A = log B + an AR(1) spread, B a random
walk), loaded once, as ``--backtest --sweep`` has them after the replay or the history. The grid:
``window=60,120,300,600 entry_z=1,1.5,2,2.5 exit_z=0,0.5`` (32 combinations, 4 analytics
settings). The same sweep runs with ``processes=1`` (this process) and with one spawned worker
per core, interleaved run by run; both print the same lines (checked). Figures: the median and
best wall time of each, and their ratio per run (the baseline: the one-process sweep of the same
run), and the CPU time each took, workers included (what the pool costs on top of the work,
whatever the box's load).

    python -m benchmarks.bench_sweep [--bars N] [--repeats R]
"""

from __future__ import annotations

import argparse
import io
import math
import resource
import statistics
import time

import numpy as np

from benchmarks.noise import probe
from pairs_tui.backtest.grid import parse_grid
from pairs_tui.backtest.history import ResearchBars
from pairs_tui.backtest.sweep import available_cores, run_sweep
from pairs_tui.config import Options, Settings
from pairs_tui.records import Bar, PairBar

GRID = ["window=60,120,300,600", "entry_z=1,1.5,2,2.5", "exit_z=0,0.5"]


def bars(n: int) -> ResearchBars:
    rng = np.random.default_rng(7)
    log_b = math.log(2_600.0) + np.cumsum(rng.normal(0.0, 0.0008, n))
    spread = np.zeros(n)
    shocks = rng.normal(0.0, 0.0004, n)
    for i in range(1, n):
        spread[i] = 0.97 * spread[i - 1] + shocks[i]
    log_a = math.log(60_000.0) - 0.9 * math.log(2_600.0) + 0.9 * log_b + spread
    pair = [
        PairBar(i * 60_000, Bar.flat(math.exp(a)), Bar.flat(math.exp(b)))
        for i, (a, b) in enumerate(zip(log_a.tolist(), log_b.tolist(), strict=True))
    ]
    return ResearchBars(("BTCUSDT", "ETHUSDT"), "1m", pair)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    research = bars(args.bars)
    options = Options(settings=Settings(), symbols=research.symbols, window=300)
    grid = parse_grid(GRID)
    cores = available_cores()
    print(f"noise probe before: {probe():.0f} ms")
    print(f"{args.bars:,} 1m bars, {grid.size} combinations, {cores} core(s)")
    times: dict[int, list[float]] = {1: [], cores: []}
    cpu: dict[int, list[float]] = {1: [], cores: []}
    ratios = []
    for _ in range(args.repeats):
        outs = {}
        for processes in (1, cores):
            out = io.StringIO()
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            own = time.process_time()
            started = time.perf_counter()
            run_sweep(research, options, grid, out=out, processes=processes)
            times[processes].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            workers = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
            cpu[processes].append(time.process_time() - own + workers)
            outs[processes] = out.getvalue()
        assert outs[1] == outs[cores], "the pool printed other lines"
        ratios.append(times[1][-1] / times[cores][-1])
    for processes, taken in times.items():
        print(
            f"  {processes} process(es): median {statistics.median(taken):.2f} s, "
            f"best {min(taken):.2f} s wall; CPU (workers included) median "
            f"{statistics.median(cpu[processes]):.2f} s"
        )
    print(
        f"  speed-up of {cores} processes over 1: median {statistics.median(ratios):.2f}x "
        f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(f"noise probe after: {probe():.0f} ms")


if __name__ == "__main__":
    main()
