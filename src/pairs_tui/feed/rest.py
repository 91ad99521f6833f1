"""The REST client of Binance's USD-M market data: one keep-alive HTTP client, weight-budgeted.

Every call goes through one ``httpx.AsyncClient`` (connections are reused) and one
:class:`~pairs_tui.feed.weight.WeightBudget`, shared by every user of the client: the feed's
backfill, history, the scanner and carry. Before a request that would cross the limit minus the
margin, the budget waits for the next minute; a 429 waits its ``Retry-After`` and is retried a
few times; a 418 (an IP ban) raises :class:`IpBanned` at once and every later call fails fast
until the ban ends, because asking during a ban makes it longer. The bodies are the Structs of
:mod:`pairs_tui.feed.schemas.rest`.

A proxy from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) is
used for a remote host; a loopback host is always reached directly (:mod:`pairs_tui.feed.routes`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from typing import TypeVar

import httpx
import msgspec

from pairs_tui.feed.errors import (
    BinanceApiError,
    IpBanned,
    RateLimited,
    RestError,
    RestUnreachable,
    UnknownSymbolError,
    api_error,
    error_message,
)
from pairs_tui.feed.routes import DEFAULT_REST_URL, proxy_for
from pairs_tui.feed.schemas.rest import (
    AggTradeRow,
    ExchangeInfo,
    FundingInfo,
    FundingRate,
    Kline,
    PremiumIndex,
    ServerTime,
    SymbolInfo,
    Ticker24hr,
)
from pairs_tui.feed.weight import FUNDING_ROUTES, RequestCount, WeightBudget, weight_of

log = logging.getLogger("pairs_tui.feed")
# httpx logs every request at INFO, URL and query included: noise on stderr in headless mode,
# and a webhook's token in the log (see pairs_tui.sinks.webhook).
logging.getLogger("httpx").setLevel(logging.WARNING)

MAX_AGG_TRADES_LIMIT = 1000
"""The most rows ``/fapi/v1/aggTrades`` returns per call."""
MAX_KLINES_LIMIT = 1500
"""The most rows ``/fapi/v1/klines`` and ``/fapi/v1/continuousKlines`` return per call."""
MAX_FUNDING_LIMIT = 1000
"""The most rows ``/fapi/v1/fundingRate`` returns per call."""
RETRIES_429 = 3
"""How many times a request answered 429 is retried (each after its ``Retry-After``)."""
_MIN_BAN_MS = 120_000
"""Binance's shortest IP ban: what a 418 without a stated end is taken to last."""
_RETRY_GUARD_S = 0.05
"""Waited past a ``Retry-After``, for the difference between the server's clock and ours."""
_BANNED_UNTIL = re.compile(r"banned until (\d{12,})")

_T = TypeVar("_T")


_agg_decoder = msgspec.json.Decoder(list[AggTradeRow], strict=False)
_klines_decoder = msgspec.json.Decoder(list[Kline], strict=False)
_info_decoder = msgspec.json.Decoder(ExchangeInfo, strict=False)
_time_decoder = msgspec.json.Decoder(ServerTime)
_ticker_decoder = msgspec.json.Decoder(Ticker24hr, strict=False)
_tickers_decoder = msgspec.json.Decoder(list[Ticker24hr], strict=False)
_premium_decoder = msgspec.json.Decoder(PremiumIndex, strict=False)
_premiums_decoder = msgspec.json.Decoder(list[PremiumIndex], strict=False)
_funding_info_decoder = msgspec.json.Decoder(list[FundingInfo], strict=False)
_funding_decoder = msgspec.json.Decoder(list[FundingRate], strict=False)


