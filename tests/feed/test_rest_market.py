"""Every market-data endpoint of the REST client against the embedded exchange's simulated
universe, over a real loopback socket: the typed rows equal the JSON the exchange sent, and each
converts to our records."""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pairs_tui.exchange.market import simulated_market
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.feed.errors import BinanceApiError, UnknownSymbolError
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.records import Bar, MarkPrice, Trade

START_MS = 1_723_161_256_000
"""Where the past ends: 2024-08-08 23:54:16 UTC."""
PAST_S = 9 * 3_600
"""Nine hours of past: fundings at 16:00 and 20:00 UTC (4-hourly symbols) are in it."""

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def raw(ex: EmbeddedExchange, path: str) -> Any:
    """The JSON body of ``GET path`` as the exchange sent it (read without our client)."""
    with _opener.open(ex.rest_url + path) as response:
        return json.loads(response.read())


@pytest.fixture
async def universe() -> AsyncIterator[EmbeddedExchange]:
    """The simulated universe after a minute of trading, with nine hours of past."""
    market = simulated_market(start_ms=START_MS, past_s=PAST_S, duration_s=60.0, seed=4)
    async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 30)
        yield ex


@pytest.fixture
async def rest(universe: EmbeddedExchange) -> AsyncIterator[BinanceRest]:
    client = BinanceRest(universe.rest_url)
    yield client
    await client.aclose()


def kline_row(row: list[Any]) -> tuple[Any, ...]:
    """A raw kline as our Kline's fields are (numbers from their strings)."""
    return (row[0], *map(float, row[1:6]), row[6], float(row[7]), row[8], *map(float, row[9:11]))


async def test_exchange_info_reads_every_listing(
    universe: EmbeddedExchange, rest: BinanceRest
) -> None:
    info = await rest.exchange_info()
    body = await asyncio.to_thread(raw, universe, "/fapi/v1/exchangeInfo")
    assert list(info) == [s["symbol"] for s in body["symbols"]]
    for listing in body["symbols"]:
        got = info[listing["symbol"]]
        filters = {f["filterType"]: f for f in listing["filters"]}
        assert (got.status, got.contract_type, got.pair) == (
            listing["status"],
            listing["contractType"],
            listing["pair"],
        )
        assert (got.quote_asset, got.margin_asset) == (
            listing["quoteAsset"],
            listing["marginAsset"],
        )
        assert (got.price_precision, got.quantity_precision) == (
            listing["pricePrecision"],
            listing["quantityPrecision"],
        )
        assert got.tick_size == float(filters["PRICE_FILTER"]["tickSize"])
        assert got.step_size == float(filters["LOT_SIZE"]["stepSize"])
    # What a scanner of USDT perpetuals must leave out is there to be left out.
    assert info["BTCUSDC"].margin_asset == "USDC"
    assert info["MATICUSDT"].status == "SETTLING"
    quarterly = [s for s in info.values() if s.contract_type == "CURRENT_QUARTER"]
    assert [s.pair for s in quarterly] == ["BTCUSDT"]
    assert rest.budget.limit == body["rateLimits"][0]["limit"] == 2400


async def test_server_time_and_agg_trades_by_time(
    universe: EmbeddedExchange, rest: BinanceRest
) -> None:
    assert await rest.server_time_ms() == int(universe.now_ms())
    history = universe.history("ETHUSDT")
    start, end = history[10].time, history[60].time
    rows = await rest.agg_trades("ethusdt", start_ms=start, end_ms=end)
    assert [r.id for r in rows] == [t.id for t in history if start <= t.time <= end]
    first = await rest.agg_trades("ETHUSDT", start_ms=start, end_ms=end, limit=1)
    assert [r.id for r in first] == [next(t.id for t in history if t.time >= start)]
    spec = universe.tape.specs["ETHUSDT"]
    assert first[0].to_trade("ETHUSDT") == Trade(
        "ETHUSDT",
        history[10].time,
        float(f"{history[10].price:.{spec.price_decimals}f}"),
        float(f"{history[10].qty:.{spec.qty_decimals}f}"),
        history[10].buyer_maker,
        history[10].id,
    )
    latest = await rest.agg_trades("ETHUSDT", limit=2)  # no id, no time: the latest
    assert [r.id for r in latest] == [t.id for t in history[-2:]]
    with pytest.raises(ValueError, match="not both"):
        await rest.agg_trades("ETHUSDT", from_id=1, start_ms=start)
    with pytest.raises(BinanceApiError) as refused:
        await rest.agg_trades("ETHUSDT", start_ms=start, end_ms=start + 2 * 3_600_000)
    assert refused.value.code == -1127  # more than an hour apart


