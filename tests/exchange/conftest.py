"""A bare client for the exchange tests: open a stream route, read frames, check for silence.

The tapes and the exchanges themselves are fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from pairs_tui.exchange.server import EmbeddedExchange

AGG_KEYS_2026 = ["e", "E", "a", "s", "p", "q", "nq", "f", "l", "T", "m", "st"]
"""The keys of an ``aggTrade`` payload since 2026, in Binance's order."""


async def open_stream(ex: EmbeddedExchange, path: str) -> ClientConnection:
    """Connect to a WebSocket route of ``ex``, e.g. ``/market/stream?streams=...``."""
    # max_queue=None: a test that stops reading must not stall its own closing handshake
    # behind unread frames.
    return await connect(ex.url + path, proxy=None, compression=None, max_queue=None)


async def receive(ws: ClientConnection, n: int, timeout: float = 5.0) -> list[dict[str, object]]:
    """The next ``n`` messages, decoded."""
    async with asyncio.timeout(timeout):
        return [json.loads(await ws.recv()) for _ in range(n)]


async def assert_silent(ws: ClientConnection, request_id: int) -> None:
    """Nothing was queued on ``ws``: the answer to a request sent now is the next message."""
    await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
    (reply,) = await receive(ws, 1)
    assert reply.get("id") == request_id, f"data arrived on a silent stream: {reply}"


def http_get(url: str) -> tuple[int, dict[str, object] | list[object]]:
    """``GET url`` without proxies: the status and the decoded JSON body, errors included."""
    status, _, body = http_call(url)
    return status, body


def http_call(url: str) -> tuple[int, dict[str, str], Any]:
    """``GET url`` without proxies: the status, the headers (lower-case names) and the decoded
    JSON body, errors included."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        headers = {k.lower(): v for k, v in exc.headers.items()}
        return exc.code, headers, json.loads(exc.read())


async def rest(ex: EmbeddedExchange, path: str) -> tuple[int, dict[str, str], Any]:
    """``GET`` a REST path of ``ex`` (with its query) off the event loop."""
    return await asyncio.to_thread(http_call, ex.rest_url + path)


class ManualClock:
    """A wall clock that moves only when told (for the weight minutes and bans)."""

    def __init__(self, now: float) -> None:
        self.now = now
        """Seconds since the epoch."""

    def __call__(self) -> float:
        return self.now


async def paged_klines(ex: EmbeddedExchange, path: str, start_ms: int, end_ms: int) -> list[Any]:
    """Every kline of ``path`` (a klines or continuousKlines path with its query) opening in
    ``[start_ms, end_ms]``, paged 1,500 at a time."""
    rows: list[Any] = []
    while True:
        _, _, page = await rest(ex, f"{path}&startTime={start_ms}&endTime={end_ms}&limit=1500")
        rows += page
        if len(page) < 1500:
            return rows
        start_ms = page[-1][0] + 1
