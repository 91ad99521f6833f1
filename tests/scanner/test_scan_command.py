"""``pairs-tui scan`` as a user runs it: a subprocess against the embedded exchange's simulated
universe over a real socket (ETHUSDT~BTCUSDT, SOLUSDT~AVAXUSDT, ADAUSDT~DOTUSDT and
LTCUSDT~BCHUSDT cointegrated, the rest independent walks)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
from statsmodels.tsa.stattools import coint

from pairs_tui.exchange.market import simulated_market
from pairs_tui.exchange.server import EmbeddedExchange

START_MS = 1_764_892_800_000  # 2025-12-05T00:00Z: where the simulated past ends
KNOWN = [
    {"ETHUSDT", "BTCUSDT"},
    {"SOLUSDT", "AVAXUSDT"},
    {"ADAUSDT", "DOTUSDT"},
    {"LTCUSDT", "BCHUSDT"},
]


@dataclass
class Run:
    code: int
    out: str
    err: str

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


@pytest.fixture
async def ex() -> AsyncIterator[EmbeddedExchange]:
    """The simulated universe with 25 hours of past, its clock stopped at the past's end."""
    market = simulated_market(start_ms=START_MS, past_s=25 * 3_600, duration_s=1.0)
    async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as exchange:
        await asyncio.wait_for(exchange.finished.wait(), 20)
        yield exchange


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[history]\nfolder = "{tmp_path / "history"}"\n')
    return path


async def scan(ex: EmbeddedExchange, config: Path, *args: str) -> Run:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pairs_tui",
        "scan",
        *args,
        "--rest-url",
        ex.rest_url,
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    out, err = await child.communicate()
    assert child.returncode is not None
    return Run(child.returncode, out.decode(), err.decode())


def kline_requests(ex: EmbeddedExchange) -> int:
    return sum(call.path == "/fapi/v1/klines" for call in ex.rest_calls)


async def test_json_ranks_the_cointegrated_pairs_first(ex: EmbeddedExchange, config: Path) -> None:
    universe = [s for pair in KNOWN for s in sorted(pair)] + ["BNBUSDT", "XRPUSDT"]
    run = await scan(ex, config, *universe, "--json", "--bars", "1440")
    assert run.code == 0, run.err
    rows = run.rows()
    assert len(rows) == 45 and [r["rank"] for r in rows] == list(range(1, 46))
    top = [{r["symbol_a"], r["symbol_b"]} for r in rows[:4]]
    assert sorted(map(sorted, top)) == sorted(map(sorted, KNOWN))
    assert all(r["coint_p"] < 0.01 for r in rows[:4])
    assert rows[4]["coint_p"] > 0.05
    assert [r["coint_p"] for r in rows] == sorted(r["coint_p"] for r in rows)
    first = rows[0]
    assert (first["symbol_a"], first["symbol_b"]) == ("ETHUSDT", "BTCUSDT")
    assert first["bars"] == 1440 and first["timeframe"] == "1m" and first["price"] == "log"
    assert first["end_ts"] - first["start_ts"] == 1439 * 60_000
    assert first["end_ts"] < START_MS  # closed bars only
    assert isinstance(first["carry_bp_day"], float)
    assert "45 pairs ranked of 45 (10 symbols)" in run.err
    assert "pairs 45/45" in run.err


async def test_every_row_equals_statsmodels_on_the_same_klines(config: Path) -> None:
    """Symbols the scanner has never seen (the exchange lists them as independent walks)."""
    unseen = ["QRSUSDT", "KLMUSDT"]
    market = simulated_market(unseen, start_ms=START_MS, past_s=6 * 3_600, duration_s=1.0)
    async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 20)
        run = await scan(ex, config, "ETHUSDT", "BTCUSDT", *unseen, "--json", "--bars", "300")
        assert run.code == 0, run.err
        await check_rows(ex, run.rows())


