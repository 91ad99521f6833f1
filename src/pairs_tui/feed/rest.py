"""The REST client: the three calls the feed needs (exchange info, server time, aggregate
trades); the bodies are the Structs of :mod:`pairs_tui.feed.schemas.rest`.

Stdlib ``urllib`` run in a worker thread (``asyncio.to_thread``): three rare calls do not justify
an HTTP client dependency, and the thread keeps the event loop that owns the socket free.
Proxies from the environment are ignored, as for the WebSocket (``proxy=None``), so that a
loopback exchange is never sent through a corporate proxy.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import TypeVar

import msgspec

from pairs_tui.feed.schemas.rest import (
    AggTradeRow,
    ApiError,
    ExchangeInfo,
    ServerTime,
    SymbolInfo,
)

DEFAULT_REST_URL = "https://fapi.binance.com"
"""Binance USD-M Futures REST base."""

MAX_AGG_TRADES_LIMIT = 1000
"""The most rows ``/fapi/v1/aggTrades`` returns per call."""

_T = TypeVar("_T")


class RestError(Exception):
    """A REST call failed."""


class RestUnreachable(RestError):
    """The server could not be reached or did not answer in time."""


class BinanceApiError(RestError):
    """Binance answered with an error body ``{"code": -1121, "msg": "Invalid symbol."}``.

    Args:
        status: HTTP status.
        code: Binance's error code (0 when the body was not Binance's JSON).
        msg: Binance's message, or the start of the body.
    """

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"HTTP {status}, Binance error {code}: {msg}")
        self.status = status
        """HTTP status."""
        self.code = code
        """Binance's error code, e.g. -1121 for an invalid symbol."""
        self.msg = msg
        """Binance's message."""


class UnknownSymbolError(RestError):
    """A symbol the exchange does not list.

    Args:
        symbol: The symbol as given.
        known: How many symbols the exchange lists (0 when unknown).
    """

    def __init__(self, symbol: str, known: int = 0) -> None:
        listed = f" (it lists {known} symbols)" if known else ""
        super().__init__(f"unknown symbol {symbol.upper()}: the exchange does not list it{listed}")
        self.symbol = symbol.upper()
        """The unknown symbol, upper case."""


_rows_decoder = msgspec.json.Decoder(list[AggTradeRow], strict=False)
_info_decoder = msgspec.json.Decoder(ExchangeInfo, strict=False)
_time_decoder = msgspec.json.Decoder(ServerTime)
_error_decoder = msgspec.json.Decoder(ApiError)


class BinanceRest:
    """A minimal async client of Binance's USD-M market-data REST API.

    Args:
        base_url: REST base, e.g. ``https://fapi.binance.com`` or ``http://127.0.0.1:8765``.
        timeout_s: Per-request timeout.
    """

    def __init__(self, base_url: str = DEFAULT_REST_URL, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        """REST base without a trailing slash."""
        self.timeout_s = timeout_s
        """Per-request timeout, seconds."""
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    async def server_time_ms(self) -> int:
        """``GET /fapi/v1/time``.

        Returns:
            The server's clock, ms.

        Raises:
            RestError: The call failed.
        """
        body = await self._get("/fapi/v1/time", {})
        return _decode(_time_decoder, body).server_time

    async def exchange_info(self) -> dict[str, SymbolInfo]:
        """``GET /fapi/v1/exchangeInfo``.

        Returns:
            Every listed symbol by upper-case name.

        Raises:
            RestError: The call failed.
        """
        info = _decode(_info_decoder, await self._get("/fapi/v1/exchangeInfo", {}))
        return info.symbol_infos()

    async def check_symbols(self, symbols: Iterable[str]) -> dict[str, SymbolInfo]:
        """Check that the exchange lists every symbol.

        Args:
            symbols: Symbols in any case.

        Returns:
            The info of each symbol, by upper-case name.

        Raises:
            UnknownSymbolError: A symbol is not listed; the error names it.
            RestError: The call failed.
        """
        listed = await self.exchange_info()
        found: dict[str, SymbolInfo] = {}
        for symbol in symbols:
            info = listed.get(symbol.upper())
            if info is None:
                raise UnknownSymbolError(symbol, len(listed))
            found[info.symbol] = info
        return found

    async def agg_trades(
        self, symbol: str, from_id: int, limit: int = MAX_AGG_TRADES_LIMIT
    ) -> list[AggTradeRow]:
        """``GET /fapi/v1/aggTrades?symbol=&fromId=&limit=``.

        Args:
            symbol: Symbol in any case.
            from_id: First aggregate trade id wanted.
            limit: Rows wanted, 1 to 1000.

        Returns:
            Rows in id order, from ``from_id`` on (fewer than ``limit`` when caught up).

        Raises:
            UnknownSymbolError: Binance answered -1121 (invalid symbol).
            RestError: The call failed.
        """
        if not 1 <= limit <= MAX_AGG_TRADES_LIMIT:
            raise ValueError(f"limit must be 1 to {MAX_AGG_TRADES_LIMIT}, not {limit}")
        query = {"symbol": symbol.upper(), "fromId": str(from_id), "limit": str(limit)}
        try:
            body = await self._get("/fapi/v1/aggTrades", query)
        except BinanceApiError as exc:
            if exc.code == -1121:
                raise UnknownSymbolError(symbol) from exc
            raise
        return _decode(_rows_decoder, body)

    async def _get(self, path: str, query: dict[str, str]) -> bytes:
        url = f"{self.base_url}{path}"
        if query:
            url = f"{url}?{urllib.parse.urlencode(query)}"
        return await asyncio.to_thread(self._get_blocking, url)

    def _get_blocking(self, url: str) -> bytes:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            raise _api_error(exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RestUnreachable(f"{url}: {reason}") from None


def _api_error(status: int, body: bytes) -> BinanceApiError:
    try:
        err = _error_decoder.decode(body)
    except msgspec.MsgspecError:
        return BinanceApiError(status, 0, body[:200].decode("utf-8", "replace").strip())
    return BinanceApiError(status, err.code, err.msg)


def _decode(decoder: msgspec.json.Decoder[_T], body: bytes) -> _T:
    try:
        return decoder.decode(body)
    except msgspec.MsgspecError as exc:
        raise RestError(f"unexpected answer: {exc}") from None
