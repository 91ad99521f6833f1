"""What a REST call can fail with, read from Binance's answers.

Binance answers errors with a JSON body ``{"code": -1121, "msg": "Invalid symbol."}`` and an HTTP
status: 4xx for the caller's mistakes, 5xx for its own, 429 when the IP is over its request
weight, 418 when the IP is banned for having gone on after 429s.
"""

from __future__ import annotations

import msgspec

from pairs_tui.feed.schemas.rest import ApiError


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


class RateLimited(BinanceApiError):
    """HTTP 429 again after every retry: the IP is over its request weight.

    Args:
        retry_after_s: The last ``Retry-After``, seconds (None when not sent).
        msg: Binance's message.
    """

    def __init__(self, retry_after_s: float | None, msg: str) -> None:
        super().__init__(429, -1003, msg)
        self.retry_after_s = retry_after_s
        """What the server last asked to wait, seconds."""


class IpBanned(BinanceApiError):
    """HTTP 418: the IP is banned for having gone on after 429s. History stops; the live
    stream is not affected.

    Args:
        until_ms: When the ban ends, ms since the epoch.
        msg: Binance's message.
    """

    def __init__(self, until_ms: float, msg: str) -> None:
        super().__init__(418, -1003, msg)
        self.until_ms = until_ms
        """When the ban ends, ms since the epoch."""


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


_error_decoder = msgspec.json.Decoder(ApiError)


def error_message(body: bytes) -> str:
    """Binance's message in an error body, or the start of a body that is not Binance's."""
    try:
        return _error_decoder.decode(body).msg
    except msgspec.MsgspecError:
        return body[:200].decode("utf-8", "replace").strip()


def api_error(status: int, body: bytes) -> BinanceApiError:
    """The error an answer of ``status`` with ``body`` stands for.

    Args:
        status: The HTTP status (400 and up).
        body: The body, Binance's JSON or anything else.

    Returns:
        The error, with Binance's code (0 when the body was not Binance's).
    """
    try:
        err = _error_decoder.decode(body)
    except msgspec.MsgspecError:
        return BinanceApiError(status, 0, body[:200].decode("utf-8", "replace").strip())
    return BinanceApiError(status, err.code, err.msg)
