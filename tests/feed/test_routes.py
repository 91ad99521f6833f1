"""Where the client connects: the 2026 stream routes and the REST base of a WebSocket base."""

from __future__ import annotations

import pytest

from pairs_tui.feed.routes import base_url, rest_url_for, stream_url


def test_rest_url_follows_a_loopback_websocket() -> None:
    assert rest_url_for("ws://127.0.0.1:8765") == "http://127.0.0.1:8765"
    assert rest_url_for("ws://localhost:9000/market") == "http://localhost:9000"
    assert rest_url_for("wss://fstream.binance.com") == "https://fapi.binance.com"
    assert rest_url_for("ws://10.0.0.5:8765") == "https://fapi.binance.com"
    assert rest_url_for("ws://127.0.0.1:1", "http://proxy:8080/") == "http://proxy:8080"


def test_stream_urls_pick_the_route_of_their_stream() -> None:
    names = ["btcusdt@aggTrade", "ethusdt@aggTrade"]
    assert stream_url("wss://fstream.binance.com", "aggTrade", names) == (
        "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"
    )
    assert stream_url("ws://127.0.0.1:8765/", "trade", ["btcusdt@trade"]) == (
        "ws://127.0.0.1:8765/public/stream?streams=btcusdt@trade"
    )


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("wss://fstream.binance.com", "wss://fstream.binance.com"),
        ("wss://fstream.binance.com/", "wss://fstream.binance.com"),
        ("wss://fstream.binance.com/ws", "wss://fstream.binance.com"),
        ("wss://fstream.binance.com/stream?streams=x", "wss://fstream.binance.com"),
        ("ws://127.0.0.1:8765/market", "ws://127.0.0.1:8765"),
        ("wss://proxy.example/binance/public/ws/btcusdt@trade", "wss://proxy.example/binance"),
    ],
)
def test_a_route_in_the_base_is_dropped(
    given: str, base: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert base_url(given) == base
    dropped = any("ignoring the route" in r.getMessage() for r in caplog.records)
    assert dropped == (given.rstrip("/") != base)
