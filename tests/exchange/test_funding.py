"""Funding and mark prices: the mark-price streams beside the trades, the funding model, and the
premiumIndex, fundingRate and fundingInfo endpoints, consistent with each other."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pairs_tui.exchange.funding import FundingModel
from pairs_tui.exchange.market import simulated_market
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.exchange.universe import UNIVERSE

from .conftest import assert_silent, open_stream, receive, rest

FUNDING_MS = 1_723_190_400_000  # 2024-08-09 08:00 UTC, a funding time of every symbol
HOUR_MS = 3_600_000


async def read_until_finished(ex: EmbeddedExchange, path: str) -> list[dict[str, Any]]:
    """Every frame of a combined stream route, at speed 0, until the tape is published: the
    answer to a request sent then comes after every frame queued before it."""
    frames: list[dict[str, Any]] = []
    async with await open_stream(ex, path) as ws:
        await asyncio.wait_for(ex.finished.wait(), 20)
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
        async with asyncio.timeout(10):
            while "result" not in (frame := json.loads(await ws.recv())):
                frames.append(frame)
    return frames


def expected_mark(model: FundingModel, symbol: str, second: int, last: str) -> dict[str, Any]:
    mark, index = model.mark_index(symbol, second, float(last))
    return {
        "e": "markPriceUpdate",
        "E": second,
        "s": symbol,
        "p": f"{mark:.8f}",
        "i": f"{index:.8f}",
        "P": f"{index:.8f}",
        "r": f"{model.rate(symbol, second):.8f}",
        "T": model.next_funding_ms(symbol, second),
    }


async def test_mark_prices_every_second_beside_the_trades() -> None:
    tape = simulated_tape(
        duration_s=12.0, rate_per_s=(20.0, 0.3), seed=2, start_ms=FUNDING_MS - 6_000
    )
    streams = "btcusdt@aggTrade/btcusdt@markPrice@1s/ethusdt@markPrice@1s/ethusdt@markPrice"
    async with EmbeddedExchange(tape, speed=0) as ex:
        frames = await read_until_finished(ex, f"/market/stream?streams={streams}")
        model = ex.funding
    last: dict[str, str] = {}
    seconds: dict[str, list[int]] = {}
    trade_times: list[int] = []
    second = 0
    for frame in frames:
        data = frame["data"]
        if data["e"] == "aggTrade":
            assert data["T"] >= second  # no trade of a second before its mark price
            last[data["s"]] = data["p"]
            trade_times.append(data["T"])
            continue
        assert all(t < data["E"] for t in trade_times)  # every trade before it, first
        second = data["E"]
        seconds.setdefault(frame["stream"], []).append(data["E"])
        symbol = data["s"]
        if symbol in last:
            assert data == expected_mark(model, symbol, data["E"], last[symbol])
        trade_times.clear()
    btc = seconds["btcusdt@markPrice@1s"]
    assert btc == list(range(btc[0], btc[-1] + 1, 1_000)) and len(btc) >= 11
    assert btc[0] == -(-tape.start_ms // 1000) * 1000
    eth_1s, eth_3s = seconds["ethusdt@markPrice@1s"], seconds["ethusdt@markPrice"]
    assert eth_3s == [s for s in eth_1s if s % 3_000 == 0] and eth_3s
    # Across the funding time the rate in force is settled and the next funding moves on.
    before = next(f["data"] for f in frames if f["data"].get("E") == FUNDING_MS - 1_000)
    after = next(f["data"] for f in frames if f["data"].get("E") == FUNDING_MS)
    assert (before["T"], after["T"]) == (FUNDING_MS, FUNDING_MS + 8 * HOUR_MS)


async def test_mark_prices_follow_the_clock_and_outlive_the_tape() -> None:
    tape = simulated_tape(duration_s=0.5, rate_per_s=10.0, seed=4)
    async with EmbeddedExchange(tape, speed=20) as ex:
        async with await open_stream(ex, "/market/ws/btcusdt@markPrice@1s") as ws:
            async with asyncio.timeout(10):
                marks = [json.loads(await ws.recv()) for _ in range(12)]
        assert ex.finished.is_set()  # the tape lasted half a second; the marks go on
    times = [m["E"] for m in marks]
    assert times == list(range(times[0], times[0] + 12_000, 1_000))
    assert len({m["p"] for m in marks}) > 1  # the premium wiggles even without trades
    assert all(m["s"] == "BTCUSDT" and m["e"] == "markPriceUpdate" for m in marks)


async def test_funding_history_matches_the_stream_and_the_bars() -> None:
    market = simulated_market(start_ms=FUNDING_MS - 4_000, past_s=17 * 3_600, duration_s=8.0)
    streams = "avaxusdt@markPrice@1s/btcusdt@markPrice@1s"
    async with EmbeddedExchange(market, speed=0) as ex:
        frames = await read_until_finished(ex, f"/market/stream?streams={streams}")
        marks = {(f["data"]["s"], f["data"]["E"]): f["data"] for f in frames}
        _, _, btc = await rest(ex, "/fapi/v1/fundingRate?symbol=BTCUSDT")
        _, _, avax = await rest(ex, "/fapi/v1/fundingRate?symbol=AVAXUSDT&limit=2")
        base = "/fapi/v1/continuousKlines?pair=AVAXUSDT&contractType=PERPETUAL&interval=1s"
        closes = {}
        for row in avax:
            _, _, kline = await rest(ex, f"{base}&endTime={row['fundingTime'] - 1}&limit=1")
            closes[row["fundingTime"]] = kline[0][4]
        model = ex.funding
    # BTCUSDT funds every 8 hours: 16:00 and 00:00 in the past, 08:00 live.
    assert [r["fundingTime"] for r in btc] == [
        FUNDING_MS - 16 * HOUR_MS,
        FUNDING_MS - 8 * HOUR_MS,
        FUNDING_MS,
    ]
    assert [r["fundingTime"] for r in avax] == [FUNDING_MS - 4 * HOUR_MS, FUNDING_MS]  # every 4 h
    for symbol, rows in (("BTCUSDT", btc), ("AVAXUSDT", avax)):
        live = rows[-1]
        assert live["fundingRate"] == marks[(symbol, FUNDING_MS - 1_000)]["r"]  # the rate shown
        assert live["markPrice"] == marks[(symbol, FUNDING_MS)]["p"]
        assert marks[(symbol, FUNDING_MS)]["T"] == FUNDING_MS + model.interval_ms(symbol)
    for row in avax:  # past fundings: the same model over the bars
        t = row["fundingTime"]
        assert row["fundingRate"] == f"{model.settled_rate('AVAXUSDT', t):.8f}"
        mark, _ = model.mark_index("AVAXUSDT", t, float(closes[t]))
        assert row["markPrice"] == f"{mark:.8f}"


async def test_funding_endpoints_follow_binance() -> None:
    market = simulated_market(start_ms=FUNDING_MS + 60_000, past_s=2 * 86_400, duration_s=2.0)
    async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 20)
        now = int(ex.now_ms())
        status, headers, everyone = await rest(ex, "/fapi/v1/premiumIndex")
        assert status == 200 and headers["x-mbx-used-weight-1m"] == "10"
        assert {r["symbol"] for r in everyone} == set(market.specs)
        _, headers, btc = await rest(ex, "/fapi/v1/premiumIndex?symbol=BTCUSDT")
        assert headers["x-mbx-used-weight-1m"] == "11"
        assert btc == next(r for r in everyone if r["symbol"] == "BTCUSDT")
        assert btc["lastFundingRate"] == f"{ex.funding.rate('BTCUSDT', now):.8f}"
        assert (btc["nextFundingTime"], btc["time"]) == (FUNDING_MS + 8 * HOUR_MS, now)
        assert btc["interestRate"] == "0.00010000"
        mark, index = float(btc["markPrice"]), float(btc["indexPrice"])
        assert abs(mark / index - 1) < 0.001
        quarterly = next(r for r in everyone if r["symbol"].startswith("BTCUSDT_"))
        assert (quarterly["lastFundingRate"], quarterly["nextFundingTime"]) == ("", 0)

        _, _, info = await rest(ex, "/fapi/v1/fundingInfo")
        assert {(r["symbol"], r["fundingIntervalHours"]) for r in info} == {
            ("AVAXUSDT", 4),
            ("DOGEUSDT", 4),
            ("TRXUSDT", 4),
            ("LINKUSDT", 8),
        }
        link = next(r for r in info if r["symbol"] == "LINKUSDT")
        assert (link["adjustedFundingRateCap"], link["adjustedFundingRateFloor"]) == (
            "0.03000000",
            "-0.03000000",
        )

        _, _, recent = await rest(ex, "/fapi/v1/fundingRate?symbol=DOGEUSDT")
        assert len(recent) == 12 and recent[-1]["fundingTime"] == FUNDING_MS  # 2 days of 4 h
        _, _, window = await rest(
            ex,
            f"/fapi/v1/fundingRate?symbol=DOGEUSDT&startTime={FUNDING_MS - 12 * HOUR_MS}"
            f"&endTime={FUNDING_MS - 4 * HOUR_MS}&limit=2",
        )
        assert [r["fundingTime"] for r in window] == [
            FUNDING_MS - 12 * HOUR_MS,
            FUNDING_MS - 8 * HOUR_MS,
        ]
        _, _, every = await rest(ex, "/fapi/v1/fundingRate?limit=1000")
        perpetuals = [s for s, x in market.listings.items() if x.contract_type == "PERPETUAL"]
        assert {r["symbol"] for r in every} == set(perpetuals)
        assert [r["fundingTime"] for r in every] == sorted(r["fundingTime"] for r in every)
        for query, code in (("?symbol=NOPE", -1121), ("?limit=1001", -1130), ("?limit=0", -1130)):
            status, _, body = await rest(ex, "/fapi/v1/fundingRate" + query)
            assert (status, body["code"]) == (400, code)
    weights = {c.path: c.weight for c in ex.rest_calls if "funding" in c.path}
    assert weights == {"/fapi/v1/fundingInfo": 1, "/fapi/v1/fundingRate": 1}


def test_funding_rates_are_a_few_basis_points_some_negative_changing_by_the_minute() -> None:
    market = simulated_market(start_ms=FUNDING_MS, past_s=60)
    model = FundingModel(market.listings)
    times = range(FUNDING_MS, FUNDING_MS + 3 * 86_400_000, 8 * HOUR_MS)
    rates = [model.settled_rate(m.spec.symbol, t) for m in UNIVERSE for t in times]
    assert all(abs(r) <= 0.0006 for r in rates)  # a few basis points per interval
    assert min(rates) < 0 < max(rates)
    btc = [model.rate("BTCUSDT", FUNDING_MS + k * 1_000) for k in range(120)]
    assert btc[:60] == [btc[0]] * 60 and btc[60:] == [btc[60]] * 60  # once a minute
    step = max(abs(model.rate("ETHUSDT", t + 60_000) - model.rate("ETHUSDT", t)) for t in times)
    assert step < 0.00001  # slowly wandering
    assert FundingModel(market.listings, seed=8).rate("BTCUSDT", FUNDING_MS) != btc[0]
    assert FundingModel(market.listings).rate("BTCUSDT", FUNDING_MS) == btc[0]


async def test_mark_prices_are_silent_on_the_retired_routes(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    streams = "btcusdt@markPrice@1s/!markPrice@arr@1s/btcusdt@trade"
    async with await open_stream(exchange, f"/stream?streams={streams}") as ws:
        frames = await receive(ws, packaged_tape.fill_counts["BTCUSDT"])
        assert {f["stream"] for f in frames} == {"btcusdt@trade"}
        await exchange.finished.wait()
        await assert_silent(ws, 1)
