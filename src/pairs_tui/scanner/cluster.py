"""The scan on a Dask cluster: the local engine's tiles, run by workers.

Needs the cluster extra: ``pip install "pairs-tui[cluster]"``; nothing imports Dask until then.

Why tiles of pairs and not time partitions: a pair's test needs its whole common sample (its own
start and end, its own maximal lag, its near-tie lags re-decided by statsmodels on the raw
series), so summing per-day moments would still leave edge terms at every day boundary, samples
that differ by pair, and a different order of summation from the local engine, hence results
equal only to rounding. Mapping the local engine's own tiles over a matrix every worker holds
gives the same bits as the local engine, by construction. The matrix is small next to the work:
300 symbols by 1,440 bars is 3.5 MB, moved once to each worker, while the tests cost
``O(pairs·K²)``. (A store too large for one worker's memory, a year of 1 s bars, would need the
time-partitioned moments; the lag search at ``K`` in the hundreds is then a different problem.)

:func:`scan_store_on_cluster` reads the history store on the workers themselves, one task per
symbol, so the bars never pass through the client; the store must then be reachable from the
workers (``s3://`` or a shared folder). Workers run this package's functions: they need the same
pairs-tui installed (with its cluster extra, for fsspec).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from pairs_tui.records import PriceMode
from pairs_tui.scanner.plan import Progress, assemble, plan_scan, price_levels
from pairs_tui.scanner.prices import PriceMatrix
from pairs_tui.scanner.rows import ScanResult
from pairs_tui.scanner.screen import screen_plan
from pairs_tui.scanner.store import StorageOptions, align, grid_for, latest_bar, symbol_bars
from pairs_tui.scanner.tile import Tile, TileResult, scan_tile

INSTALL_HINT = 'the Dask engine needs the cluster extra: pip install "pairs-tui[cluster]"'


def run_tiles(
    levels: np.ndarray,
    log_levels: np.ndarray,
    tiles: list[Tile],
    *,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[TileResult]:
    """Run the tiles on a Dask cluster, the matrix broadcast to every worker.

    Args:
        levels: The matrix as tested.
        log_levels: The same in log prices (the same array in log mode).
        tiles: The plan's tiles.
        scheduler: The scheduler's address; None starts a local cluster for this call.
        progress: Called with ``(pairs_done, pairs_total)`` as tiles finish.

    Returns:
        One result per tile, in the tiles' order.

    Raises:
        ImportError: Without Dask (naming the extra to install).
    """
    with _client(scheduler) as client:
        same = log_levels is levels
        levels_f = client.scatter(levels, broadcast=True)
        logs_f = levels_f if same else client.scatter(log_levels, broadcast=True)
        return _gather_tiles(client, levels_f, logs_f, tiles, progress)


def scan_store_on_cluster(
    root: str,
    symbols: Sequence[str],
    timeframe: str,
    bars: int,
    *,
    end: int | None,
    price: PriceMode,
    min_bars: int,
    scheduler: str | None,
    storage_options: StorageOptions,
    progress: Progress | None,
    screen: int | None = None,
) -> ScanResult:
    """:func:`~pairs_tui.scanner.engine.scan_store` on a cluster: the workers read the store.

    One task per symbol finds its last bar, one per symbol reads its bars on the grid, one
    aligns them into the matrix, which stays on the workers; the client only plans and ranks.
    The same functions run in the same order as in :func:`~pairs_tui.scanner.store.read_closes`,
    so the matrix, the plan and the rows are those of the local engine.

    Args:
        root: The store's root folder or URL, reachable from the workers.
        symbols: The universe, upper case.
        timeframe: Bar timeframe.
        bars: Bars per symbol.
        end: Exclusive upper bound on bar starts (ms UTC), or None.
        price: ``"log"`` or ``"raw"``.
        min_bars: Fewest common bars for a pair to be tested.
        scheduler: Dask scheduler address; None starts a local cluster.
        storage_options: fsspec options for a URL root.
        progress: Called with ``(pairs_done, pairs_total)`` as tiles finish.
        screen: Test exactly only this many pairs (:mod:`pairs_tui.scanner.screen`), screened
            on the workers; None tests them all.

    Returns:
        The scan's result.

    Raises:
        ImportError: Without Dask.
    """
    with _client(scheduler) as client:
        ends = client.gather(
            [
                client.submit(
                    latest_bar, root, s, timeframe, end=end, storage_options=storage_options
                )
                for s in symbols
            ]
        )
        grid = grid_for(symbols, ends, timeframe, bars, root)
        series = [
            client.submit(
                symbol_bars,
                root,
                s,
                timeframe,
                start=int(grid[0]),
                end=int(grid[-1]) + 1,
                storage_options=storage_options,
                pure=False,
            )
            for s in symbols
        ]
        closes_f = client.submit(align, grid, series)
        prices_f = client.submit(PriceMatrix, closes_f, tuple(symbols), grid, timeframe)
        plan = client.submit(plan_scan, prices_f, min_bars=min_bars).result()
        levels_f = client.submit(_levels, prices_f, price)
        logs_f = client.submit(_log_levels, prices_f, price)
        if screen is not None:
            plan = client.submit(screen_plan, plan, levels_f, screen, tuple(symbols)).result()
        results = _gather_tiles(client, levels_f, logs_f, plan.tiles, progress)
        return assemble(tuple(symbols), grid, timeframe, price, plan, results)


def _levels(prices: PriceMatrix, price: PriceMode) -> np.ndarray:
    return price_levels(prices, price)[0]


def _log_levels(prices: PriceMatrix, price: PriceMode) -> np.ndarray:
    return price_levels(prices, price)[1]


def _gather_tiles(
    client: Any, levels_f: Any, logs_f: Any, tiles: list[Tile], progress: Progress | None
) -> list[TileResult]:
    import distributed

    as_completed: Any = distributed.as_completed
    futures = [client.submit(scan_tile, levels_f, logs_f, tile, pure=False) for tile in tiles]
    position = {f.key: i for i, f in enumerate(futures)}
    results: list[TileResult | None] = [None] * len(tiles)
    total = sum(len(t.pairs) for t in tiles)
    done = 0
    for future in as_completed(futures):
        i = position[future.key]
        results[i] = future.result()
        done += len(tiles[i].pairs)
        if progress is not None:
            progress(done, total)
    return [r for r in results if r is not None]


@contextmanager
def _client(scheduler: str | None) -> Iterator[Any]:
    """A client of the given scheduler, or of a local cluster started (and closed) here."""
    try:
        import distributed
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    # distributed has no type hints for these: typed as Any, once, here.
    client_type: Any = distributed.Client
    cluster_type: Any = distributed.LocalCluster
    if scheduler is not None:
        with client_type(scheduler) as client:
            yield client
        return
    # One single-threaded worker process per core: BLAS threads would only fight each other.
    workers = max(1, os.cpu_count() or 1)
    with (
        cluster_type(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        client_type(cluster) as client,
    ):
        client.run(_pin_blas)
        yield client


def _pin_blas() -> str:
    from pairs_tui.analytics.blas import pin_blas_to_one_thread

    return pin_blas_to_one_thread()
