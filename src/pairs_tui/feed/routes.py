"""Where the client connects and how: Binance's stream routes since the 2026 split, the REST
base that goes with a WebSocket base, and the proxy (if any) in between.

``aggTrade`` and ``markPrice`` live on ``/market``, ``@trade`` on ``/public``; the retired
``/stream`` and ``/ws`` still accept and acknowledge, and send nothing, so the client always picks
the route itself.

Proxies come from the environment as curl and most tools read it (``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, either case), for REST and the WebSocket alike; a
loopback host (the embedded exchange) is always reached directly, whatever they say, so that a
corporate proxy never sits between the demo and its own server.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("pairs_tui.feed")

DEFAULT_WS_URL = "wss://fstream.binance.com"
"""Binance USD-M Futures WebSocket host."""
DEFAULT_REST_URL = "https://fapi.binance.com"
"""Binance USD-M Futures REST base."""

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
    if parts.scheme == "ws" and is_loopback(parts.hostname or ""):
        return f"http://{parts.netloc}"
    return DEFAULT_REST_URL


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine's loopback (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    return False


_PROXY_KEYS: dict[str, tuple[str, ...]] = {
    "https": ("https", "all"),
    "wss": ("https", "all"),
    "http": ("http", "all"),
    "ws": ("http", "all"),
}
"""Which environment proxies serve each scheme, in order (``https`` is ``HTTPS_PROXY``, ``all``
is ``ALL_PROXY``); WebSockets over TLS go where HTTPS goes, plain ones where HTTP goes."""


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy to reach ``url`` through, from the environment.

    Args:
        url: The target, ``https://``, ``http://``, ``wss://`` or ``ws://``.
        environ: The environment to read (``os.environ`` by default; tests pass their own).

    Returns:
        The proxy URL (``http://host:port``, ``socks5://host:port``...), or None to connect
        directly: always for a loopback host, for a host ``NO_PROXY`` lists, and when no
        variable names a proxy for the scheme.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_loopback(host):
        return None
    proxies = urllib.request.getproxies_environment() if environ is None else _proxies_of(environ)
    if _bypassed(host, parts.port, proxies.get("no", "")):
        return None
    for key in _PROXY_KEYS.get(parts.scheme, ("all",)):
        proxy = proxies.get(key)
        if proxy:
            return proxy if "://" in proxy else f"http://{proxy}"
    return None


def _proxies_of(environ: Mapping[str, str]) -> dict[str, str]:
    """``urllib``'s reading of proxy variables, from a given environment: the lower-case name
    wins over the upper-case one, as curl has it."""
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        if value and name.lower().endswith("_proxy"):
            proxies.setdefault(name.lower()[: -len("_proxy")], value)
    for name, value in environ.items():
        if value and name.endswith("_proxy"):
            proxies[name[: -len("_proxy")]] = value
    return proxies


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


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` lists the host: ``*``, the name or a parent domain (``.example.com``
    or ``example.com``), ``name:port``, an address or a network (``10.0.0.0/8``), as curl reads
    it."""
    host = host.lower().strip("[]")
    address = None
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.strip("[]").lstrip(".")
        if address is not None and "/" in name:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            continue
        if host == name or host.endswith("." + name):
            return True
    return False
