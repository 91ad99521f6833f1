"""Start-up: ``pairs-tui --help`` against a bare ``python -c pass`` in the same run.

Goal (issue 7): ``--help`` under 0.3 s. Each command runs 7 times, interleaved; the table shows
the median and the best.

    python -m benchmarks.bench_startup
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "python -c 'import textual' (reference)": [sys.executable, "-c", "import textual.app"],
    "pairs-tui --help": [sys.executable, "-m", "pairs_tui", "--help"],
}


def main() -> None:
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(7):
        for name, argv in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"{'command':<42}{'median ms':>10}{'best ms':>10}{'x baseline':>12}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<42}{median * 1e3:>10.0f}{min(samples) * 1e3:>10.0f}{median / base:>12.1f}")


if __name__ == "__main__":
    main()