async def check_rows(ex: EmbeddedExchange, rows: list[dict[str, Any]]) -> None:
    assert len(rows) == 6
    async with httpx.AsyncClient(base_url=ex.rest_url) as client:
        for row in rows:
            legs = []
            for symbol in (row["symbol_a"], row["symbol_b"]):
                query = f"symbol={symbol}&interval=1m&startTime={row['start_ts']}&limit=300"
                klines = (await client.get(f"/fapi/v1/klines?{query}")).json()
                assert klines[-1][0] == row["end_ts"]
                legs.append(np.log([float(k[4]) for k in klines]))
            y, x = legs
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stat, pvalue, _ = coint(y, x, trend="c", autolag="aic")
                reverse = coint(x, y, trend="c", autolag="aic")[1]
            beta, alpha = np.polyfit(x, y, 1)
            returns = np.corrcoef(np.diff(y), np.diff(x))[0, 1]
            resid = y - alpha - beta * x
            resid_sd = math.sqrt(float(resid @ resid) / (len(y) - 2))
            expected = {
                "coint_t": stat,
                "coint_p": pvalue,
                "coint_p_reverse": reverse,
                "beta": beta,
                "alpha": alpha,
                "corr": returns,
                "resid_sd": resid_sd,
                "resid_z": resid[-1] / resid_sd,
            }
            for key, value in expected.items():
                assert math.isclose(row[key], float(value), rel_tol=1e-9, abs_tol=1e-9), (
                    row["symbol_a"],
                    row["symbol_b"],
                    key,
                )
            assert row["coint_p"] <= row["coint_p_reverse"]


async def test_top_n_are_the_usdt_perpetuals_with_most_quote_volume(
    ex: EmbeddedExchange, config: Path
) -> None:
    async with httpx.AsyncClient(base_url=ex.rest_url) as client:
        info = (await client.get("/fapi/v1/exchangeInfo")).json()["symbols"]
        tickers = (await client.get("/fapi/v1/ticker/24hr")).json()
    eligible = {
        s["symbol"]
        for s in info
        if s["contractType"] == "PERPETUAL"
        and s["status"] == "TRADING"
        and s["quoteAsset"] == "USDT"
        and s["marginAsset"] == "USDT"
    }
    by_volume = sorted(tickers, key=lambda t: -float(t["quoteVolume"]))
    expected = [t["symbol"] for t in by_volume if t["symbol"] in eligible][:5]
    # The simulated BTCUSDC out-trades the fifth USDT perpetual: --top must skip it.
    assert [t["symbol"] for t in by_volume][:6] != expected
    run = await scan(ex, config, "--top", "5", "--json", "--bars", "100")
    assert run.code == 0, run.err
    rows = run.rows()
    assert len(rows) == 10
    assert {s for r in rows for s in (r["symbol_a"], r["symbol_b"])} == set(expected)


async def test_output_files_hold_the_rows_and_the_store_is_reused(
    ex: EmbeddedExchange, config: Path, tmp_path: Path
) -> None:
    symbols = ("ETHUSDT", "BTCUSDT", "SOLUSDT", "AVAXUSDT")
    parquet, csv = tmp_path / "out" / "scan.parquet", tmp_path / "scan.csv"
    parquet.parent.mkdir()
    first = await scan(ex, config, *symbols, "--json", "--bars", "300", "--output", str(parquet))
    assert first.code == 0, first.err
    fetched = kline_requests(ex)
    assert fetched == 4  # one page of 300 bars per symbol
    second = await scan(ex, config, *symbols, "--json", "--bars", "300", "--output", str(csv))
    assert second.code == 0, second.err
    assert kline_requests(ex) == fetched  # every bar came from the store
    assert "history 4/4 requests" in first.err and "history 0/0 requests" in second.err
    rows = first.rows()
    assert second.rows() == rows and len(rows) == 6
    for frame in (pl.read_parquet(parquet), pl.read_csv(csv)):
        assert frame.columns == list(rows[0])
        assert _same(frame.to_dicts(), rows)
    assert [p.name for p in parquet.parent.iterdir()] == ["scan.parquet"]  # no temporary left


