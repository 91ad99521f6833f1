"""``GET /fapi/v1/klines`` and ``GET /fapi/v1/continuousKlines``: klines folded from the exchange's
1-second bars (:mod:`pairs_tui.exchange.candles`).

Rows are Binance's: ``[openTime, "open", "high", "low", "close", "volume", closeTime,
"quoteVolume", trades, "takerBuyBase", "takerBuyQuote", "0"]``, ascending, ``closeTime = openTime
+ interval - 1``, prices and quantities at the symbol's decimals. Without ``startTime`` the latest
``limit`` klines up to ``endTime`` (or now); the kline holding "now" is included and partial. An
interval without a trade repeats the previous close with volume 0; there is no kline before a
symbol's first second of data. ``1s`` is served by continuous klines only.

Choices where Binance is unclear: ``startTime`` selects klines that open at or after it; a
``limit`` outside 1..1500 is refused (-1130) rather than clamped; ``startTime > endTime`` is
refused (-1023); ``trades`` counts fills (``l - f + 1`` of each aggregate trade), as Binance's
klines do, unless the exchange is told to count aggregate trades.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
from websockets.http11 import Response

from pairs_tui.exchange.candles import Kline, SecondBars, fold
from pairs_tui.exchange.timeline import Timeline

KlineTrades = Literal["fills", "aggregates"]
"""What a kline's trade count counts: fills (Binance) or aggregate trades."""

_DAY = 86_400_000
INTERVALS: dict[str, int] = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": _DAY,
    "3d": 3 * _DAY,
    "1w": 7 * _DAY,
}
"""Every interval served and its length, ms (``1M`` is not served)."""
_OFFSETS = {"1w": 4 * _DAY}
"""Weeks open on Monday 00:00 UTC; 1970-01-01 was a Thursday."""
MAX_LIMIT = 1500
"""The most klines one request returns."""

ErrorResponse = Callable[[int, int, str], Response]
JsonResponse = Callable[[int, object], Response]


class KlineQuery:
    """A validated kline request."""

    __slots__ = ("end_ms", "interval", "limit", "start_ms", "symbol")

    def __init__(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> None:
        self.symbol = symbol
        """Upper-case symbol with data."""
        self.interval = interval
        """The interval's name."""
        self.start_ms = start_ms
        """``startTime``, or None."""
        self.end_ms = end_ms
        """``endTime``, or None."""
        self.limit = limit
        """``limit``."""


def kline_opens(
    interval: str, first_ms: int, horizon_ms: int, query: KlineQuery
) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
    """The open times a request selects.

    Args:
        interval: Interval name.
        first_ms: Time of the symbol's first second with data.
        horizon_ms: Everything up to here is published.
        query: The request.

    Returns:
        Ascending open times, at most ``query.limit``.
    """
    length = INTERVALS[interval]
    offset = _OFFSETS.get(interval, 0)

    def floor(t: int) -> int:
        return (t - offset) // length * length + offset

    first_open = floor(first_ms)
    end = horizon_ms if query.end_ms is None else min(query.end_ms, horizon_ms)
    last_open = floor(end)
    if query.start_ms is not None:
        start = max(-(-(query.start_ms - offset) // length) * length + offset, first_open)
        stop = min(last_open, start + (query.limit - 1) * length)
    else:
        stop = last_open
        start = max(first_open, stop - (query.limit - 1) * length)
    if stop < start:
        return np.zeros(0, np.int64)
    return np.arange(start, stop + 1, length, dtype=np.int64)


class KlineApi:
    """The kline endpoints of one exchange.

    Args:
        timeline: The clock, the published history and every symbol's 1-second bars.
        trades: What a kline's trade count counts.
        contracts: ``(pair, contractType)`` to symbol, for continuous klines.
        error: Builds Binance's error response.
        json: Builds a JSON response.
    """

    def __init__(
        self,
        timeline: Timeline,
        trades: KlineTrades,
        contracts: Mapping[tuple[str, str], str],
        error: ErrorResponse,
        json: JsonResponse,
    ) -> None:
        self.timeline = timeline
        """The clock and the bars."""
        self.trades = trades
        """What a kline's trade count counts."""
        self.contracts = contracts
        """``(pair, contractType)`` to symbol."""
        self._error = error
        self._json = json

    def klines(self, query: Mapping[str, list[str]]) -> Response:
        """``/fapi/v1/klines?symbol=&interval=&startTime=&endTime=&limit=``."""
        symbol = _one(query, "symbol").upper()
        if not symbol:
            return self._missing("symbol")
        if symbol not in self.timeline.bars:
            return self._error(400, -1121, "Invalid symbol.")
        return self._answer(symbol, query, allow_seconds=False)

    def continuous_klines(self, query: Mapping[str, list[str]]) -> Response:
        """``/fapi/v1/continuousKlines?pair=&contractType=&interval=&...``; ``1s`` allowed."""
        pair = _one(query, "pair").upper()
        if not pair:
            return self._missing("pair")
        contract = _one(query, "contractType").upper()
        if not contract:
            return self._missing("contractType")
        symbol = self.contracts.get((pair, contract))
        if symbol is None or symbol not in self.timeline.bars:
            return self._error(400, -1121, "Invalid symbol.")
        return self._answer(symbol, query, allow_seconds=True)

    def _missing(self, name: str) -> Response:
        msg = f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        return self._error(400, -1102, msg)

    def _answer(self, symbol: str, query: Mapping[str, list[str]], allow_seconds: bool) -> Response:
        interval = _one(query, "interval")
        if not interval:
            return self._missing("interval")
        if interval not in INTERVALS or (interval == "1s" and not allow_seconds):
            return self._error(400, -1120, "Invalid interval.")
        try:
            limit = int(_one(query, "limit") or 500)
            start = int(_one(query, "startTime")) if _one(query, "startTime") else None
            end = int(_one(query, "endTime")) if _one(query, "endTime") else None
        except ValueError:
            return self._error(400, -1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= MAX_LIMIT:
            return self._error(400, -1130, "Data sent for parameter 'limit' is not valid.")
        if start is not None and end is not None and start > end:
            return self._error(400, -1023, "Start time is greater than end time.")
        rows = self.rows(KlineQuery(symbol, interval, start, end, limit))
        return self._json(200, rows)

    def rows(self, query: KlineQuery) -> str:
        """The JSON array of kline rows a valid request answers."""
        timeline = self.timeline
        bars = timeline.bars[query.symbol]
        if bars.first is None:
            return "[]"
        origin = timeline.origin_s()
        opens = kline_opens(
            query.interval, (origin + bars.first) * 1000, timeline.horizon_ms(), query
        )
        klines = fold(bars, origin, opens, INTERVALS[query.interval])
        length = INTERVALS[query.interval]
        return "[" + ",".join(self._row(bars, k, length) for k in klines) + "]"

    def _row(self, bars: SecondBars, k: Kline, length: int) -> str:
        g = bars.grid
        trades = k.fills if self.trades == "fills" else k.aggs
        return (
            f'[{k.open_ms},"{g.price(k.open)}","{g.price(k.high)}","{g.price(k.low)}",'
            f'"{g.price(k.close)}","{g.qty(k.volume)}",{k.open_ms + length - 1},'
            f'"{g.quote(k.quote)}",{trades},"{g.qty(k.taker_buy)}","{g.quote(k.taker_quote)}","0"]'
        )


def _one(query: Mapping[str, list[str]], name: str) -> str:
    values = query.get(name)
    return values[0] if values else ""
