"""Funding and mark prices: a seeded funding model per symbol, the mark-price streams' payloads,
and ``GET /fapi/v1/premiumIndex``, ``/fapi/v1/fundingRate``, ``/fapi/v1/fundingInfo``.

Each perpetual's funding rate wanders slowly (two sine waves of seeded period and phase around a
seeded mean, a few basis points, some symbols below zero), updated once a minute; the rate
settled at a funding time is the last one shown before it. Fundings happen every
``funding_hours`` (8, or 4 for some symbols) on the exchange's clock: 00:00, 08:00, 16:00 UTC.
The mark price is the last trade price with half the premium over the index added, the index
the last price with half of it taken off; the premium follows the funding rate, less the
interest rate, plus a small wiggle. As of a second ``S``, "the last price" is the close of the
trades before ``S``, so every value is a function of the exchange's bars and the model.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping

import numpy as np
from websockets.http11 import Response

from pairs_tui.exchange.tape import Listing
from pairs_tui.exchange.timeline import Timeline

INTEREST_RATE = 0.0001
"""Binance's interest rate per 8 hours (0.01%)."""
DEFAULT_CAP = "0.02000000"
"""The adjusted funding cap fundingInfo shows when a listing gives none."""
_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000

ErrorResponse = Callable[[int, int, str], Response]
JsonResponse = Callable[[int, object], Response]


