"""The research notes' noise probe, shared by the benchmarks that print it.

A fixed pure-Python loop whose time shows the phase the host is in: about 65 ms when the box is
quiet, 115 to 135 ms (or worse) when another session shares it. A figure taken while the probe
reads high is not comparable with one taken in a quiet phase; ratios within one interleaved run
still are.
"""

from __future__ import annotations

import time


def probe() -> float:
    """Milliseconds taken by a 2M-iteration pure-Python loop."""
    started = time.perf_counter()
    x = 0
    for i in range(2_000_000):
        x += i
    return (time.perf_counter() - started) * 1e3
