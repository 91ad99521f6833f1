"""The embedded exchange's REST endpoints answer as Binance does, over loopback."""

from __future__ import annotations

import asyncio

import pytest

from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.feed.rest import BinanceApiError, BinanceRest, UnknownSymbolError

from .conftest import http_get, open_stream, receive


async def test_rest_exchange_info_time_and_aggtrades(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    rest = BinanceRest(exchange.rest_url)
    info = await rest.check_symbols(["btcusdt", "ETHUSDT"])
    assert info["BTCUSDT"].tick_size == 0.1 and info["ETHUSDT"].tick_size == 0.01
    assert info["BTCUSDT"].step_size == 0.001
    assert await rest.server_time_ms() == packaged_tape.start_ms  # not started yet
    with pytest.raises(UnknownSymbolError, match="FOOUSDT"):
        await rest.check_symbols(["BTCUSDT", "fooUSDT"])

    async with await open_stream(exchange, "/market/stream?streams=btcusdt@aggTrade") as ws:
        await receive(ws, packaged_tape.counts["BTCUSDT"])
    await asyncio.wait_for(exchange.finished.wait(), 5)
    assert await rest.server_time_ms() == packaged_tape.end_ms
    btc = [t for t in packaged_tape.trades if t.symbol == "BTCUSDT"]
    rows = await rest.agg_trades("btcusdt", btc[10].id, 1000)
    assert len(rows) == 1000
    assert [r.id for r in rows] == [t.id for t in btc[10:1010]]
    assert [r.price for r in rows] == [t.price for t in btc[10:1010]]
    assert rows[0].first_trade_id == btc[10].first_trade_id
    assert rows[0].last_trade_id == btc[10].last_trade_id
    tail = await rest.agg_trades("BTCUSDT", btc[-3].id, 1000)
    assert [r.id for r in tail] == [t.id for t in btc[-3:]]  # caught up: fewer than the limit
    with pytest.raises(UnknownSymbolError, match="XYZUSDT"):
        await rest.agg_trades("XYZUSDT", 1)


async def test_rest_errors_are_binance_json(exchange: EmbeddedExchange) -> None:
    base = exchange.rest_url
    status, body = await asyncio.to_thread(http_get, f"{base}/fapi/v1/aggTrades?symbol=NOPE")
    assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})
    url = f"{base}/fapi/v1/aggTrades?symbol=BTCUSDT&limit=5000"
    status, body = await asyncio.to_thread(http_get, url)
    assert status == 400 and body["code"] == -1130  # type: ignore[call-overload]
    status, body = await asyncio.to_thread(http_get, f"{base}/fapi/v1/depth")
    assert status == 404
    exchange.faults.rest_unavailable = True
    with pytest.raises(BinanceApiError) as unavailable:
        await BinanceRest(base).agg_trades("BTCUSDT", 1)
    assert unavailable.value.status == 503