class FundingModel:
    """Every perpetual's funding rate over time, and its mark and index prices.

    Args:
        listings: How each symbol is listed (its contract type and funding interval).
        seed: Seed of the rates' shapes.
    """

    def __init__(self, listings: Mapping[str, Listing], seed: int = 7) -> None:
        self.listings = dict(listings)
        """How each symbol is listed."""
        self._shape: dict[str, tuple[float, ...]] = {}
        for symbol in listings:
            rng = np.random.default_rng([seed, 5, zlib.crc32(symbol.encode())])
            mean = rng.uniform(-0.0001, 0.0002)
            slow, fast = rng.uniform(0.00005, 0.0002), rng.uniform(0.00001, 0.00004)
            slow_h, fast_h = rng.uniform(6.0, 30.0), rng.uniform(0.7, 3.0)
            phases = rng.uniform(0.0, 2.0 * math.pi, 3)
            self._shape[symbol] = (mean, slow, slow_h, phases[0], fast, fast_h, phases[1])
            self._shape[symbol] += (phases[2],)

    def is_perpetual(self, symbol: str) -> bool:
        """Whether ``symbol`` funds at all (delivery contracts do not)."""
        return self.listings[symbol].contract_type == "PERPETUAL"

    def interval_ms(self, symbol: str) -> int:
        """Time between two fundings of ``symbol``, ms."""
        return self.listings[symbol].funding_hours * _HOUR_MS

    def rate(self, symbol: str, t_ms: int) -> float:
        """The funding rate shown at ``t_ms`` (it changes once a minute), 8 decimals."""
        mean, slow, slow_h, slow_phase, fast, fast_h, fast_phase, _ = self._shape[symbol]
        hours = t_ms // _MINUTE_MS * _MINUTE_MS / _HOUR_MS
        value = (
            mean
            + slow * math.sin(2.0 * math.pi * hours / slow_h + slow_phase)
            + fast * math.sin(2.0 * math.pi * hours / fast_h + fast_phase)
        )
        cap = float(self.listings[symbol].funding_cap or 0.003)
        return round(min(max(value, -cap), cap), 8)

    def settled_rate(self, symbol: str, funding_ms: int) -> float:
        """The rate settled at a funding time: the last one shown before it."""
        return self.rate(symbol, funding_ms - 1)

    def next_funding_ms(self, symbol: str, t_ms: int) -> int:
        """The first funding time after ``t_ms``."""
        interval = self.interval_ms(symbol)
        return (t_ms // interval + 1) * interval

    def premium(self, symbol: str, second_ms: int) -> float:
        """The mark's premium over the index at a second."""
        phase = self._shape[symbol][-1]
        wiggle = 0.00003 * math.sin(2.0 * math.pi * second_ms / 97_000.0 + phase)
        return self.rate(symbol, second_ms) - INTEREST_RATE + wiggle

    def mark_index(self, symbol: str, second_ms: int, last_price: float) -> tuple[float, float]:
        """The mark and index prices at a second, from the last trade price before it."""
        half = self.premium(symbol, second_ms) / 2.0
        return last_price * (1.0 + half), last_price * (1.0 - half)


class FundingApi:
    """Mark prices and funding of one exchange: stream payloads and REST endpoints.

    Args:
        timeline: The clock and every symbol's bars (its last prices).
        model: The funding model.
        error: Builds Binance's error response.
        json: Builds a JSON response.
    """

    def __init__(
        self, timeline: Timeline, model: FundingModel, error: ErrorResponse, json: JsonResponse
    ) -> None:
        self.timeline = timeline
        """The clock and the bars."""
        self.model = model
        """The funding model."""
        self._error = error
        self._json = json

    def last_price(self, symbol: str, t_ms: int) -> float | None:
        """The close of the trades of ``symbol`` before ``t_ms`` (a whole second), or None;
        the printed price read as a float, so that a client can redo the arithmetic."""
        bars = self.timeline.bars[symbol]
        ticks = bars.close_before(t_ms // 1000 - self.timeline.origin_s())
        return None if ticks is None else float(bars.grid.price(ticks))

    def payload(self, symbol: str, second_ms: int) -> str | None:
        """The ``markPriceUpdate`` payload of ``symbol`` at a second, None before it trades."""
        last = self.last_price(symbol, second_ms)
        if last is None:
            return None
        model = self.model
        mark, index = model.mark_index(symbol, second_ms, last)
        if model.is_perpetual(symbol):
            rate = f'"{model.rate(symbol, second_ms):.8f}"'
            next_ms = model.next_funding_ms(symbol, second_ms)
        else:
            rate, next_ms = '""', 0
        return (
            f'{{"e":"markPriceUpdate","E":{second_ms},"s":"{symbol}","p":"{mark:.8f}",'
            f'"i":"{index:.8f}","P":"{index:.8f}","r":{rate},"T":{next_ms}}}'
        )

    # -- REST -----------------------------------------------------------------------------------

    def premium_index(self, query: Mapping[str, list[str]]) -> Response:
        """``/fapi/v1/premiumIndex[?symbol=]``: one object, or a list of every symbol's."""
        symbol = (query.get("symbol") or [""])[0].upper()
        now = int(self.timeline.now_ms())
        if symbol:
            if symbol not in self.timeline.bars:
                return self._error(400, -1121, "Invalid symbol.")
            row = self._premium_row(symbol, now)
            return self._json(200, row) if row else self._error(400, -1121, "Invalid symbol.")
        rows = [self._premium_row(s, now) for s in self.timeline.bars]
        return self._json(200, [r for r in rows if r is not None])

    def _premium_row(self, symbol: str, now: int) -> dict[str, object] | None:
        second = now // 1000 * 1000
        last = self.last_price(symbol, second + 1000)  # every trade of this second so far
        if last is None:
            return None
        model = self.model
        mark, index = model.mark_index(symbol, second, last)
        perpetual = model.is_perpetual(symbol)
        return {
            "symbol": symbol,
            "markPrice": f"{mark:.8f}",
            "indexPrice": f"{index:.8f}",
            "estimatedSettlePrice": f"{index:.8f}",
            "lastFundingRate": f"{model.rate(symbol, now):.8f}" if perpetual else "",
            "interestRate": f"{INTEREST_RATE:.8f}" if perpetual else "",
            "nextFundingTime": model.next_funding_ms(symbol, now) if perpetual else 0,
            "time": now,
        }

    def funding_rate(self, query: Mapping[str, list[str]]) -> Response:
        """``/fapi/v1/fundingRate?symbol=&startTime=&endTime=&limit=``: past fundings, oldest
        first; from ``startTime`` (at most ``limit``), else the latest ``limit`` up to
        ``endTime`` (or now). Default limit 100, max 1000."""
        symbol = (query.get("symbol") or [""])[0].upper()
        if symbol and symbol not in self.timeline.bars:
            return self._error(400, -1121, "Invalid symbol.")
        try:
            limit = int((query.get("limit") or ["100"])[0])
            start = int(query["startTime"][0]) if query.get("startTime") else None
            end = int(query["endTime"][0]) if query.get("endTime") else None
        except ValueError:
            return self._error(400, -1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= 1000:
            return self._error(400, -1130, "Data sent for parameter 'limit' is not valid.")
        now = self.timeline.horizon_ms()
        end = now if end is None else min(end, now)
        symbols = [symbol] if symbol else [s for s in self.timeline.bars if self._funds(s)]
        rows: list[tuple[int, str]] = []
        for s in symbols:
            if not self._funds(s):
                continue
            first = self._first_data_ms(s)
            if first is None:
                continue
            interval = self.model.interval_ms(s)
            lo = max(first + 1, start if start is not None else first)
            times = range(-(-lo // interval) * interval, end + 1, interval)
            rows += [(t, s) for t in times]
        rows.sort()
        rows = rows[:limit] if start is not None else rows[-limit:]
        return self._json(200, [self._funding_row(s, t) for t, s in rows])

    def _funds(self, symbol: str) -> bool:
        return self.model.is_perpetual(symbol)

    def _first_data_ms(self, symbol: str) -> int | None:
        first = self.timeline.bars[symbol].first
        if first is None:
            return None
        return (self.timeline.origin_s() + first) * 1000

    def _funding_row(self, symbol: str, funding_ms: int) -> dict[str, object]:
        last = self.last_price(symbol, funding_ms)
        mark = self.model.mark_index(symbol, funding_ms, last)[0] if last is not None else 0.0
        return {
            "symbol": symbol,
            "fundingTime": funding_ms,
            "fundingRate": f"{self.model.settled_rate(symbol, funding_ms):.8f}",
            "markPrice": f"{mark:.8f}",
        }

    def funding_info(self, query: Mapping[str, list[str]]) -> Response:
        """``/fapi/v1/fundingInfo``: only the symbols with adjusted settings (an interval other
        than 8 hours, or a cap of their own), as Binance lists them."""
        rows = []
        for symbol, listing in self.model.listings.items():
            if listing.contract_type != "PERPETUAL":
                continue
            if listing.funding_hours == 8 and listing.funding_cap is None:
                continue
            cap = float(listing.funding_cap) if listing.funding_cap else float(DEFAULT_CAP)
            rows.append(
                {
                    "symbol": symbol,
                    "adjustedFundingRateCap": f"{cap:.8f}",
                    "adjustedFundingRateFloor": f"{-cap:.8f}",
                    "fundingIntervalHours": listing.funding_hours,
                    "disclaimer": False,
                }
            )
        return self._json(200, rows)
