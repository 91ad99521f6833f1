"""Rank every pair of a universe by Engle-Granger cointegration, exactly and fast.

:func:`scan` tests both orderings of every unordered pair of a :class:`PriceMatrix` and reports
each pair in the ordering with the lower p-value, ranked by p-value, then half-life. Every field
is what statsmodels and numpy give for that pair (``coint(y, x, trend="c", autolag="AIC")``,
OLS, the monitor's half-life); the speed comes from computing them for all pairs at once from
cross moments (:mod:`pairs_tui.scanner.moments`), 100 symbols by 1,440 bars in about a second
on one core, where statsmodels takes ~60 ms a pair.

The work is cut into tiles (:class:`~pairs_tui.scanner.tile.Tile`): pairs that share a common
sample, between two blocks of :data:`~pairs_tui.scanner.plan.BLOCK` symbols. The local engine
runs them in turn; the Dask engine (:mod:`pairs_tui.scanner.cluster`) runs the same tiles on a
cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pairs_tui.records import PriceMode
from pairs_tui.scanner.plan import (
    MIN_BARS,
    Progress,
    assemble,
    plan_scan,
    price_levels,
    run_local,
)
from pairs_tui.scanner.prices import PriceMatrix
from pairs_tui.scanner.rows import ScanResult
from pairs_tui.scanner.screen import screen_plan
from pairs_tui.scanner.store import StorageOptions, read_closes

Engine = Literal["local", "dask"]
"""Where the tiles run: in this process, or on a Dask cluster."""


def scan(
    prices: PriceMatrix,
    *,
    price: PriceMode = "log",
    min_bars: int = MIN_BARS,
    engine: Engine = "local",
    scheduler: str | None = None,
    progress: Progress | None = None,
    screen: int | None = None,
) -> ScanResult:
    """Test every pair of the universe, both orderings, and rank them.

    Args:
        prices: The universe's closes on one grid of bars.
        price: ``"log"`` to test ``ln close`` (the default, as ``[analytics] price``), or
            ``"raw"``.
        min_bars: Fewest common bars (both legs present) for a pair to be tested; at least
            :data:`MIN_BARS_FLOOR`.
        engine: ``"local"`` (this process) or ``"dask"`` (needs ``pairs-tui[cluster]``).
        scheduler: Dask scheduler address for ``engine="dask"``; None starts a local cluster.
        progress: Called with ``(pairs_done, pairs_total)`` as tiles finish.
        screen: Test exactly only this many pairs, the best by a cheap statistic
            (:mod:`pairs_tui.scanner.screen`); the rest are left out as ``"screened out"``.
            None (the default) tests every pair.

    Returns:
        Ranked rows, and the pairs left out with their reasons.

    Raises:
        ValueError: On a bad ``price``, ``min_bars`` or ``engine``.
        ImportError: For ``engine="dask"`` without Dask installed (names the extra).
    """
    _check(price, engine)
    levels, log_levels = price_levels(prices, price)
    plan = plan_scan(prices, min_bars=min_bars)
    if screen is not None:
        plan = screen_plan(plan, levels, screen, prices.symbols)
    if engine == "dask":
        from pairs_tui.scanner.cluster import run_tiles

        results = run_tiles(levels, log_levels, plan.tiles, scheduler=scheduler, progress=progress)
    else:
        results = run_local(levels, log_levels, plan.tiles, progress=progress)
    return assemble(prices.symbols, prices.ts, prices.timeframe, price, plan, results)


def scan_store(
    root: str | Path,
    symbols: Sequence[str],
    timeframe: str,
    bars: int,
    *,
    end: int | None = None,
    price: PriceMode = "log",
    min_bars: int = MIN_BARS,
    engine: Engine = "local",
    scheduler: str | None = None,
    storage_options: StorageOptions = None,
    progress: Progress | None = None,
    screen: int | None = None,
) -> ScanResult:
    """Scan the last ``bars`` bars of a universe, read from the history store.

    With ``engine="local"`` this process reads the store
    (:func:`~pairs_tui.scanner.store.read_closes`); with ``engine="dask"`` the workers read it,
    one task per symbol, and the bars never pass through this process. Same rows either way.

    Args:
        root: The store's root folder or URL (``s3://bucket/history``; URLs need fsspec, in
            ``pairs-tui[cluster]``).
        symbols: The universe, upper case.
        timeframe: Bar timeframe, e.g. ``"1m"``.
        bars: Bars per symbol: the last ones before ``end``.
        end: Exclusive upper bound on bar starts (ms UTC); None for all that is stored.
        price: ``"log"`` or ``"raw"``.
        min_bars: Fewest common bars for a pair to be tested.
        engine: ``"local"`` or ``"dask"``.
        scheduler: Dask scheduler address for ``engine="dask"``; None starts a local cluster.
        storage_options: fsspec options for a URL root (credentials, endpoint).
        progress: Called with ``(pairs_done, pairs_total)`` as tiles finish.
        screen: Test exactly only this many pairs (see :func:`scan`); None tests them all.

    Returns:
        The scan's result.

    Raises:
        ValueError: If no symbol has bars in the store, or on a bad argument.
        ImportError: For ``engine="dask"`` or a URL root without the cluster extra.
    """
    if engine == "dask":
        _check(price, engine)
        from pairs_tui.scanner.cluster import scan_store_on_cluster

        return scan_store_on_cluster(
            str(root),
            symbols,
            timeframe,
            bars,
            end=end,
            price=price,
            min_bars=min_bars,
            scheduler=scheduler,
            storage_options=storage_options,
            progress=progress,
            screen=screen,
        )
    prices = read_closes(root, symbols, timeframe, bars, end=end, storage_options=storage_options)
    return scan(
        prices, price=price, min_bars=min_bars, engine=engine, progress=progress, screen=screen
    )


def _check(price: str, engine: str) -> None:
    if price not in ("log", "raw"):
        raise ValueError(f"price must be 'log' or 'raw', not {price!r}")
    if engine not in ("local", "dask"):
        raise ValueError(f"engine must be 'local' or 'dask', not {engine!r}")
