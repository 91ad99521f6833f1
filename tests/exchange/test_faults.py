"""The embedded exchange's faults: each misbehaves as described, over loopback."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pairs_tui.exchange.faults import GARBAGE_KINDS, garbage
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.feed.schemas.ws import MalformedFrame, decode_frame

from .conftest import assert_silent, open_stream, receive


async def test_refused_handshakes_answer_503(exchange: EmbeddedExchange) -> None:
    exchange.faults.refuse_handshakes = 1
    with pytest.raises(InvalidStatus) as refused:
        await open_stream(exchange, "/market/stream?streams=btcusdt@aggTrade")
    assert refused.value.response.status_code == 503
    async with await open_stream(exchange, "/market/stream?streams=btcusdt@aggTrade") as ws:
        assert len(await receive(ws, 1)) == 1


async def test_stalled_symbol_stops_while_the_other_flows(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    exchange.faults.stall_symbol = "ETHUSDT"
    streams = "btcusdt@aggTrade/ethusdt@aggTrade"
    async with await open_stream(exchange, f"/market/stream?streams={streams}") as ws:
        frames = await receive(ws, packaged_tape.counts["BTCUSDT"])
        await asyncio.wait_for(exchange.finished.wait(), 5)
        await assert_silent(ws, 1)
    assert {f["stream"] for f in frames} == {"btcusdt@aggTrade"}
    assert exchange.published("ETHUSDT") == packaged_tape.counts["ETHUSDT"]  # still published


@pytest.mark.parametrize("kind", range(GARBAGE_KINDS))
def test_every_kind_of_garbage_is_a_malformed_frame(kind: int) -> None:
    good = (
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161256472,"a":7,'
        '"s":"BTCUSDT","p":"61800.30","q":"0.022","nq":"0.022","f":1,"l":2,'
        '"T":1723161256322,"m":false,"st":1}}'
    )
    assert decode_frame(good).data is not None
    with pytest.raises(MalformedFrame):
        decode_frame(garbage(kind, good))


async def test_rate_limit_fault_closes_with_1008_after_n_messages(
    exchange: EmbeddedExchange,
) -> None:
    exchange.faults.rate_limit_after_messages = 5
    async with await open_stream(exchange, "/market/stream?streams=btcusdt@aggTrade") as ws:
        assert len(await receive(ws, 5)) == 5
        with pytest.raises(ConnectionClosed):
            await receive(ws, 1)
    assert (ws.close_code, ws.close_reason) == (1008, "Too many requests")


async def test_silent_symbol_is_acknowledged_listed_and_never_sent(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    exchange.faults.silent_symbol = "ethusdt"
    streams = "btcusdt@aggTrade/ethusdt@aggTrade"
    async with await open_stream(exchange, f"/market/stream?streams={streams}") as ws:
        frames = await receive(ws, packaged_tape.counts["BTCUSDT"])
        await asyncio.wait_for(exchange.finished.wait(), 5)
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}))
        (listing,) = await receive(ws, 1)
    assert {f["stream"] for f in frames} == {"btcusdt@aggTrade"}
    assert listing == {"result": ["btcusdt@aggTrade", "ethusdt@aggTrade"], "id": 9}


async def test_frozen_exchange_sends_nothing_until_thawed(sim_tape: TradeTape) -> None:
    async with EmbeddedExchange(sim_tape, speed=20) as ex:
        ex.faults.freeze = True
        async with await open_stream(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
            await ex.wait_until(lambda: ex.published("BTCUSDT") >= 50)
            await assert_silent(ws, 1)
            ex.faults.freeze = False
            (frame,) = await receive(ws, 1)
    assert frame["data"]["a"] > sim_tape.trades[0].id  # type: ignore[index]


async def test_drop_and_close_hit_the_connections_open_now(sim_tape: TradeTape) -> None:
    async with EmbeddedExchange(sim_tape, speed=20) as ex:
        path = "/market/stream?streams=btcusdt@aggTrade"
        dropped = [await open_stream(ex, path), await open_stream(ex, path)]
        await receive(dropped[0], 1)
        await ex.wait_until(lambda: ex.connections == 2)
        assert ex.drop_connections() == 2
        for ws in dropped:
            with pytest.raises(ConnectionClosed):
                await receive(ws, 10_000)
            assert ws.close_code == 1006  # no close frame
        closed = await open_stream(ex, path)
        await ex.wait_until(lambda: ex.connections == 1)
        assert ex.close_connections(1000, "lifetime reached") == 1
        with pytest.raises(ConnectionClosed):
            await receive(closed, 10_000)
        assert (closed.close_code, closed.close_reason) == (1000, "lifetime reached")
