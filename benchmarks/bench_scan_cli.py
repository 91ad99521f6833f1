"""``pairs-tui scan`` end to end: universe, history, scan, funding, against the embedded exchange.

The path a user's ``pairs-tui scan --top 100`` takes (:func:`pairs_tui.scanner.run.run_scan`),
in this process, over a real socket to the embedded exchange on loopback, whose simulated
universe is widened to 100 USDT perpetuals (the 13 of known structure and independent walks):

* cold: an empty history store, so every symbol's 1,440 1m bars come as klines (3 pages each);
* warm: the same scan again, every bar from the store (no kline request);
* baseline, same run: :func:`pairs_tui.scanner.scan_store` alone on the warm store (the engine
  without the exchange), so ``warm / baseline`` is what the universe, the store check and the
  funding rates add.

Wall-clock seconds (the exchange serves from the same process and cores); the noise probe is
printed before and after.

    python -m benchmarks.bench_scan_cli [--symbols N] [--bars N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.noise import probe
from pairs_tui.analytics.blas import pin_blas_to_one_thread
from pairs_tui.exchange.market import simulated_market
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.universe import UNIVERSE
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.history import HistoryStore
from pairs_tui.scanner import scan_store
from pairs_tui.scanner.run import ScanReport, ScanRequest, run_scan

START_MS = 1_764_892_800_000


async def one_run(symbols: int, bars: int) -> tuple[float, float, float, int, ScanReport]:
    extra = [f"X{i:03d}USDT" for i in range(symbols - len(UNIVERSE))]
    market = simulated_market(extra, start_ms=START_MS, past_s=bars * 60 + 600, duration_s=1.0)
    request = ScanRequest(top=symbols, bars=bars)
    with tempfile.TemporaryDirectory() as folder:
        store = HistoryStore(Path(folder))
        async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as ex:
            await asyncio.wait_for(ex.finished.wait(), 60)
            rest = BinanceRest(ex.rest_url)
            try:
                started = time.perf_counter()
                await run_scan(rest, store, request)
                cold = time.perf_counter() - started
                klines = sum(c.path == "/fapi/v1/klines" for c in ex.rest_calls)
                started = time.perf_counter()
                report = await run_scan(rest, store, request)
                warm = time.perf_counter() - started
            finally:
                await rest.aclose()
        started = time.perf_counter()
        scan_store(store.root, report.universe, "1m", bars, end=report.end_ms)
        engine = time.perf_counter() - started
    return cold, warm, engine, klines, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--bars", type=int, default=1_440)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pin_blas_to_one_thread()
    print(f"noise probe before: {probe():.0f} ms")
    colds, warms, engines = [], [], []
    for _ in range(args.runs):
        cold, warm, engine, klines, report = asyncio.run(one_run(args.symbols, args.bars))
        colds.append(cold)
        warms.append(warm)
        engines.append(engine)
    pairs = report.result.pairs
    print(f"universe {len(report.universe)} symbols x {args.bars} 1m bars, {pairs:,} pairs")
    print(f"kline requests, cold store: {klines}; warm store: 0")
    for name, values in (("cold", colds), ("warm", warms), ("engine alone", engines)):
        print(f"{name:>13}: {statistics.median(values):6.2f} s median ({min(values):.2f} best)")
    print(
        f"warm / engine alone: {statistics.median(warms) / statistics.median(engines):.2f}; "
        f"cold / warm: {statistics.median(colds) / statistics.median(warms):.2f}"
    )
    print(f"noise probe after: {probe():.0f} ms")


if __name__ == "__main__":
    main()
