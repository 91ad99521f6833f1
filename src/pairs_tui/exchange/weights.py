"""Request weight: what each REST call costs, the budget per UTC minute, 429s and 418 bans.

Binance counts request weight per IP in the current wall-clock UTC minute (not a sliding window)
and reports it in ``X-MBX-USED-WEIGHT-1M`` on every response. Going over the limit answers HTTP
429 with ``Retry-After`` (seconds to the minute's end); a client that sends again before that is
banned with HTTP 418 for a while. One exchange stands for one IP.

Choices where Binance is unclear (see the module's tests): a request refused with 429 still adds
its weight (the header can show more than the limit); a request refused with 418 adds nothing; a
ban is not extended by requests made during it; forced faults add no weight.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import msgspec

from pairs_tui.exchange.faults import Faults
from pairs_tui.feed.weight import kline_weight

WEIGHT_LIMIT = 2400
"""Binance's ``REQUEST_WEIGHT`` per minute per IP on USD-M futures."""
BAN_S = 120.0
"""How long a 418 ban lasts here (Binance: from 2 minutes up to 3 days for repeat offenders)."""
WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
"""The response header with the weight used in the current minute, this request included."""


def weight_of(path: str, query: Mapping[str, list[str]]) -> int:
    """The weight Binance charges for ``GET path?query``.

    Args:
        path: The request path, e.g. ``/fapi/v1/klines``.
        query: The parsed query string.

    Returns:
        The weight: 1 for anything not listed (an unknown path included).
    """
    if path == "/fapi/v1/aggTrades":
        return 20
    if path in ("/fapi/v1/klines", "/fapi/v1/continuousKlines"):
        try:
            limit = int(query.get("limit", ["500"])[0])
        except ValueError:
            limit = 500
        return kline_weight(limit)
    if path == "/fapi/v1/ticker/24hr":
        return 1 if query.get("symbol") else 40
    if path == "/fapi/v1/premiumIndex":
        return 1 if query.get("symbol") else 10
    return 1


class RestCall(msgspec.Struct, frozen=True):
    """One REST request as the exchange answered it (what tests count)."""

    path: str
    """The request path, e.g. ``/fapi/v1/klines``."""
    query: str
    """The raw query string."""
    weight: int
    """The weight the request costs (whether or not it was counted)."""
    status: int
    """The HTTP status answered."""
    used: int
    """``X-MBX-USED-WEIGHT-1M`` as answered."""


class Refusal(msgspec.Struct, frozen=True):
    """A request refused for its rate: the status, ``Retry-After`` and Binance's body."""

    status: int
    """429 or 418."""
    retry_after_s: int
    """Seconds the client must wait."""
    code: int
    """Binance's error code (-1003)."""
    msg: str
    """Binance's message."""


class RequestWeights:
    """The weight budget of one IP: counts each minute's weight, refuses, bans.

    Args:
        limit: Weight allowed per UTC minute.
        ban_s: Length of a 418 ban, seconds.
        faults: Forced 429s and 418s (``Faults.too_many_requests``, ``Faults.ban_next``).
        clock: Wall clock in seconds since the epoch (``time.time``; tests pass their own).
    """

    def __init__(
        self,
        limit: int = WEIGHT_LIMIT,
        ban_s: float = BAN_S,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError(f"weight limit must be >= 1, not {limit}")
        self.limit = limit
        """Weight allowed per UTC minute."""
        self.ban_s = ban_s
        """Length of a 418 ban, seconds."""
        self.faults = faults or Faults()
        """Forced refusals."""
        self.clock = clock
        """Wall clock, seconds."""
        self._minute = -1
        self._used = 0
        self._wait_until = 0.0
        self._banned_until = 0.0

    @property
    def used(self) -> int:
        """Weight used in the current minute."""
        return self._used if self._minute == int(self.clock() // 60) else 0

    def admit(self, weight: int) -> Refusal | None:
        """Count a request of ``weight``, or refuse it.

        Args:
            weight: What the request costs.

        Returns:
            None when it may be answered, else the refusal to send.
        """
        now = self.clock()
        minute = int(now // 60)
        if minute != self._minute:
            self._minute, self._used = minute, 0
        if now < self._banned_until:
            return self._ban_refusal(now)
        if now < self._wait_until:
            self._banned_until = now + self.ban_s
            return self._ban_refusal(now)
        faults = self.faults
        if faults.ban_next:
            faults.ban_next = False
            self._banned_until = now + self.ban_s
            return self._ban_refusal(now)
        if faults.too_many_requests > 0:
            faults.too_many_requests -= 1
            retry_after = max(0, faults.retry_after_s)
            self._wait_until = now + retry_after
            return self._limit_refusal(retry_after)
        self._used += weight
        if self._used > self.limit:
            self._wait_until = (minute + 1) * 60.0
            return self._limit_refusal(math.ceil(self._wait_until - now))
        return None

    def _limit_refusal(self, retry_after_s: int) -> Refusal:
        msg = (
            f"Too many requests; current limit of IP(127.0.0.1) is {self.limit} requests per "
            "minute. Please use the websocket for live updates to avoid polling the API."
        )
        return Refusal(429, retry_after_s, -1003, msg)

    def _ban_refusal(self, now: float) -> Refusal:
        until_ms = round(self._banned_until * 1000)
        msg = (
            f"Way too many requests; IP(127.0.0.1) banned until {until_ms}. Please use the "
            "websocket for live updates to avoid bans."
        )
        return Refusal(418, math.ceil(self._banned_until - now), -1003, msg)
