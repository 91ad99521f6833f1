"""Run every benchmark, one process each, and print their tables: ``python -m benchmarks``.

``python -m benchmarks analytics replay`` runs only the named ones. Each benchmark is a separate
process so that one's memory and threads do not colour another's figures.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    chosen = [n for n in names if not argv or n in argv]
    unknown = sorted(set(argv) - set(names))
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}", file=sys.stderr
        )
        return 2
    failed = []
    for name in chosen:
        print(f"\n=== {name} " + "=" * (70 - len(name)), flush=True)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.bench_{name}"], cwd=HERE.parent, check=False
        )
        print(
            f"--- {name}: {time.perf_counter() - started:.1f} s, exit {done.returncode}", flush=True
        )
        if done.returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
