"""Reliability: faults injected, recovered, trades lost, for RELIABILITY.md.

Two soaks of the real client and pipeline against the embedded exchange over loopback (see
``tests/faults/soak.py``):

1. accelerated: hours of exchange time at 150x with every kind of fault in turn, every 2 s;
2. real time: the faults that silence a stream, at 1x with a 2 s watchdog, because what they
   cost in late trades depends on the watchdog in real seconds, which acceleration hides.

    python -m benchmarks.bench_reliability [--wall SECONDS] [--speed X] [--every SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from faults.soak import soak, summary, table


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wall", type=float, default=90.0, help="accelerated soak, seconds")
    parser.add_argument("--speed", type=float, default=150.0, help="exchange time per second")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between faults")
    parser.add_argument("--real-wall", type=float, default=45.0, help="real-time soak, seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    print(f"## Accelerated: {args.wall:g} s at {args.speed:g}x, a fault every {args.every:g} s")
    report = asyncio.run(soak(args.wall, args.speed, args.every))
    print(table(report))
    print(summary(report))
    ok = report.alive and report.accounted

    silences = [
        "abrupt drop (TCP reset)",
        "stalled stream",
        "silent acknowledged stream",
        "frozen connection",
    ]
    print(f"\n## Real time: {args.real_wall:g} s at 1x, watchdog 2 s, silences of 3 s")
    real = asyncio.run(soak(args.real_wall, 1.0, 6.0, watchdog_s=2.0, fault_s=3.0, faults=silences))
    print(table(real))
    print(summary(real))
    ok = ok and real.alive and real.accounted
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