async def test_klines_and_continuous_klines_as_bars(
    universe: EmbeddedExchange, rest: BinanceRest
) -> None:
    end = START_MS // 60_000 * 60_000
    start = end - 500 * 60_000
    klines = await rest.klines("btcusdt", "1m", start_ms=start, end_ms=end, limit=1000)
    path = f"/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={start}&endTime={end}"
    body = await asyncio.to_thread(raw, universe, path + "&limit=1000")
    assert len(klines) == 501 and [k.open_time for k in klines] == list(
        range(start, end + 1, 60_000)
    )
    assert [tuple(msgspec_fields(k)) for k in klines] == [kline_row(r) for r in body]
    k = klines[-1]
    assert k.to_bar() == Bar(k.open, k.high, k.low, k.close, k.volume, k.trades)
    # The last minute of the past and the first of the trades, second by second.
    seconds = await rest.continuous_klines("BTCUSDT", "1s", start_ms=end - 60_000, limit=120)
    path = "/fapi/v1/continuousKlines?pair=BTCUSDT&contractType=PERPETUAL&interval=1s"
    body = await asyncio.to_thread(raw, universe, f"{path}&startTime={end - 60_000}&limit=120")
    assert [tuple(msgspec_fields(k)) for k in seconds] == [kline_row(r) for r in body]
    assert len(seconds) == 120
    with pytest.raises(BinanceApiError) as refused:
        await rest.klines("BTCUSDT", "1s", limit=5)
    assert refused.value.code == -1120  # 1s only from continuousKlines
    with pytest.raises(UnknownSymbolError, match="NOPEUSDT"):
        await rest.klines("NOPEUSDT", "1m")
    with pytest.raises(ValueError, match="limit must be 1 to 1500"):
        await rest.klines("BTCUSDT", "1m", limit=1501)


async def test_tickers_marks_and_funding(universe: EmbeddedExchange, rest: BinanceRest) -> None:
    tickers = await rest.ticker_24hr()
    body = await asyncio.to_thread(raw, universe, "/fapi/v1/ticker/24hr")
    assert [(t.symbol, t.quote_volume, t.last_price, t.count) for t in tickers] == [
        (r["symbol"], float(r["quoteVolume"]), float(r["lastPrice"]), r["count"]) for r in body
    ]
    (btc,) = await rest.ticker_24hr("btcusdt")
    assert btc == next(t for t in tickers if t.symbol == "BTCUSDT")

    (mark,) = await rest.premium_index("BTCUSDT")
    body = await asyncio.to_thread(raw, universe, "/fapi/v1/premiumIndex?symbol=BTCUSDT")
    assert mark.to_mark() == MarkPrice(
        "BTCUSDT",
        body["time"],
        float(body["markPrice"]),
        float(body["indexPrice"]),
        float(body["lastFundingRate"]),
        body["nextFundingTime"],
    )
    every = await rest.premium_index()
    assert {m.symbol for m in every} >= {"BTCUSDT", "ETHUSDT", "AVAXUSDT"}

    info = await rest.funding_info()
    assert {(f.symbol, f.interval_h) for f in info} == {
        ("AVAXUSDT", 4),
        ("DOGEUSDT", 4),
        ("TRXUSDT", 4),
        ("LINKUSDT", 8),
    }
    start = START_MS - PAST_S * 1_000
    path = f"/fapi/v1/fundingRate?symbol=AVAXUSDT&startTime={start}&limit=1000"
    body = await asyncio.to_thread(raw, universe, path)
    fundings = await rest.funding_rate("AVAXUSDT", start_ms=start, limit=1000)
    assert len(fundings) >= 2 and [(f.time, f.rate, f.mark_price) for f in fundings] == [
        (r["fundingTime"], float(r["fundingRate"]), float(r["markPrice"])) for r in body
    ]
    assert all(b.time - a.time == 4 * 3_600_000 for a, b in itertools.pairwise(fundings))
    # Every answer says the weight used this minute (the test's own reads included): the
    # client's count is the exchange's.
    assert rest.budget.used == universe.weight_used


def msgspec_fields(kline: Any) -> list[Any]:
    """A kline's fields in order, without the unused last column."""
    return [getattr(kline, f) for f in kline.__struct_fields__[:-1]]
