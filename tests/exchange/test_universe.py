"""The simulated universe: exchangeInfo's listings (and those a scanner must leave out), the
known cointegrated structure in its past, and the 24-hour ticker."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from statsmodels.tsa.stattools import coint

from pairs_tui.exchange.market import PAST_S, demo_tape, simulated_market
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.exchange.universe import PAIRS, UNIVERSE

from .conftest import paged_klines, rest

START_MS = 1_723_161_256_322


async def test_exchange_info_lists_the_universe_and_what_a_scanner_leaves_out() -> None:
    market = simulated_market(["FOOUSDT"], start_ms=START_MS, past_s=60, duration_s=1.0)
    async with EmbeddedExchange(market, speed=0) as ex:
        _, _, info = await rest(ex, "/fapi/v1/exchangeInfo")
        base = "/fapi/v1/continuousKlines?pair=BTCUSDT&interval=1m&contractType="
        _, _, quarter = await rest(ex, base + "CURRENT_QUARTER")
        _, _, perpetual = await rest(ex, base + "PERPETUAL")
        status, _, body = await rest(ex, base + "NEXT_QUARTER")
        assert (status, body["code"]) == (400, -1121)  # none listed
    listed = {s["symbol"]: s for s in info["symbols"]}
    usdt_perpetuals = {
        s
        for s, x in listed.items()
        if x["quoteAsset"] == "USDT"
        and x["contractType"] == "PERPETUAL"
        and x["status"] == "TRADING"
    }
    assert usdt_perpetuals == {m.spec.symbol for m in UNIVERSE} | {"FOOUSDT"}
    assert listed["BTCUSDC"]["quoteAsset"] == listed["BTCUSDC"]["marginAsset"] == "USDC"
    assert listed["MATICUSDT"]["status"] == "SETTLING"
    quarterly = listed["BTCUSDT_240927"]  # the current quarter on 2024-08-08
    assert (quarterly["contractType"], quarterly["pair"]) == ("CURRENT_QUARTER", "BTCUSDT")
    assert quarterly["deliveryDate"] == 1_727_424_000_000  # 2024-09-27 08:00 UTC
    assert listed["BTCUSDT"]["deliveryDate"] == 4_133_404_800_000
    assert quarter[-1][4] != perpetual[-1][4]  # the quarterly's own klines, at its basis
    assert float(quarter[-1][4]) > float(perpetual[-1][4])
    btc = {f["filterType"]: f for f in listed["BTCUSDT"]["filters"]}
    assert (btc["PRICE_FILTER"]["tickSize"], btc["LOT_SIZE"]["stepSize"]) == ("0.10", "0.001")
    doge = {f["filterType"]: f for f in listed["DOGEUSDT"]["filters"]}
    assert (doge["PRICE_FILTER"]["tickSize"], doge["LOT_SIZE"]["stepSize"]) == ("0.000010", "1")
    assert listed["DOGEUSDT"]["pricePrecision"] == 6


def closes(rows: list[Any]) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    out: np.ndarray[tuple[int], np.dtype[np.float64]] = np.log([float(r[4]) for r in rows])
    return out


async def test_the_past_has_the_known_cointegrated_structure() -> None:
    market = simulated_market(start_ms=START_MS, past_s=86_400, duration_s=1.0)
    async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 20)
        end = START_MS // 60_000 * 60_000 - 60_000  # the last whole minute of the past
        prices = {}
        for symbol in {p.y for p in PAIRS} | {p.x for p in PAIRS} | {"BNBUSDT", "XRPUSDT"}:
            path = f"/fapi/v1/klines?symbol={symbol}&interval=1m"
            rows = await paged_klines(ex, path, end - 1_439 * 60_000, end)
            assert len(rows) == 1_440
            prices[symbol] = closes(rows)
    for pair in PAIRS:
        y, x = prices[pair.y], prices[pair.x]
        beta, alpha = np.polyfit(x, y, 1)
        assert beta == pytest.approx(pair.beta, abs=0.3), pair
        resid = y - alpha - beta * x
        assert resid.std() == pytest.approx(pair.spread_sd, rel=0.5), pair
        phi = np.corrcoef(resid[1:], resid[:-1])[0, 1]
        half_life_min = -math.log(2) / math.log(phi)
        assert half_life_min == pytest.approx(pair.half_life_s / 60, rel=0.6), pair
        assert coint(y, x)[1] < 0.05, pair
    assert coint(prices["ETHUSDT"], prices["BTCUSDT"])[1] < 0.001
    # Independent walks: no cointegration to find.
    assert coint(prices["BNBUSDT"], prices["XRPUSDT"])[1] > 0.1
    assert coint(prices["ETHUSDT"], prices["SOLUSDT"])[1] > 0.1


async def test_ticker_24hr_sums_the_bars() -> None:
    market = simulated_market(start_ms=START_MS, past_s=3_000, duration_s=60.0, seed=4)
    async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 20)
        now = int(ex.now_ms())
        status, headers, everyone = await rest(ex, "/fapi/v1/ticker/24hr")
        assert status == 200 and headers["x-mbx-used-weight-1m"] == "40"
        assert [t["symbol"] for t in everyone] == list(market.specs)
        _, headers, eth = await rest(ex, "/fapi/v1/ticker/24hr?symbol=ethusdt")
        assert headers["x-mbx-used-weight-1m"] == "41"
        assert eth == next(t for t in everyone if t["symbol"] == "ETHUSDT")
        base = "/fapi/v1/continuousKlines?pair=ETHUSDT&contractType=PERPETUAL&interval=1s"
        seconds = await paged_klines(ex, base, now - 86_400_000, now)  # the whole past is in
        matic_base = "/fapi/v1/continuousKlines?pair=MATICUSDT&contractType=PERPETUAL&interval=1s"
        _, _, matic_seconds = await rest(ex, f"{matic_base}&startTime=0&limit=1500")
        status, _, body = await rest(ex, "/fapi/v1/ticker/24hr?symbol=NOPE")
        assert (status, body["code"]) == (400, -1121)
    traded = [r for r in seconds if r[8] > 0]
    assert eth["openPrice"] == traded[0][1] and eth["lastPrice"] == traded[-1][4]
    assert eth["highPrice"] == max((r[2] for r in traded), key=Decimal)
    assert eth["lowPrice"] == min((r[3] for r in traded), key=Decimal)
    assert Decimal(eth["volume"]) == sum((Decimal(r[5]) for r in seconds), Decimal(0))
    assert Decimal(eth["quoteVolume"]) == sum((Decimal(r[7]) for r in seconds), Decimal(0))
    assert eth["count"] == sum(r[8] for r in seconds)
    assert eth["lastId"] - eth["firstId"] + 1 == eth["count"]
    change = Decimal(eth["lastPrice"]) - Decimal(eth["openPrice"])
    assert Decimal(eth["priceChange"]) == change
    percent = 100 * change / Decimal(eth["openPrice"])
    assert Decimal(eth["priceChangePercent"]) == percent.quantize(Decimal("0.001"))
    assert (eth["openTime"], eth["closeTime"]) == (now - 86_400_000, now)
    vwap = Decimal(eth["quoteVolume"]) / Decimal(eth["volume"])
    assert Decimal(eth["weightedAvgPrice"]) == pytest.approx(vwap, abs=Decimal("0.01"))
    matic = next(t for t in everyone if t["symbol"] == "MATICUSDT")
    # Halted 20 hours ago, before this short past opened with its one traded second.
    assert [r[8] > 0 for r in matic_seconds] == [True] + [False] * (len(matic_seconds) - 1)
    assert matic["volume"] == matic_seconds[0][5] and matic["count"] == matic_seconds[0][8]


def test_demo_tape_is_the_universe_or_the_recording(packaged_tape: TradeTape) -> None:
    universe = demo_tape("simulation", ["btcusdt", "ethusdt"])
    assert {m.spec.symbol for m in UNIVERSE} <= set(universe.specs)
    assert universe.past is not None and universe.past.seconds == PAST_S
    foo = demo_tape("simulation", ["FOOUSDT", "BTCUSDT"])
    assert "FOOUSDT" in foo.specs and foo.listings["FOOUSDT"].status == "TRADING"
    recording = demo_tape("recording", ["BTCUSDT", "ETHUSDT"])
    assert isinstance(recording, TradeTape) and recording.trades == packaged_tape.trades
    assert recording.past is not None and recording.past.seconds == PAST_S
    assert set(demo_tape("recording", ["SOLUSDT", "BTCUSDT"]).specs) > {"SOLUSDT", "BTCUSDT"}
