"""The REST bodies decoded from Binance's documented shapes, and refused when they are wrong."""

from __future__ import annotations

import msgspec
import pytest

from pairs_tui.feed.schemas.rest import AggTradeRow, ApiError, ExchangeInfo, ServerTime, SymbolInfo
from pairs_tui.records import Trade

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
        "BTCUSDT": SymbolInfo("BTCUSDT", "TRADING", 0.1, 0.001),
        "ETHUSDT": SymbolInfo("ETHUSDT", "SETTLING", 0.0, 0.0),  # no filters: increments 0
    }


def test_server_time_and_the_error_body() -> None:
    assert msgspec.json.decode(b'{"serverTime":1499827319559}', type=ServerTime).server_time == (
        1499827319559
    )
    error = msgspec.json.decode(b'{"code":-1121,"msg":"Invalid symbol."}', type=ApiError)
    assert (error.code, error.msg) == (-1121, "Invalid symbol.")