def _same(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        for key, value in w.items():
            if isinstance(value, float):
                assert math.isclose(g[key], value, rel_tol=1e-15), key  # CSV prints 17 digits
            else:
                assert g[key] == value, key
    return True


async def test_table_on_stdout_and_bad_requests(ex: EmbeddedExchange, config: Path) -> None:
    table = await scan(ex, config, "ETHUSDT", "BTCUSDT", "SOLUSDT", "--bars", "100")
    assert table.code == 0, table.err
    header, first = table.out.splitlines()[:2]
    assert header.split()[:4] == ["#", "y", "x", "p"]
    assert first.split()[:3] == ["1", "ETHUSDT", "BTCUSDT"]
    unknown = await scan(ex, config, "ETHUSDT", "NOPEUSDT")
    assert unknown.code == 2 and "NOPEUSDT" in unknown.err and len(unknown.err.splitlines()) == 1
    before = len(ex.rest_calls)
    bad = await scan(ex, config, "ETHUSDT", "BTC-USDT")
    assert bad.code == 2 and "'BTC-USDT'" in bad.err
    suffix = await scan(ex, config, "ETHUSDT", "BTCUSDT", "--output", "rows.xlsx")
    assert suffix.code == 2 and "rows.xlsx" in suffix.err
    assert len(ex.rest_calls) == before  # checked before anything was sent
    lost = await scan(
        ex, config, "ETHUSDT", "BTCUSDT", "--bars", "100", "--output", "/nonexistent/x.csv"
    )
    assert lost.code == 1 and "/nonexistent/x.csv" in lost.err.splitlines()[-1]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:
        yield cluster.scheduler_address


async def test_dask_engine_gives_the_local_rows(
    ex: EmbeddedExchange, config: Path, scheduler: str
) -> None:
    symbols = ("ETHUSDT", "BTCUSDT", "SOLUSDT", "AVAXUSDT")
    local = await scan(ex, config, *symbols, "--json", "--bars", "200")
    assert local.code == 0, local.err
    dask = await scan(
        ex,
        config,
        *symbols,
        "--json",
        "--bars",
        "200",
        "--engine",
        "dask",
        "--scheduler",
        scheduler,
    )
    assert dask.code == 0, dask.err
    assert dask.rows() == local.rows()
    screened = await scan(
        ex,
        config,
        *symbols,
        "--json",
        "--bars",
        "200",
        "--engine",
        "dask",
        "--scheduler",
        scheduler,
        "--screen",
        "2",
    )
    assert screened.code == 0, screened.err
    assert {frozenset((r["symbol_a"], r["symbol_b"])) for r in screened.rows()} == {
        frozenset(("ETHUSDT", "BTCUSDT")),
        frozenset(("SOLUSDT", "AVAXUSDT")),
    }
    assert "4 pairs left out (4 screened out)" in screened.err


async def test_hourly_bars_come_from_hourly_klines(config: Path) -> None:
    market = simulated_market(start_ms=START_MS, past_s=32 * 3_600, duration_s=1.0)
    async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 20)
        run = await scan(
            ex,
            config,
            "ETHUSDT",
            "BTCUSDT",
            "SOLUSDT",
            "--json",
            "--timeframe",
            "1h",
            "--bars",
            "30",
        )
        assert run.code == 0, run.err
        klines = [c.query for c in ex.rest_calls if c.path == "/fapi/v1/klines"]
    rows = run.rows()
    assert len(rows) == 3 and {r["timeframe"] for r in rows} == {"1h"}
    assert {r["bars"] for r in rows} == {30}
    assert rows[0]["end_ts"] - rows[0]["start_ts"] == 29 * 3_600_000
    assert len(klines) == 3 and all("interval=1h" in q for q in klines)
