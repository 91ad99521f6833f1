"""The REST bodies decoded from Binance's documented shapes, and refused when they are wrong."""

from __future__ import annotations

import msgspec
import pytest

from pairs_tui.feed.schemas.rest import (
    AggTradeRow,
    ApiError,
    ExchangeInfo,
    FundingInfo,
    FundingRate,
    Kline,
    PremiumIndex,
    ServerTime,
    SymbolInfo,
    Ticker24hr,
)
from pairs_tui.records import Bar, MarkPrice, Trade

# From Binance's documentation of GET /fapi/v1/aggTrades.
ROW = (
    b'{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true}'
)

rows = msgspec.json.Decoder(list[AggTradeRow], strict=False)


def test_an_agg_trades_row_becomes_a_trade() -> None:
    (row,) = rows.decode(b"[" + ROW + b"]")
    assert (row.first_trade_id, row.last_trade_id) == (27781, 27781)
    assert row.to_trade("BTCUSDT") == Trade(
        "BTCUSDT", 1498793709153, 0.01633102, 4.70443515, True, 26129
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("p", '"NaN"'), ("q", '"-1"'), ("p", '"inf"'), ("T", "-5")],
)
def test_a_page_with_a_number_no_exchange_prints_is_refused_whole(key: str, value: str) -> None:
    bad = msgspec.json.decode(ROW)
    bad[key] = msgspec.json.decode(value)
    page = b"[" + ROW + b"," + msgspec.json.encode(bad) + b"]"
    with pytest.raises(msgspec.ValidationError):
        rows.decode(page)


def test_exchange_info_reads_the_increments_of_each_symbol() -> None:
    body = {
        "timezone": "UTC",
        "symbols": [
            {
                "symbol": "BTCUSDT",
                "status": "TRADING",
                "contractType": "PERPETUAL",
                "filters": [
                    {"filterType": "PRICE_FILTER", "tickSize": "0.10", "minPrice": "556.80"},
                    {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000"},
                    {"filterType": "MIN_NOTIONAL", "notional": "100"},
                ],
            },
            {"symbol": "ethusdt", "status": "SETTLING"},
        ],
    }
    info = msgspec.json.decode(msgspec.json.encode(body), type=ExchangeInfo, strict=False)
    assert info.symbol_infos() == {
        "BTCUSDT": SymbolInfo("BTCUSDT", "TRADING", 0.1, 0.001, pair="BTCUSDT"),
        # No filters: increments 0; no pair: the symbol's own.
        "ETHUSDT": SymbolInfo("ETHUSDT", "SETTLING", 0.0, 0.0, pair="ETHUSDT"),
    }
    assert info.weight_limit() is None  # no rateLimits: the client keeps its default


def test_server_time_and_the_error_body() -> None:
    assert msgspec.json.decode(b'{"serverTime":1499827319559}', type=ServerTime).server_time == (
        1499827319559
    )
    error = msgspec.json.decode(b'{"code":-1121,"msg":"Invalid symbol."}', type=ApiError)
    assert (error.code, error.msg) == (-1121, "Invalid symbol.")


# From Binance's documentation of GET /fapi/v1/klines (a row is a JSON array).
KLINE = (
    b'[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",'
    b'1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","17928899.62484339"]'
)


def test_a_kline_is_an_array_row_and_a_bar() -> None:
    (kline,) = msgspec.json.decode(b"[" + KLINE + b"]", type=list[Kline], strict=False)
    assert (kline.open_time, kline.close_time, kline.trades) == (1499040000000, 1499644799999, 308)
    assert (kline.quote_volume, kline.taker_buy_volume) == (2434.19055334, 1756.87402397)
    assert kline.to_bar() == Bar(0.0163479, 0.8, 0.015758, 0.015771, 148976.11427815, 308)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b"[[1499040000000, 1, 2]]", type=list[Kline], strict=False)


def test_premium_index_and_fundings_read_blank_numbers_as_none() -> None:
    body = (
        b'{"symbol":"BTCUSDT_240927","markPrice":"11793.63","indexPrice":"11781.80",'
        b'"estimatedSettlePrice":"11781.16","lastFundingRate":"","interestRate":"",'
        b'"nextFundingTime":0,"time":1597370495002}'
    )
    quarterly = msgspec.json.decode(body, type=PremiumIndex, strict=False)
    assert (quarterly.funding_rate, quarterly.interest_rate) == (0.0, 0.0)
    assert quarterly.to_mark() == MarkPrice(
        "BTCUSDT_240927", 1597370495002, 11793.63, 11781.80, 0.0, 0
    )
    rows = msgspec.json.decode(
        b'[{"symbol":"BTCUSDT","fundingRate":"-0.03750000","fundingTime":1570608000000,'
        b'"markPrice":"34287.54619963"},'
        b'{"symbol":"BTCUSDT","fundingRate":"0.00010000","fundingTime":1570636800000,'
        b'"markPrice":""}]',
        type=list[FundingRate],
        strict=False,
    )
    assert [(r.time, r.rate, r.mark_price) for r in rows] == [
        (1570608000000, -0.0375, 34287.54619963),
        (1570636800000, 0.0001, None),
    ]


def test_tickers_funding_info_and_the_weight_limit() -> None:
    ticker = msgspec.json.decode(
        b'{"symbol":"BTCUSDT","priceChange":"-94.99999800","priceChangePercent":"-95.960",'
        b'"weightedAvgPrice":"0.29628482","lastPrice":"4.00000200","lastQty":"200.00000000",'
        b'"openPrice":"99.00000000","highPrice":"100.00000000","lowPrice":"0.10000000",'
        b'"volume":"8913.30000000","quoteVolume":"15.30000000","openTime":1499783499040,'
        b'"closeTime":1499869899040,"firstId":28385,"lastId":28460,"count":76}',
        type=Ticker24hr,
        strict=False,
    )
    assert (ticker.quote_volume, ticker.last_price, ticker.count) == (15.3, 4.000002, 76)
    info = msgspec.json.decode(
        b'[{"symbol":"BLZUSDT","adjustedFundingRateCap":"0.02500000",'
        b'"adjustedFundingRateFloor":"-0.02500000","fundingIntervalHours":8,"disclaimer":false}]',
        type=list[FundingInfo],
        strict=False,
    )
    assert [(f.symbol, f.interval_h, f.rate_cap, f.rate_floor) for f in info] == [
        ("BLZUSDT", 8.0, 0.025, -0.025)
    ]
    limits = {
        "symbols": [],
        "rateLimits": [
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            },
        ],
    }
    exchange = msgspec.json.decode(msgspec.json.encode(limits), type=ExchangeInfo)
    assert exchange.weight_limit() == 2400
