"""Binance's request-weight limit, kept by the client rather than discovered by a ban.

Binance limits each IP to a request weight per minute (2,400 on USD-M, from exchange info's
``rateLimits``); each endpoint costs a weight that may depend on its parameters
(:func:`weight_of`), and every response reports the weight used so far in the current window
(``X-MBX-USED-WEIGHT-1M``). The window is the clock minute, not a sliding minute (measured on
Binance by polyoxide). Going over earns a 429 with ``Retry-After``; going on earns a 418, an IP
ban of 2 minutes to 3 days.

:class:`WeightBudget` holds one IP's count: what the server last reported plus what is in flight,
and makes a request that would cross the limit minus a margin wait for the next minute. One budget
is shared by every user of a client (the feed's backfill, history, the scanner, carry), so that
none of them can spend what another needs.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping

DEFAULT_WEIGHT_LIMIT = 2400
"""Binance USD-M's request weight per minute per IP."""
DEFAULT_MARGIN = 0.1
"""Share of the limit kept free: for clock differences and for other programs on the same IP."""
WINDOW_MS = 60_000
"""Binance's window: the clock minute."""
_GUARD_MS = 250
"""Waited past the minute's end, for the difference between our clock and the server's."""

FUNDING_ROUTES = ("/fapi/v1/fundingRate", "/fapi/v1/fundingInfo")
"""The routes that share a limit of their own instead of costing request weight."""
FUNDING_LIMIT = 500
"""Requests to the funding routes allowed per :data:`FUNDING_WINDOW_S` per IP."""
FUNDING_WINDOW_S = 300.0
"""The funding routes' window: 5 minutes."""

AGG_TRADES_WEIGHT = 20
"""``/fapi/v1/aggTrades``, whatever the limit."""


def kline_weight(limit: int) -> int:
    """Weight of ``/fapi/v1/klines`` and ``/fapi/v1/continuousKlines`` by ``limit``: below 100
    costs 1, below 500 costs 2, up to 1,000 costs 5, more costs 10 (Binance's table)."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


def weight_of(path: str, params: Mapping[str, str]) -> int:
    """What one request costs against the per-minute limit.

    Args:
        path: The endpoint, e.g. ``/fapi/v1/klines``.
        params: Its query parameters.

    Returns:
        Binance's documented weight; 1 for what it does not state (the funding routes, which
        share a limit of their own, 500 requests per 5 minutes per IP, kept separately).
    """
    if path == "/fapi/v1/aggTrades":
        return AGG_TRADES_WEIGHT
    if path in ("/fapi/v1/klines", "/fapi/v1/continuousKlines"):
        return kline_weight(int(params.get("limit", "500")))
    if path == "/fapi/v1/ticker/24hr":
        return 1 if "symbol" in params else 40
    if path == "/fapi/v1/premiumIndex":
        return 1 if "symbol" in params else 10
    return 1  # time, exchangeInfo, ping, fundingRate, fundingInfo


class WeightBudget:
    """One IP's request weight in the current minute, and the waits that keep it under the limit.

    Args:
        limit: Weight allowed per window (exchange info's, once known).
        margin: Share of the limit kept free.
        window_ms: Length of the window, ms (Binance: the clock minute).
        clock_ms: The server's clock, ms since the epoch; the local wall clock by default.
    """

    def __init__(
        self,
        limit: int = DEFAULT_WEIGHT_LIMIT,
        *,
        margin: float = DEFAULT_MARGIN,
        window_ms: int = WINDOW_MS,
        clock_ms: Callable[[], float] | None = None,
    ) -> None:
        if limit <= 0 or not 0.0 <= margin < 1.0 or window_ms <= 0:
            raise ValueError(
                f"a budget needs a positive limit, a margin in [0, 1) and a window: "
                f"{limit}, {margin}, {window_ms}"
            )
        self.limit = limit
        """Weight allowed per window."""
        self.margin = margin
        """Share of the limit kept free."""
        self.window_ms = window_ms
        """Window length, ms."""
        self.used = 0
        """Weight used in the current window, as the server last reported it (or more)."""
        self.in_flight = 0
        """Weight of requests sent and not yet answered."""
        self.waits = 0
        """Times a request waited for the next window."""
        self.waited_s = 0.0
        """Seconds spent waiting for the next window, in total."""
        self._clock_ms = clock_ms or (lambda: time.time() * 1000.0)
        self._window = self._window_of(self._clock_ms())
        self._lock = asyncio.Lock()

    @property
    def ceiling(self) -> int:
        """The most weight spent in one window: the limit minus the margin."""
        return int(self.limit * (1.0 - self.margin))

    def set_limit(self, limit: int) -> None:
        """Take the limit exchange info states."""
        if limit > 0:
            self.limit = limit

    def now_ms(self) -> float:
        """The clock the windows are on, ms."""
        return self._clock_ms()

    def next_window_ms(self) -> float:
        """When the next window starts, ms on :meth:`now_ms`'s clock."""
        return (self._window + 1) * self.window_ms

    async def spend(self, weight: int) -> None:
        """Wait until ``weight`` fits in the window, then count it as in flight.

        A request heavier than the whole ceiling is let through alone, in a window with
        nothing else spent (it cannot be made to fit any better).

        Args:
            weight: The request's weight.
        """
        async with self._lock:
            while True:
                now = self._clock_ms()
                self._roll(now)
                spent = self.used + self.in_flight
                if spent + weight <= self.ceiling or spent == 0:
                    self.in_flight += weight
                    return
                wait_s = (self.next_window_ms() + _GUARD_MS - now) / 1000.0
                self.waits += 1
                self.waited_s += wait_s
                await asyncio.sleep(wait_s)

    def settle(self, weight: int, reported: int | None) -> None:
        """A request of ``weight`` was answered (or failed).

        Args:
            weight: The weight :meth:`spend` counted for it.
            reported: ``X-MBX-USED-WEIGHT-1M`` of the answer, None without one.
        """
        self.in_flight = max(0, self.in_flight - weight)
        now = self._clock_ms()
        window = self._window_of(now)
        if window != self._window:
            self._window = window
            self.used = 0
        if reported is not None:
            self.used = max(self.used, reported)
        else:
            self.used += weight

    def _roll(self, now_ms: float) -> None:
        window = self._window_of(now_ms)
        if window != self._window:
            self._window = window
            self.used = 0

    def _window_of(self, ms: float) -> int:
        return int(ms // self.window_ms)


class RequestCount:
    """A count of requests over a sliding window, for the funding routes' own limit.

    Binance does not report this count, so it is kept locally, over a sliding window (which
    is never looser than a clock-aligned one).

    Args:
        limit: Requests allowed per window.
        window_s: Window length, seconds.
        margin: Share of the limit kept free.
    """

    def __init__(
        self, limit: int = FUNDING_LIMIT, window_s: float = FUNDING_WINDOW_S, margin: float = 0.1
    ) -> None:
        self.ceiling = max(1, int(limit * (1.0 - margin)))
        """The most requests sent in one window."""
        self.window_s = window_s
        """Window length, seconds."""
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def spend(self) -> None:
        """Wait until one more request fits in the window, then count it."""
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._sent and self._sent[0] <= now - self.window_s:
                    self._sent.popleft()
                if len(self._sent) < self.ceiling:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self._sent[0] + self.window_s - now)