class BinanceRest:
    """An async client of Binance's USD-M market-data REST API.

    Args:
        base_url: REST base, e.g. ``https://fapi.binance.com`` or ``http://127.0.0.1:8765``.
        timeout_s: Per-request timeout (connect, read and write each).
        budget: The request-weight budget; a fresh one (2,400 a minute, 10% kept free) by
            default. Exchange info's ``rateLimits`` set its limit.
        retries_429: How many times a 429 is waited out and retried.
        proxy: The proxy to use; by default the environment's for a remote host, none for a
            loopback one.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_REST_URL,
        *,
        timeout_s: float = 10.0,
        budget: WeightBudget | None = None,
        retries_429: int = RETRIES_429,
        proxy: str | bool | None = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        """REST base without a trailing slash."""
        self.timeout_s = timeout_s
        """Per-request timeout, seconds."""
        self.budget = budget or WeightBudget()
        """The request weight of this client's IP, shared by all its users."""
        self.funding_requests = RequestCount()
        """The funding routes' own limit (500 requests per 5 minutes)."""
        self.retries_429 = retries_429
        """Retries of a request answered 429."""
        self.proxy: str | None = proxy_for(self.base_url) if proxy is True else (proxy or None)
        """The proxy requests go through, or None for a direct connection."""
        self.banned_until_ms: float | None = None
        """End of an IP ban (418), ms on the budget's clock; None when not banned."""
        self.rate_limited = 0
        """429 answers received."""
        self.requests = 0
        """Requests sent."""
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def aclose(self) -> None:
        """Close the pooled connections; a later call opens new ones."""
        http, self._http = self._http, None
        if http is not None and self._loop is asyncio.get_running_loop():
            await http.aclose()

    # -- endpoints ------------------------------------------------------------------------------

    async def server_time_ms(self) -> int:
        """``GET /fapi/v1/time`` (weight 1).

        Returns:
            The server's clock, ms.

        Raises:
            RestError: The call failed.
        """
        return _decode(_time_decoder, await self._get("/fapi/v1/time", {})).server_time

    async def exchange_info(self) -> dict[str, SymbolInfo]:
        """``GET /fapi/v1/exchangeInfo`` (weight 1); its ``rateLimits`` set the budget's limit.

        Returns:
            Every listed symbol (status, contract type, quote and margin asset, tick and step
            size, price and quantity precision) by upper-case name.

        Raises:
            RestError: The call failed.
        """
        info = _decode(_info_decoder, await self._get("/fapi/v1/exchangeInfo", {}))
        limit = info.weight_limit()
        if limit is not None:
            self.budget.set_limit(limit)
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
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = MAX_AGG_TRADES_LIMIT,
    ) -> list[AggTradeRow]:
        """``GET /fapi/v1/aggTrades`` (weight 20): by id, by time, or the latest.

        Args:
            symbol: Symbol in any case.
            from_id: First aggregate trade id wanted.
            start_ms: First trade time wanted, ms (Binance keeps about two days).
            end_ms: Last trade time wanted, ms (less than an hour after ``start_ms``).
            limit: Rows wanted, 1 to 1000.

        Returns:
            Rows in id order (fewer than ``limit`` when caught up); the latest ``limit`` without
            ``from_id`` or times.

        Raises:
            ValueError: A limit out of range, or an id together with times (Binance warns that
                it may time out).
            UnknownSymbolError: Binance answered -1121 (invalid symbol).
            RestError: The call failed.
        """
        _check_limit(limit, MAX_AGG_TRADES_LIMIT)
        if from_id is not None and (start_ms is not None or end_ms is not None):
            raise ValueError("agg_trades takes from_id or start_ms/end_ms, not both")
        query = {"symbol": symbol.upper()}
        _put(query, fromId=from_id, startTime=start_ms, endTime=end_ms, limit=limit)
        return _decode(_agg_decoder, await self._get_symbol("/fapi/v1/aggTrades", query))

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 499,
    ) -> list[Kline]:
        """``GET /fapi/v1/klines``: bars of one symbol (weight 1, 2, 5 or 10 by ``limit``).

        Args:
            symbol: Symbol in any case.
            interval: ``1m``, ``5m``, ``1h``... (``1s`` is refused: see
                :meth:`continuous_klines`).
            start_ms: Open time of the first bar wanted, ms.
            end_ms: Open time of the last bar wanted, ms.
            limit: Rows wanted, 1 to 1500; the default 499 gets the most rows per weight.

        Returns:
            Bars in time order, the one still open included when the window reaches now.

        Raises:
            ValueError: A limit out of range.
            UnknownSymbolError: Binance answered -1121.
            RestError: The call failed (an invalid interval is -1120).
        """
        _check_limit(limit, MAX_KLINES_LIMIT)
        query = {"symbol": symbol.upper(), "interval": interval}
        _put(query, startTime=start_ms, endTime=end_ms, limit=limit)
        return _decode(_klines_decoder, await self._get_symbol("/fapi/v1/klines", query))

    async def continuous_klines(
        self,
        pair: str,
        interval: str,
        *,
        contract_type: str = "PERPETUAL",
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 499,
    ) -> list[Kline]:
        """``GET /fapi/v1/continuousKlines``: bars of a pair's contract, ``1s`` included.

        Args:
            pair: The underlying pair (a perpetual's symbol), any case.
            interval: ``1s``, ``1m``, ``5m``...
            contract_type: ``PERPETUAL``, ``CURRENT_QUARTER`` or ``NEXT_QUARTER``.
            start_ms: Open time of the first bar wanted, ms.
            end_ms: Open time of the last bar wanted, ms.
            limit: Rows wanted, 1 to 1500 (weight as for :meth:`klines`).

        Returns:
            Bars in time order.

        Raises:
            ValueError: A limit out of range.
            UnknownSymbolError: Binance answered -1121.
            RestError: The call failed.
        """
        _check_limit(limit, MAX_KLINES_LIMIT)
        query = {"pair": pair.upper(), "contractType": contract_type, "interval": interval}
        _put(query, startTime=start_ms, endTime=end_ms, limit=limit)
        body = await self._get_symbol("/fapi/v1/continuousKlines", query, name=pair)
        return _decode(_klines_decoder, body)

    async def ticker_24hr(self, symbol: str | None = None) -> list[Ticker24hr]:
        """``GET /fapi/v1/ticker/24hr``: 24-hour statistics (weight 1 for one symbol, 40 for
        all).

        Args:
            symbol: One symbol, or None for every symbol.

        Returns:
            One row per symbol (a single row for ``symbol``).

        Raises:
            UnknownSymbolError: Binance answered -1121.
            RestError: The call failed.
        """
        if symbol is None:
            return _decode(_tickers_decoder, await self._get("/fapi/v1/ticker/24hr", {}))
        body = await self._get_symbol("/fapi/v1/ticker/24hr", {"symbol": symbol.upper()})
        return [_decode(_ticker_decoder, body)]

    async def premium_index(self, symbol: str | None = None) -> list[PremiumIndex]:
        """``GET /fapi/v1/premiumIndex``: mark, index and funding now (weight 1 for one symbol,
        10 for all).

        Args:
            symbol: One symbol, or None for every symbol.

        Returns:
            One row per symbol (a single row for ``symbol``); :meth:`PremiumIndex.to_mark`
            makes each a :class:`~pairs_tui.records.MarkPrice`.

        Raises:
            UnknownSymbolError: Binance answered -1121.
            RestError: The call failed.
        """
        if symbol is None:
            return _decode(_premiums_decoder, await self._get("/fapi/v1/premiumIndex", {}))
        body = await self._get_symbol("/fapi/v1/premiumIndex", {"symbol": symbol.upper()})
        return [_decode(_premium_decoder, body)]

    async def funding_info(self) -> list[FundingInfo]:
        """``GET /fapi/v1/fundingInfo``: the symbols whose funding differs from the default
        (every 8 hours); shares 500 requests per 5 minutes with :meth:`funding_rate`.

        Returns:
            One row per listed symbol.

        Raises:
            RestError: The call failed.
        """
        return _decode(_funding_info_decoder, await self._get("/fapi/v1/fundingInfo", {}))

    async def funding_rate(
        self,
        symbol: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
    ) -> list[FundingRate]:
        """``GET /fapi/v1/fundingRate``: past fundings of one symbol.

        Args:
            symbol: Symbol in any case.
            start_ms: Earliest funding time wanted, ms (inclusive).
            end_ms: Latest funding time wanted, ms (inclusive).
            limit: Rows wanted, 1 to 1000; the latest ``limit`` without times.

        Returns:
            Fundings in time order.

        Raises:
            ValueError: A limit out of range.
            UnknownSymbolError: Binance answered -1121.
            RestError: The call failed.
        """
        _check_limit(limit, MAX_FUNDING_LIMIT)
        query = {"symbol": symbol.upper()}
        _put(query, startTime=start_ms, endTime=end_ms, limit=limit)
        return _decode(_funding_decoder, await self._get_symbol("/fapi/v1/fundingRate", query))

    # -- the wire -------------------------------------------------------------------------------

    async def _get_symbol(self, path: str, query: dict[str, str], name: str = "") -> bytes:
        """A call about one symbol: Binance's -1121 becomes :class:`UnknownSymbolError`."""
        try:
            return await self._get(path, query)
        except BinanceApiError as exc:
            if exc.code == -1121:
                raise UnknownSymbolError(name or query.get("symbol", "")) from exc
            raise

    async def _get(self, path: str, query: dict[str, str]) -> bytes:
        """One GET, within the budget: 429s waited out and retried, a 418 raised.

        Raises:
            IpBanned: The IP is banned (now, or since an earlier 418 that has not ended).
            RateLimited: Still 429 after every retry.
            BinanceApiError: Any other error status.
            RestUnreachable: No answer.
        """
        weight = weight_of(path, query)
        for attempt in range(self.retries_429 + 1):
            self._check_ban()
            if path in FUNDING_ROUTES:
                await self.funding_requests.spend()
            await self.budget.spend(weight)
            reported: int | None = None
            try:
                self.requests += 1
                response = await self._client().get(path, params=query)
                reported = _used_weight(response)
            except httpx.HTTPError as exc:
                raise RestUnreachable(f"{self.base_url}{path}: {_why(exc)}") from None
            finally:
                self.budget.settle(weight, reported)
            status = response.status_code
            if status < 400:
                return response.content
            if status == 418:
                raise self._banned(response)
            if status != 429:
                raise api_error(status, response.content)
            self.rate_limited += 1
            wait_s = _retry_after_s(response)
            if attempt == self.retries_429:
                raise RateLimited(wait_s, error_message(response.content))
            if wait_s is None:
                wait_s = max(0.0, (self.budget.next_window_ms() - self.budget.now_ms()) / 1000)
            log.warning("%s answered 429: waiting %.1f s as asked, then retrying", path, wait_s)
            # A little past the wait: asking even a moment early is what earns a ban.
            await asyncio.sleep(wait_s + _RETRY_GUARD_S)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _client(self) -> httpx.AsyncClient:
        """The pooled client of the running event loop (connections belong to one loop)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=httpx.Timeout(self.timeout_s),
                proxy=self.proxy,
                trust_env=False,  # proxies are chosen by proxy_for, loopback always direct
                headers={"Accept": "application/json"},
            )
            self._loop = loop
        return self._http

    def _check_ban(self) -> None:
        until = self.banned_until_ms
        if until is not None:
            if self.budget.now_ms() < until:
                raise IpBanned(until, f"the IP is banned until {_clock(until)}: not asking")
            self.banned_until_ms = None

    def _banned(self, response: httpx.Response) -> IpBanned:
        msg = error_message(response.content)
        stated = _BANNED_UNTIL.search(msg)
        retry_after = _retry_after_s(response)
        now = self.budget.now_ms()
        if stated:
            until = float(stated[1])
        elif retry_after is not None:
            until = now + retry_after * 1000.0
        else:
            until = now + _MIN_BAN_MS
        self.banned_until_ms = until
        log.error("the exchange banned this IP until %s (HTTP 418): %s", _clock(until), msg)
        return IpBanned(until, msg)


def _check_limit(limit: int, most: int) -> None:
    if not 1 <= limit <= most:
        raise ValueError(f"limit must be 1 to {most}, not {limit}")


def _put(query: dict[str, str], **values: int | None) -> None:
    """Add the parameters that are set, in the order given (Binance's documented order)."""
    for key, value in values.items():
        if value is not None:
            query[key] = str(int(value))


def _used_weight(response: httpx.Response) -> int | None:
    value = response.headers.get("X-MBX-USED-WEIGHT-1M")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _why(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    return str(exc) or type(exc).__name__


def _clock(ms: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000.0))


def _decode(decoder: msgspec.json.Decoder[_T], body: bytes) -> _T:
    try:
        return decoder.decode(body)
    except msgspec.MsgspecError as exc:
        raise RestError(f"unexpected answer: {exc}") from None
