"""One connection holds at most 1,024 streams, as on Binance: more are refused, by SUBSCRIBE or
in the URL, so that a client can be tested to split."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from pairs_tui.exchange.connection import MAX_STREAMS
from pairs_tui.exchange.server import EmbeddedExchange

from .conftest import open_stream, receive


async def ask(ws: ClientConnection, method: str, params: list[str], request_id: int) -> Any:
    """Send a control request and return its answer, skipping the data frames before it."""
    await ws.send(json.dumps({"method": method, "params": params, "id": request_id}))
    async with asyncio.timeout(5):
        while (reply := json.loads(await ws.recv())).get("id") != request_id:
            assert "stream" in reply
    return reply


def names(n: int, start: int = 0) -> list[str]:
    """``n`` distinct stream names (symbols it does not list: acknowledged and silent)."""
    return [f"coin{i}usdt@aggTrade" for i in range(start, start + n)]


async def test_subscribe_past_1024_streams_is_refused(exchange: EmbeddedExchange) -> None:
    assert MAX_STREAMS == 1024
    async with await open_stream(exchange, "/market/stream?streams=btcusdt@aggTrade") as ws:
        reply = await ask(ws, "SUBSCRIBE", names(1_024), 1)
        assert reply["error"]["code"] == 2 and "too many streams" in reply["error"]["msg"]
        listed = await ask(ws, "LIST_SUBSCRIPTIONS", [], 2)
        assert listed["result"] == ["btcusdt@aggTrade"]  # nothing was added
        assert await ask(ws, "SUBSCRIBE", names(1_023), 3) == {"result": None, "id": 3}
        again = ["btcusdt@aggTrade", *names(5)]  # 1,024 in all; these are held already
        assert await ask(ws, "SUBSCRIBE", again, 4) == {"result": None, "id": 4}
        assert "error" in await ask(ws, "SUBSCRIBE", names(1, 5_000), 5)
        assert len((await ask(ws, "LIST_SUBSCRIPTIONS", [], 6))["result"]) == 1_024


async def test_a_url_with_more_than_1024_streams_is_refused(exchange: EmbeddedExchange) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await open_stream(exchange, "/market/stream?streams=" + "/".join(names(1_025)))
    assert refused.value.response.status_code == 400
    url = "/market/stream?streams=" + "/".join(["btcusdt@aggTrade", *names(1_023)])
    async with await open_stream(exchange, url) as ws:  # a 25 KB URL is fine
        frames = await receive(ws, 3)
        assert all(f["stream"] == "btcusdt@aggTrade" for f in frames)
        assert len((await ask(ws, "LIST_SUBSCRIPTIONS", [], 1))["result"]) == 1_024
