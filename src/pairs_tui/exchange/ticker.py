"""``GET /fapi/v1/ticker/24hr``: the last 24 hours of every symbol (or one), from its 1-second
bars, with Binance's fields.

The window is the 24 hours up to the exchange's clock, to the second. ``count`` counts fills;
``firstId`` and ``lastId`` are fill ids when the symbol has traded since the exchange started
(``lastId`` the last fill's), else they count fills back from ``count - 1``; ``lastQty`` is the
last trade's quantity, or the volume of the last second with trades before any trade was
published. Symbols listed with neither a past nor a trade are left out of the list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from websockets.http11 import Response

from pairs_tui.exchange.candles import SecondBars
from pairs_tui.exchange.timeline import Timeline

DAY_MS = 86_400_000
"""The ticker's window."""

ErrorResponse = Callable[[int, int, str], Response]
JsonResponse = Callable[[int, object], Response]


class TickerApi:
    """The 24-hour ticker of one exchange.

    Args:
        timeline: The clock and every symbol's 1-second bars.
        error: Builds Binance's error response.
        json: Builds a JSON response.
    """

    def __init__(self, timeline: Timeline, error: ErrorResponse, json: JsonResponse) -> None:
        self.timeline = timeline
        """The clock and the bars."""
        self._error = error
        self._json = json

    def ticker_24hr(self, query: Mapping[str, list[str]]) -> Response:
        """``/fapi/v1/ticker/24hr[?symbol=]``: one object, or a list of every symbol's."""
        symbol = (query.get("symbol") or [""])[0].upper()
        if symbol:
            bars = self.timeline.bars.get(symbol)
            if bars is None:
                return self._error(400, -1121, "Invalid symbol.")
            return self._json(200, self.stats(bars))
        rows = [self.stats(b) for b in self.timeline.bars.values() if b.first is not None]
        return self._json(200, rows)

    def stats(self, bars: SecondBars) -> dict[str, object]:
        """One symbol's 24-hour statistics, as Binance writes them."""
        timeline = self.timeline
        close_ms = int(timeline.now_ms())
        open_ms = close_ms - DAY_MS
        origin = timeline.origin_s()
        lo = -(-open_ms // 1000) - origin
        hi = timeline.horizon_ms() // 1000 - origin + 1
        cols = bars.seconds(lo, hi)
        filled = np.flatnonzero(cols.fills > 0)
        g = bars.grid
        last = bars.last_close if bars.first is not None else None
        count = int(cols.fills.sum())
        if len(filled) == 0 or last is None:
            open_, high, low = last or 0, last or 0, last or 0
            volume = quote = 0
            last_qty = "0"
        else:
            open_ = int(cols.open[filled[0]])
            high = int(cols.high[filled].max())
            low = int(cols.low[filled].min())
            volume, quote = int(cols.volume.sum()), int(cols.quote.sum())
            trade = bars.last_trade
            last_qty = g.qty(g.steps(trade.qty)) if trade else g.qty(int(cols.volume[filled[-1]]))
        last = last or 0
        last_id = bars.last_trade.last_trade_id if bars.last_trade else count - 1
        change = last - open_
        percent = 100.0 * change / open_ if open_ else 0.0
        average = quote / volume if volume else 0.0  # tick·step units over steps: ticks
        return {
            "symbol": bars.symbol,
            "priceChange": g.price(change),
            "priceChangePercent": f"{percent:.3f}",
            "weightedAvgPrice": f"{average * g.tick:.{g.price_decimals}f}",
            "lastPrice": g.price(last),
            "lastQty": last_qty,
            "openPrice": g.price(open_),
            "highPrice": g.price(high),
            "lowPrice": g.price(low),
            "volume": g.qty(volume),
            "quoteVolume": g.quote(quote),
            "openTime": open_ms,
            "closeTime": close_ms,
            "firstId": last_id - count + 1,
            "lastId": last_id,
            "count": count,
        }
