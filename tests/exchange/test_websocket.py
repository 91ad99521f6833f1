"""The embedded exchange's WebSocket routes behave like Binance's 2026 ones, over loopback."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from pairs_tui.exchange.connection import parse_route
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape

from .conftest import AGG_KEYS_2026, assert_silent, open_stream, receive


def test_routes_are_parsed_as_binance_has_them() -> None:
    market = parse_route("/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade")
    assert market is not None and market.category == "market" and market.combined
    assert market.names == ("btcusdt@aggTrade", "ethusdt@aggTrade")
    raw = parse_route("/market/ws/btcusdt@aggTrade/ethusdt@aggTrade")
    assert raw is not None and not raw.combined and len(raw.names) == 2
    legacy = parse_route("/ws/btcusdt@aggTrade")
    assert legacy is not None and legacy.category == "legacy"
    assert parse_route("/market") is None and parse_route("/fapi/v1/time") is None


async def test_market_stream_sends_every_aggtrade_with_2026_keys(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    ws = await open_stream(exchange, "/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade")
    async with ws:
        frames = await receive(ws, len(packaged_tape))
    first = frames[0]
    assert first["stream"] == "btcusdt@aggTrade"
    data = first["data"]
    assert isinstance(data, dict) and list(data) == AGG_KEYS_2026
    assert data["p"] == "61800.30" and data["q"] == "0.006" and data["st"] == 1
    for frame, trade in zip(frames, packaged_tape.trades, strict=True):
        d = frame["data"]
        assert isinstance(d, dict)
        assert (d["s"], d["a"], d["T"], float(d["p"]), d["m"]) == (
            trade.symbol,
            trade.id,
            trade.time,
            trade.price,
            trade.buyer_maker,
        )
        assert d["E"] >= d["T"]
    assert exchange.published("BTCUSDT") == packaged_tape.counts["BTCUSDT"]
    await asyncio.wait_for(exchange.finished.wait(), 5)


async def test_raw_market_route_sends_bare_payloads_of_its_streams(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    async with await open_stream(exchange, "/market/ws/ethusdt@aggTrade") as ws:
        payloads = await receive(ws, packaged_tape.counts["ETHUSDT"])
    assert {p["e"] for p in payloads} == {"aggTrade"}
    assert {p["s"] for p in payloads} == {"ETHUSDT"}
    assert payloads[0]["p"] == f"{payloads[0]['p']}" and "." in str(payloads[0]["p"])


async def test_public_route_serves_each_fill_as_a_trade(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    async with await open_stream(exchange, "/public/stream?streams=ethusdt@trade") as ws:
        frames = await receive(ws, packaged_tape.fill_counts["ETHUSDT"])
    ids = [f["data"]["t"] for f in frames]  # type: ignore[index]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # contiguous trade ids
    assert {f["data"]["X"] for f in frames} == {"MARKET"}  # type: ignore[index]
    assert frames[0]["stream"] == "ethusdt@trade"


async def test_legacy_routes_acknowledge_and_stay_silent_for_aggtrade(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    silent = [
        await open_stream(exchange, "/stream?streams=btcusdt@aggTrade"),
        await open_stream(exchange, "/ws/btcusdt@aggTrade"),
        await open_stream(exchange, "/ws"),
        await open_stream(exchange, "/market/stream?streams=BTCUSDT@aggTrade"),  # upper case
        await open_stream(exchange, "/market/stream?streams=btcusdt@trade"),  # @trade on /market
        await open_stream(
            exchange, "/public/stream?streams=btcusdt@aggTrade"
        ),  # aggTrade on /public
    ]
    bare_ws = silent[2]
    await bare_ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 1}))
    assert await receive(bare_ws, 1) == [{"result": None, "id": 1}]  # acknowledged all the same
    # A client on the right route receives the whole tape meanwhile.
    async with await open_stream(exchange, "/market/stream?streams=btcusdt@aggTrade") as good:
        await receive(good, packaged_tape.counts["BTCUSDT"])
    await asyncio.wait_for(exchange.finished.wait(), 5)
    for n, ws in enumerate(silent):
        await assert_silent(ws, 100 + n)
        await ws.close()


async def test_live_subscribe_list_and_unsubscribe(exchange: EmbeddedExchange) -> None:
    async with await open_stream(exchange, "/market/stream") as ws:
        await assert_silent(ws, 1)
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@aggTrade"], "id": 2}))
        ack, first = await receive(ws, 2)
        assert ack == {"result": None, "id": 2}
        assert first["stream"] == "ethusdt@aggTrade"
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
        await ws.send(json.dumps({"method": "GET_PROPERTY", "params": ["combined"], "id": 4}))
        await ws.send(
            json.dumps({"method": "UNSUBSCRIBE", "params": ["ethusdt@aggTrade"], "id": 5})
        )
        replies: dict[object, dict[str, object]] = {}
        async with asyncio.timeout(5):
            while len(replies) < 3:
                message = json.loads(await ws.recv())
                if "id" in message:
                    replies[message["id"]] = message
        assert replies[3]["result"] == ["ethusdt@aggTrade"]
        assert replies[4]["result"] is True
        assert replies[5] == {"result": None, "id": 5}


async def test_bad_control_messages_get_binance_errors(exchange: EmbeddedExchange) -> None:
    async with await open_stream(exchange, "/market/stream") as ws:
        await ws.send("ping")
        await ws.send(json.dumps({"method": "FLY", "id": 6}))
        bad_json, unknown = await receive(ws, 2)
    assert bad_json["error"]["code"] == 3 and bad_json["id"] is None  # type: ignore[index]
    assert unknown["error"]["code"] == 2 and unknown["id"] == 6  # type: ignore[index]
    assert "unknown variant FLY" in unknown["error"]["msg"]  # type: ignore[index]


async def test_more_than_ten_messages_a_second_close_with_1008(
    exchange: EmbeddedExchange,
) -> None:
    async with await open_stream(exchange, "/market/stream") as ws:
        for n in range(11):
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": n}))
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
    assert ws.close_code == 1008 and ws.close_reason == "Too many requests"


async def test_server_pings_are_answered_by_a_client(sim_tape: TradeTape) -> None:
    # Pings every 20 ms, dropped after 0.3 s unanswered; the tape lasts 1 s at 20x.
    ex = EmbeddedExchange(sim_tape, speed=20, ping_interval_s=0.02, ping_timeout_s=0.3)
    async with ex, await open_stream(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
        await receive(ws, sim_tape.counts["BTCUSDT"])
        await asyncio.wait_for(ex.finished.wait(), 5)
        await assert_silent(ws, 1)  # still connected: websockets answered every ping


async def test_pings_from_the_client_count_against_the_limit(exchange: EmbeddedExchange) -> None:
    async with await open_stream(exchange, "/market/stream") as ws:
        for n in range(11):
            await ws.ping(str(n))
        with pytest.raises(ConnectionClosed):
            await receive(ws, 1)
    assert ws.close_code == 1008 and exchange.max_incoming_per_s == 11
