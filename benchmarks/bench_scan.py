"""Pair scanner: every pair of 100 and 300 symbols by 1,440 bars, exact, on one core.

Goal (issue 13): all 4,950 pairs of 100 symbols in under 10 s, all 44,850 pairs of 300 symbols
in under 60 s, one core. The baseline is measured in the same run on the same bars:
statsmodels' ``coint(y, x, trend="c", autolag="aic")`` on a sample of pairs, both orderings (what
a row needs at the least; the OLS, half-life and correlation would come on top), extrapolated
per pair; and the project's own single-pair ``coint_test`` (one QR per ordering) the same way.
The sample's rows are checked against statsmodels: same lag, statistic to 1e-7 (statsmodels'
own rounding on log prices), p-value to 1e-6.

The universe is a synthetic market of 1-minute log prices: a common factor with per-symbol
loadings, idiosyncratic walks, and one planted cointegrated partner per ten symbols.

Times are CPU seconds of this process (``time.process_time``) with BLAS pinned to one thread;
other sessions share the box, so the noise probe is printed before and after. Peak memory is
the scan's peak of traced allocations (numpy's buffers included), from a separate run.

    python -m benchmarks.bench_scan [--quick]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np
from statsmodels.regression.linear_model import OLS  # type: ignore[import-untyped]
from statsmodels.tools.tools import add_constant  # type: ignore[import-untyped]
from statsmodels.tsa.stattools import adfuller, coint  # type: ignore[import-untyped]

from benchmarks.noise import probe
from pairs_tui.analytics.blas import pin_blas_to_one_thread
from pairs_tui.analytics.stationarity import coint_test
from pairs_tui.scanner import PriceMatrix, ScanResult, scan

BARS = 1_440
SAMPLE = 20


def universe(symbols: int, bars: int = BARS, seed: int = 13) -> PriceMatrix:
    """Closes of a synthetic market (see the module docstring)."""
    rng = np.random.default_rng(seed)
    market = np.cumsum(rng.normal(0.0, 8e-4, bars))
    loading = rng.uniform(0.3, 1.5, symbols)
    logs = (
        np.log(rng.uniform(0.05, 60_000.0, symbols))
        + market[:, None] * loading
        + np.cumsum(rng.normal(0.0, 6e-4, (bars, symbols)), axis=0)
    )
    for j in range(0, symbols - 1, 10):
        spread = np.zeros(bars)
        shocks = rng.normal(0.0, 4e-4, bars)
        for t in range(1, bars):
            spread[t] = 0.95 * spread[t - 1] + shocks[t]
        logs[:, j + 1] = logs[0, j + 1] + 0.8 * (logs[:, j] - logs[0, j]) + spread
    names = tuple(f"S{i:03d}USDT" for i in range(symbols))
    ts = 1_723_161_600_000 + 60_000 * np.arange(bars)
    return PriceMatrix(np.exp(logs), names, ts, "1m")


def cpu(fn: Callable[[], object], reps: int) -> tuple[float, float, object]:
    """Median and best CPU seconds of ``fn`` over ``reps`` runs, and its last result."""
    times, out = [], None
    for _ in range(reps):
        start = time.process_time()
        out = fn()
        times.append(time.process_time() - start)
    return statistics.median(times), min(times), out


def peak_mb(fn: Callable[[], object]) -> float:
    """Peak traced memory of ``fn``, MB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def baseline(prices: PriceMatrix, pairs: list[tuple[int, int]]) -> tuple[float, float]:
    """CPU seconds per pair (both orderings) of statsmodels' ``coint`` and of ``coint_test``."""
    logs = np.log(prices.closes)

    def statsmodels_pairs() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for a, b in pairs:
                coint(logs[:, a], logs[:, b], trend="c", autolag="aic")
                coint(logs[:, b], logs[:, a], trend="c", autolag="aic")

    def project_pairs() -> None:
        for a, b in pairs:
            coint_test(logs[:, a], logs[:, b])
            coint_test(logs[:, b], logs[:, a])

    sm, _, _ = cpu(statsmodels_pairs, 1)
    own, _, _ = cpu(project_pairs, 1)
    return sm / len(pairs), own / len(pairs)


def check(prices: PriceMatrix, result: ScanResult, pairs: list[tuple[int, int]]) -> str:
    """The sample's rows against statsmodels: lags equal, statistic and p-value close."""
    logs = np.log(prices.closes)
    by_pair = {frozenset((r.symbol_a, r.symbol_b)): r for r in result.rows}
    worst = 0.0
    for a, b in pairs:
        r = by_pair[frozenset((prices.symbols[a], prices.symbols[b]))]
        y = logs[:, prices.symbols.index(r.symbol_a)]
        x = logs[:, prices.symbols.index(r.symbol_b)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stat, p, _ = coint(y, x, trend="c", autolag="aic")
            resid = OLS(y, add_constant(x, prepend=False)).fit().resid
            lags = adfuller(resid, autolag="aic", regression="n", result_object=False)[2]
        if lags != r.coint_lags or not math.isclose(r.coint_p, p, rel_tol=1e-6):
            return f"NO ({r.symbol_a}/{r.symbol_b})"
        worst = max(worst, abs(r.coint_t - stat) / abs(stat))
    return f"yes (statistic within {worst:.0e} of statsmodels)" if worst < 1e-7 else "NO"


def row(symbols: int, reps: int) -> list[str]:
    prices = universe(symbols)
    n_pairs = symbols * (symbols - 1) // 2
    med, best, out = cpu(lambda: scan(prices), reps)
    assert isinstance(out, ScanResult)
    rng = np.random.default_rng(symbols)
    pairs = [
        (int(a), int(b)) for a, b in (rng.choice(symbols, 2, replace=False) for _ in range(SAMPLE))
    ]
    sm_pair, own_pair = baseline(prices, pairs)
    mem = peak_mb(lambda: scan(prices))
    return [
        f"{symbols} x {BARS:,}",
        f"{n_pairs:,}",
        f"{med:.2f} / {best:.2f}",
        f"{n_pairs / med:,.0f}",
        f"{sm_pair * 1e3:.1f}",
        f"{sm_pair * n_pairs:,.0f}",
        f"{sm_pair * n_pairs / med:,.0f}x",
        f"{own_pair * n_pairs:,.0f}",
        f"{own_pair * n_pairs / med:,.0f}x",
        f"{out.exact_orderings}",
        f"{mem:,.0f}",
        check(prices, out, pairs),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 symbols only, one repetition")
    args = parser.parse_args()
    how = pin_blas_to_one_thread()
    scan(universe(10, 200))  # imports (statsmodels, scipy) outside the timings
    print(f"noise probe before: {probe():.0f} ms (about 65 quiet, 115-135 shared)")
    print(f"\n## Every pair, exact (CPU s; median / best; BLAS: one thread via {how})\n")
    print(
        "| universe | pairs | scan | pairs/s | statsmodels coint, ms/pair (both orderings)"
        " | statsmodels, all pairs (s) | speed-up | coint_test, all pairs (s) | speed-up"
        " | orderings sent to statsmodels | peak MB | sample equals statsmodels |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for symbols, reps in ((100, 1 if args.quick else 3),) + (() if args.quick else ((300, 2),)):
        print("| " + " | ".join(row(symbols, reps)) + " |", flush=True)
    print(f"\nnoise probe after: {probe():.0f} ms")


if __name__ == "__main__":
    main()
