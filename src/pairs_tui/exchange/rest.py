"""The embedded exchange's REST side: Binance's USD-M market-data endpoints the client needs.

- ``GET /fapi/v1/ping``;
- ``GET /fapi/v1/time``: the exchange's own timeline clock;
- ``GET /fapi/v1/exchangeInfo``: the tape's symbols with their tick and step sizes;
- ``GET /fapi/v1/aggTrades?symbol=&fromId=&limit=`` or ``&startTime=&endTime=``: from the
  published history;
- ``GET /fapi/v1/klines``, ``GET /fapi/v1/continuousKlines``: :mod:`pairs_tui.exchange.klines`;
- ``GET /fapi/v1/ticker/24hr``: :mod:`pairs_tui.exchange.ticker`;
- ``GET /fapi/v1/premiumIndex``, ``/fapi/v1/fundingRate``, ``/fapi/v1/fundingInfo``:
  :mod:`pairs_tui.exchange.funding`.

Errors are Binance's JSON bodies (``{"code": -1121, "msg": "Invalid symbol."}``) with its HTTP
statuses. The endpoints are a route table, :attr:`RestApi.routes`: one handler per path, each
taking the query and answering a response. Every answer carries ``X-MBX-USED-WEIGHT-1M``; the
weight is budgeted per UTC minute by :class:`~pairs_tui.exchange.weights.RequestWeights` (429,
then 418), and every call is recorded in :attr:`RestApi.calls`.
"""

from __future__ import annotations

import http
from collections.abc import Callable, Mapping

import msgspec
from websockets.datastructures import Headers
from websockets.http11 import Response

from pairs_tui.exchange.connection import json_bool
from pairs_tui.exchange.faults import Faults
from pairs_tui.exchange.funding import FundingApi, FundingModel
from pairs_tui.exchange.klines import KlineApi, KlineTrades
from pairs_tui.exchange.tape import Tape
from pairs_tui.exchange.ticker import TickerApi
from pairs_tui.exchange.timeline import Timeline
from pairs_tui.exchange.weights import WEIGHT_HEADER, RequestWeights, RestCall, weight_of

Query = Mapping[str, list[str]]
"""A parsed query string: every value of each parameter (``urllib.parse.parse_qs``)."""
RestHandler = Callable[[Query], Response]
"""One endpoint: the query in, the HTTP response out."""
TRADE_RETENTION_MS = 2 * 86_400_000
"""How far back ``aggTrades`` can be searched by time (measured on Binance in 2026: 2 days)."""
MAX_TRADE_WINDOW_MS = 3_600_000
"""The widest ``startTime``..``endTime`` window of ``aggTrades``."""


