"""The warm start: how soon ``--demo`` shows a z-score, and after pressing ``2`` and ``3``.

Goal (issue 12): a z-score within 3 s of start at 1s bars, and within 2 s of pressing ``2`` and
``3``. Without history the first z-score needs a full window: 300 bars, 5 minutes at 1s.

The app runs in this process under Textual's headless driver (``App.run_test``, 100x30), with
the embedded exchange and its hours of history, an empty history store each time, timed from
the app's start to the moment its snapshot holds a z-score (its next refresh draws it). The
baseline, in the same run and harness: the same app with ``--no-history``, timed to its first
price of both legs — the least a live screen can wait for.

    python -m benchmarks.bench_warm [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from textual.pilot import Pilot

from benchmarks.noise import probe
from pairs_tui.cli import parse_options
from pairs_tui.ui.app import PairsApp
from pairs_tui.ui.run import make_app


async def _until(pilot: Pilot[None], holds: Callable[[], bool]) -> None:
    async with asyncio.timeout(60):
        while not holds():
            await pilot.pause(0.01)


def _zscore(app: PairsApp, timeframe: str) -> bool:
    snap = app.snapshot()
    latest = snap.latest
    return snap.timeframe == timeframe and latest is not None and latest.stats.zscore is not None


def _prices(app: PairsApp) -> bool:
    return all(q is not None for q in app.snapshot().quotes)


async def _once(history: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        os.environ["XDG_CACHE_HOME"] = os.path.join(folder, "cache")
        os.environ["XDG_STATE_HOME"] = os.path.join(folder, "state")
        args = ["--demo"] if history else ["--demo", "--no-history"]
        started = time.perf_counter()
        app = make_app(parse_options(args))
        out: dict[str, float] = {}
        async with app.run_test(size=(100, 30)) as pilot:
            if not history:
                await _until(pilot, lambda: _prices(app))
                out["prices"] = time.perf_counter() - started
                return out
            await _until(pilot, lambda: _zscore(app, "1s"))
            out["z 1s"] = time.perf_counter() - started
            for key, timeframe in (("2", "1m"), ("3", "5m")):
                pressed = time.perf_counter()
                await pilot.press(key)
                await _until(pilot, lambda tf=timeframe: _zscore(app, tf))
                out[f"z {timeframe} after key"] = time.perf_counter() - pressed
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    print(f"noise probe: {probe():.0f} ms")
    runs: dict[str, list[float]] = {}
    for _ in range(repeats):  # interleaved: the same machine load for both
        for history in (False, True):
            for name, seconds in asyncio.run(_once(history)).items():
                runs.setdefault(name, []).append(seconds)
    base = statistics.median(runs["prices"])
    print(f"{'measure':<22} {'median s':>9} {'best s':>8} {'/ baseline':>11}   goal")
    goals = {"z 1s": 3.0, "z 1m after key": 2.0, "z 5m after key": 2.0}
    for name, values in runs.items():
        median = statistics.median(values)
        goal = goals.get(name)
        verdict = "" if goal is None else f"< {goal:g} s {'met' if median < goal else 'MISSED'}"
        label = "prices (baseline)" if name == "prices" else name
        print(f"{label:<22} {median:>9.3f} {min(values):>8.3f} {median / base:>11.2f}   {verdict}")
    print(f"without history the first z-score at 1s needs 300 bars: 300 s ({300 / base:.0f}x)")


if __name__ == "__main__":
    main()
