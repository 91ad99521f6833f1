"""Where the client connects: Binance's stream routes since the 2026 split, and the REST base
that goes with a WebSocket base.

``aggTrade`` lives on ``/market``, ``@trade`` on ``/public``; the retired ``/stream`` and ``/ws``
still accept and acknowledge, and send nothing, so the client always picks the route itself.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pairs_tui.feed.rest import DEFAULT_REST_URL

log = logging.getLogger("pairs_tui.feed")

DEFAULT_WS_URL = "wss://fstream.binance.com"
"""Binance USD-M Futures WebSocket host."""

StreamKind = Literal["aggTrade", "trade"]
"""The trade streams the client subscribes to."""

ROUTES: dict[str, str] = {"aggTrade": "market", "trade": "public"}
"""The route each stream lives on since Binance's 2026 split."""
_BASE_SUFFIXES = ("/market", "/public", "/private", "/stream", "/ws")


def stream_url(url: str, stream: StreamKind, names: Sequence[str]) -> str:
    """The combined-stream URL of ``names`` on the route of ``stream``.

    Args:
        url: WebSocket base; a route in it is dropped (see :func:`base_url`).
        stream: The kind of stream, which picks the route.
        names: Stream names, lower case (Binance acknowledges upper-case names and sends
            nothing).

    Returns:
        E.g. ``wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/...``.
    """
    return f"{base_url(url)}/{ROUTES[stream]}/stream?streams={'/'.join(names)}"


def rest_url_for(url: str, rest_url: str | None = None) -> str:
    """The REST base that goes with a WebSocket base.

    Args:
        url: WebSocket base, e.g. ``wss://fstream.binance.com`` or ``ws://127.0.0.1:8765``.
        rest_url: An explicit REST base, which wins.

    Returns:
        ``rest_url`` if given; the same host and port over ``http://`` for a loopback ``ws://``
        address (the embedded exchange serves both on one port); else Binance's REST base.
    """
    if rest_url:
        return rest_url.rstrip("/")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "ws":
        loopback = host == "localhost"
        with contextlib.suppress(ValueError):
            loopback = loopback or ipaddress.ip_address(host).is_loopback
        if loopback:
            return f"http://{parts.netloc}"
    return DEFAULT_REST_URL


def base_url(url: str) -> str:
    """The WebSocket base without a route, which the feed chooses itself."""
    parts = urlsplit(url.rstrip("/"))
    path = parts.path
    for suffix in _BASE_SUFFIXES:
        if suffix in path:
            log.warning("ignoring the route %r in %s: the feed picks it", path, url)
            path = path[: path.index(suffix)]
            break
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