class RestApi:
    """The REST endpoints of one exchange.

    Args:
        tape: What the exchange publishes (its symbols).
        timeline: Its clock and published history.
        faults: Its misbehaviour, read when it matters.
        weights: The IP's request-weight budget.
        funding: The funding model (mark prices, funding rates).
        kline_trades: What a kline's trade count counts.
        trade_retention_ms: How far back ``aggTrades`` may be searched by time.
    """

    def __init__(
        self,
        tape: Tape,
        timeline: Timeline,
        faults: Faults,
        weights: RequestWeights,
        funding: FundingModel,
        *,
        kline_trades: KlineTrades = "fills",
        trade_retention_ms: int = TRADE_RETENTION_MS,
    ) -> None:
        self.tape = tape
        """What the exchange publishes."""
        self.timeline = timeline
        """The clock and the history the endpoints answer from."""
        self.faults = faults
        """The exchange's misbehaviour."""
        self.weights = weights
        """The IP's request-weight budget."""
        self.calls: list[RestCall] = []
        """Every REST request answered, in arrival order."""
        self.trade_retention_ms = trade_retention_ms
        """How far back ``aggTrades`` may be searched by time."""
        self.max_trade_window_ms = MAX_TRADE_WINDOW_MS
        """The widest ``startTime``..``endTime`` of ``aggTrades``."""
        contracts = {(x.pair, x.contract_type): s for s, x in tape.listings.items()}
        klines = KlineApi(timeline, kline_trades, contracts, error_response, json_response)
        ticker = TickerApi(timeline, error_response, json_response)
        self.funding = FundingApi(timeline, funding, error_response, json_response)
        """Mark prices and funding: the REST endpoints and the streams' payloads."""
        self.routes: dict[str, RestHandler] = {
            "/fapi/v1/ping": self.ping,
            "/fapi/v1/time": self.server_time,
            "/fapi/v1/exchangeInfo": self.exchange_info,
            "/fapi/v1/aggTrades": self.agg_trades,
            "/fapi/v1/klines": klines.klines,
            "/fapi/v1/continuousKlines": klines.continuous_klines,
            "/fapi/v1/ticker/24hr": ticker.ticker_24hr,
            "/fapi/v1/premiumIndex": self.funding.premium_index,
            "/fapi/v1/fundingRate": self.funding.funding_rate,
            "/fapi/v1/fundingInfo": self.funding.funding_info,
        }
        """The endpoints by path; add one here to serve it."""

    def answer(self, path: str, query: Query, raw_query: str = "") -> Response:
        """The response to ``GET path?query``: its endpoint's, Binance's 404 body, or a 429 or
        418 when the weight budget says so; with the used weight in its headers, recorded.

        Args:
            path: The request path.
            query: The parsed query string.
            raw_query: The query string as sent (for :attr:`calls`).

        Returns:
            The HTTP response.
        """
        weight = weight_of(path, query)
        refusal = self.weights.admit(weight)
        if refusal is not None:
            response = error_response(refusal.status, refusal.code, refusal.msg)
            response.headers["Retry-After"] = str(refusal.retry_after_s)
        else:
            handler = self.routes.get(path)
            if handler is None:
                response = error_response(404, -5000, f"Path {path}, Method GET is invalid")
            else:
                response = handler(query)
        used = self.weights.used
        response.headers[WEIGHT_HEADER] = str(used)
        self.calls.append(RestCall(path, raw_query, weight, response.status_code, used))
        return response

    # -- endpoints ------------------------------------------------------------------------------

    def ping(self, query: Query) -> Response:
        """``/fapi/v1/ping``: an empty object."""
        return json_response(200, {})

    def server_time(self, query: Query) -> Response:
        """``/fapi/v1/time``: the timeline clock."""
        return json_response(200, {"serverTime": int(self.timeline.now_ms())})

    def exchange_info(self, query: Query) -> Response:
        """``/fapi/v1/exchangeInfo``: every listed symbol, as its :class:`Listing` says."""
        symbols = []
        for symbol, listing in self.tape.listings.items():
            spec = self.tape.specs[symbol]
            symbols.append(
                {
                    "symbol": symbol,
                    "pair": listing.pair,
                    "contractType": listing.contract_type,
                    "deliveryDate": listing.delivery_ms,
                    "onboardDate": listing.onboard_ms,
                    "status": listing.status,
                    "baseAsset": listing.base_asset,
                    "quoteAsset": listing.quote_asset,
                    "marginAsset": listing.margin_asset,
                    "pricePrecision": spec.price_decimals,
                    "quantityPrecision": spec.qty_decimals,
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "tickSize": spec.tick_size,
                            "minPrice": spec.tick_size,
                            "maxPrice": "1000000",
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "stepSize": spec.step_size,
                            "minQty": spec.step_size,
                            "maxQty": "1000",
                        },
                    ],
                }
            )
        body = {
            "timezone": "UTC",
            "serverTime": int(self.timeline.now_ms()),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.weights.limit,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ],
            "symbols": symbols,
        }
        return json_response(200, body)

    def agg_trades(self, query: Query) -> Response:
        """``/fapi/v1/aggTrades?symbol=&fromId=&startTime=&endTime=&limit=``: rows of the
        published history; 503 while the ``rest_unavailable`` fault is on.

        By ``fromId``: from that id on. By time (inclusive, ms): from the first trade at or after
        ``startTime`` (with only ``endTime``, the latest at or before it), at most ``limit``; both
        more than an hour apart is -1127; a window older than the retention, or reaching into
        the past that the exchange keeps as 1-second bars only, is -4166. Neither:
        the latest ``limit``. ``fromId`` with a time is refused (-1128): Binance warns it may
        time out, and no client needs it.
        """
        symbol = query.get("symbol", [""])[0].upper()
        if not symbol:
            msg = "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            return error_response(400, -1102, msg)
        if symbol not in self.tape.specs:
            return error_response(400, -1121, "Invalid symbol.")
        if self.faults.rest_unavailable:
            return error_response(503, -1001, "Service unavailable.")
        try:
            limit = int(query.get("limit", ["500"])[0])
            from_id = int(query["fromId"][0]) if "fromId" in query else None
            start = int(query["startTime"][0]) if "startTime" in query else None
            end = int(query["endTime"][0]) if "endTime" in query else None
        except ValueError:
            return error_response(400, -1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= 1000:
            return error_response(400, -1130, "Data sent for parameter 'limit' is not valid.")
        if start is None and end is None:
            rows = self.timeline.page(symbol, from_id, limit)
        elif from_id is not None:
            return error_response(400, -1128, "Combination of optional parameters invalid.")
        else:
            if start is not None and end is not None and end - start > self.max_trade_window_ms:
                msg = "More than 1 hours between startTime and endTime."
                return error_response(400, -1127, msg)
            oldest = start if start is not None else end
            assert oldest is not None
            # The deep past is bars, not trades: searching it is refused like an old window.
            has_past = self.timeline.past_s > 0
            if oldest < self.timeline.now_ms() - self.trade_retention_ms or (
                has_past and oldest < self.timeline.trades_from_ms()
            ):
                msg = "Search window is restricted to recent 2 days only."
                return error_response(400, -4166, msg)
            rows = self.timeline.by_time(symbol, start, end, limit)
        spec = self.tape.specs[symbol]
        pd, qd = spec.price_decimals, spec.qty_decimals
        body = ",".join(
            f'{{"a":{t.id},"p":"{t.price:.{pd}f}","q":"{t.qty:.{qd}f}","nq":"{t.qty:.{qd}f}",'
            f'"f":{t.first_trade_id},"l":{t.last_trade_id},"T":{t.time},'
            f'"m":{json_bool(t.buyer_maker)}}}'
            for t in rows
        )
        return json_response(200, f"[{body}]")


def error_response(status: int, code: int, msg: str) -> Response:
    """Binance's error body ``{"code": …, "msg": …}`` with an HTTP status."""
    return json_response(status, {"code": code, "msg": msg})


def json_response(status: int, body: object) -> Response:
    """A JSON response; ``body`` is encoded, or sent as is when it is already text."""
    data = body.encode() if isinstance(body, str) else msgspec.json.encode(body)
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Connection", "close"),
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, data)
