"""The Dask engine gives the local engine's result, bit for bit, from a matrix or the store."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pairs_tui.scanner import PriceMatrix, scan
from pairs_tui.scanner.engine import scan_store
from scanner import reference
from scanner.store_fixture import ms, write_symbol

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """Two single-threaded workers in this process: quick to start, real task scheduling."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def awkward_universe() -> PriceMatrix:
    """Every kind of pair: planted cointegration, a late listing, a flat leg, a collinear pair,
    a pair with too few common bars, across more than one tile (block of 64 symbols)."""
    rng = np.random.default_rng(21)
    n = 400
    logs = np.column_stack([reference.walk(rng, n, 5.0 + i) for i in range(70)])
    logs[:, 1] = 0.6 * logs[:, 0] + reference.ar1(rng, n, 0.9, 5e-4)
    logs[:, 2] = math.log(3.0)
    logs[:, 3] = 2.0 * logs[:, 4] + 1.0
    closes = np.exp(logs)
    closes[:150, 5] = np.nan
    closes[:370, 6] = np.nan
    names = tuple(f"S{i:02d}USDT" for i in range(70))
    return PriceMatrix(closes, names, reference.T0 + 60_000 * np.arange(n), "1m")


def test_dask_equals_local(scheduler: str) -> None:
    prices = awkward_universe()
    local = scan(prices)
    on_cluster = scan(prices, engine="dask", scheduler=scheduler)
    assert on_cluster == local  # every row, every float, the left-out pairs, the counts
    reasons = {x.reason for x in local.left_out}
    assert reasons == {"flat leg", "collinear", "too few bars"}
    assert len(local.rows) + len(local.left_out) == local.pairs == 70 * 69 // 2


def test_dask_reports_progress_to_the_total(scheduler: str) -> None:
    seen: list[tuple[int, int]] = []
    result = scan(
        awkward_universe(),
        engine="dask",
        scheduler=scheduler,
        progress=lambda done, total: seen.append((done, total)),
    )
    tested = len(result.rows) + sum(x.reason == "collinear" for x in result.left_out)
    assert len(seen) >= 3  # one call per tile: 70 symbols make 3 tiles
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (tested, tested)


def test_workers_read_the_store_and_agree_with_local(scheduler: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    grid = ms("2024-08-08T23:00") + 60_000 * np.arange(180)
    base = np.cumsum(rng.normal(0.0, 1e-3, 180))
    for i, name in enumerate(["AUSDT", "BUSDT", "CUSDT", "DUSDT"]):
        closes = 10.0 * (i + 1) * np.exp(base * (i % 2) + np.cumsum(rng.normal(0.0, 1e-3, 180)))
        start = 40 if name == "DUSDT" else 0
        write_symbol(tmp_path, name, "1m", grid[start:], closes[start:])
    symbols = ["AUSDT", "BUSDT", "CUSDT", "DUSDT"]
    local = scan_store(tmp_path, symbols, "1m", 150)
    on_cluster = scan_store(tmp_path, symbols, "1m", 150, engine="dask", scheduler=scheduler)
    assert on_cluster == local
    assert len(local.rows) == 6 and {r.bars for r in local.rows} == {150, 140}


def test_without_dask_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    prices = reference.matrix(np.zeros((60, 2)) + np.arange(60)[:, None] * [1e-3, 2e-3], ["A", "B"])
    with pytest.raises(ImportError, match=r'pip install "pairs-tui\[cluster\]"'):
        scan(prices, engine="dask")


def test_no_address_starts_a_local_cluster() -> None:
    """``--engine dask`` without ``--scheduler``: a local cluster of worker processes."""
    prices = reference.mixed_universe(200, seed=9)
    done: list[Any] = []
    result = scan(prices, engine="dask", progress=lambda d, t: done.append((d, t)))
    assert result == scan(prices)
    assert done[-1] == (15, 15)
