"""Why a connection failed, in words that fit 80 columns: what the screen shows while the feed
reconnects (the countdown is the screen's own, never frozen into the words)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.asyncio.client import connect

from pairs_tui.feed.causes import connect_cause


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def failure(url: str) -> BaseException:
    try:
        async with connect(url, open_timeout=2):
            pass
    except BaseException as exc:
        return exc
    raise AssertionError(f"{url} connected")


async def test_a_refused_connection_reads_refused() -> None:
    exc = await failure(f"ws://127.0.0.1:{closed_port()}/market/stream")
    assert connect_cause(exc) == "refused"


async def test_an_http_error_at_the_handshake_reads_its_status() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        exc = await failure(f"ws://127.0.0.1:{port}/market/stream")
    assert connect_cause(exc) == "HTTP 503"


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (socket.gaierror(-3, "Temporary failure in name resolution"), "no network (DNS)"),
        (TimeoutError(), "timed out"),
        (OSError(101, "Network is unreachable"), "no network (unreachable)"),
        (OSError("x" * 100), "x" * 39 + "…"),
    ],
)
def test_every_cause_fits_in_a_few_words(exc: BaseException, words: str) -> None:
    assert connect_cause(exc) == words
