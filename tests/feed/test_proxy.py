"""Proxies from the environment: REST and the WebSocket go through one to a remote exchange, and
never to a loopback one. A tiny HTTP proxy runs in the test (CONNECT tunnels, and absolute-form
requests, which an HTTP client sends for a plain ``http://`` target), in front of the embedded
exchange bound to this machine's first address that is not loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest

from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.feed.routes import proxy_for

from .conftest import FeedStarter, Recorder


def outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: a route is chosen, nothing is sent
        except OSError:
            return None
        address: str = sock.getsockname()[0]
    return None if address.startswith("127.") else address


class HttpProxy:
    """A minimal HTTP proxy on 127.0.0.1 that records what it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        """``CONNECT host:port`` and ``GET http://...`` lines, in arrival order."""
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._relays):
            task.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, version = head.split(b"\r\n", 1)[0].decode().split(" ")
            self.asked.append(f"{method} {target}")
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:  # absolute form: GET http://host:port/path HTTP/1.1
                url = urlsplit(target)
                assert url.hostname is not None and url.port is not None
                up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port)
                path = url.path + (f"?{url.query}" if url.query else "")
                rest = head.split(b"\r\n", 1)[1]
                up_writer.write(f"{method} {path} {version}\r\n".encode() + rest)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            self._relays.discard(task)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65_536):
            sink.write(data)
            await sink.drain()
    finally:
        with contextlib.suppress(OSError):
            sink.close()


@pytest.fixture
def address() -> Iterator[str]:
    found = outward_address()
    if found is None:
        pytest.skip("this machine has no address but loopback")
    yield found


@pytest.fixture
async def proxy() -> AsyncIterator[HttpProxy]:
    running = HttpProxy()
    await running.start()
    yield running
    await running.stop()


def test_the_environment_names_the_proxy_and_loopback_is_always_direct() -> None:
    env = {"HTTPS_PROXY": "http://p:3128", "http_proxy": "p:8080", "ALL_PROXY": "socks5://s:1080"}
    assert proxy_for("https://fapi.binance.com", env) == "http://p:3128"
    assert proxy_for("wss://fstream.binance.com", env) == "http://p:3128"
    assert proxy_for("ws://10.1.2.3:8765", env) == "http://p:8080"
    assert proxy_for("wss://x.example", {"ALL_PROXY": "socks5://s:1080"}) == "socks5://s:1080"
    for loopback in ("ws://127.0.0.1:1", "http://localhost:2", "http://[::1]:3"):
        assert proxy_for(loopback, env) is None
    for no_proxy in ("*", ".binance.com", "binance.com", "fapi.binance.com:443,other"):
        assert proxy_for("https://fapi.binance.com:443", {**env, "NO_PROXY": no_proxy}) is None
    assert proxy_for("http://10.1.2.3:80", {**env, "no_proxy": "10.0.0.0/8"}) is None
    assert proxy_for("https://fapi.binance.com", {"NO_PROXY": "x"}) is None  # none named


async def test_rest_and_websocket_go_through_the_proxy_but_never_to_loopback(
    address: str,
    proxy: HttpProxy,
    sim_tape: TradeTape,
    run_feed: FeedStarter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with EmbeddedExchange(sim_tape, host=address, speed=0) as remote:
        recorder = Recorder(expected=len(sim_tape))
        feed = run_feed(remote, recorder, rest_url=remote.rest_url)
        assert feed.rest.proxy == proxy.url
        await recorder.wait_until(recorder.reached.is_set)
        hostport = f"{address}:{remote.port}"
        assert f"CONNECT {hostport}" in proxy.asked  # the WebSocket, tunnelled
        for path in ("/fapi/v1/exchangeInfo", "/fapi/v1/time"):
            assert f"GET http://{hostport}{path}" in proxy.asked  # REST, forwarded
        assert remote.requests[:2] == ["/fapi/v1/exchangeInfo", "/fapi/v1/time"]

    async with EmbeddedExchange(sim_tape, speed=0) as local:  # 127.0.0.1
        recorder = Recorder(expected=len(sim_tape))
        feed = run_feed(local, recorder)
        assert feed.rest.proxy is None
        await recorder.wait_until(recorder.reached.is_set)
        assert await BinanceRest(local.rest_url).server_time_ms() > 0
        assert local.requests[:2] == ["/fapi/v1/exchangeInfo", "/fapi/v1/time"]
    assert not [line for line in proxy.asked if "127.0.0.1" in line]  # loopback: direct
