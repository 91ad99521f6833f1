"""The frame decoder on real and documented Binance frames."""

from __future__ import annotations

import json

import pytest

from pairs_tui.feed.schemas.ws import (
    AggTradePayload,
    MalformedFrame,
    MarkPricePayload,
    TradePayload,
    decode_frame,
    decode_payload,
)
from pairs_tui.records import MarkPrice, Trade
from sources import FIXTURES

CRYPTOFEED_2021 = FIXTURES / "cryptofeed_BINANCE_FUTURES_ws_aggTrade_2021-07-22.txt"

# Synthetic, written from the documented 2026 schema (keys as in a 2026-10-07 capture).
FRAME_2026 = (
    '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161256472,"a":2300000001,'
    '"s":"BTCUSDT","p":"61800.30","q":"0.022","nq":"0.020","f":5266583935,"l":5266583936,'
    '"T":1723161256322,"m":false,"st":1}}'
)

# A real 2024 @trade frame (hftbacktest capture) and its documented non-market variants.
TRADE_MARKET = (
    '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,'
    '"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}'
)


def _trade_frame(**changes: object) -> str:
    frame = json.loads(TRADE_MARKET)
    frame["data"].update(changes)
    return json.dumps(frame)


def _real_2021_frames() -> list[tuple[float, str]]:
    lines = CRYPTOFEED_2021.read_text().splitlines()
    out = []
    for line in lines:
        recv, _, envelope = line.partition(": ")
        out.append((float(recv), envelope))
    return out


def test_real_2021_aggtrade_frames_decode_to_trades() -> None:
    frames = _real_2021_frames()
    assert len(frames) == 91
    for _, envelope in frames:
        raw = json.loads(envelope)["data"]
        frame = decode_frame(envelope)
        data = frame.data
        assert isinstance(data, AggTradePayload)
        assert frame.stream == raw["s"].lower() + "@aggTrade"
        assert data.normal_qty is None and data.symbol_type is None  # 2021: no nq, no st
        assert data.event_time == raw["E"]
        assert data.event_time - data.time >= 0
        assert data.to_trade() == Trade(
            symbol=raw["s"],
            time=raw["T"],
            price=float(raw["p"]),
            qty=float(raw["q"]),
            buyer_maker=raw["m"],
            id=raw["a"],
        )


def test_real_2021_frames_keep_their_aggregate_ids_contiguous_per_symbol() -> None:
    last: dict[str, int] = {}
    for _, envelope in _real_2021_frames():
        data = decode_frame(envelope).data
        assert isinstance(data, AggTradePayload)
        if data.symbol in last:
            assert data.id == last[data.symbol] + 1
        last[data.symbol] = data.id
    assert set(last) == {"CTKUSDT", "SUSHIUSDT", "AKROUSDT", "KEEPUSDT"}


def test_2026_frame_with_nq_and_st_decodes() -> None:
    data = decode_frame(FRAME_2026).data
    assert isinstance(data, AggTradePayload)
    assert data.normal_qty == pytest.approx(0.020)
    assert data.symbol_type == 1
    assert (data.first_trade_id, data.last_trade_id) == (5266583935, 5266583936)
    assert data.to_trade() == Trade("BTCUSDT", 1723161256322, 61800.3, 0.022, False, 2300000001)


def test_unknown_keys_are_ignored() -> None:
    frame = json.loads(FRAME_2026)
    frame["data"].update({"ps": "BTCUSDT", "zz": [1, 2, {"x": None}]})
    frame["extra"] = True
    data = decode_frame(json.dumps(frame)).data
    assert isinstance(data, AggTradePayload) and data.id == 2300000001


def test_bytes_and_text_decode_alike() -> None:
    assert decode_frame(FRAME_2026.encode()) == decode_frame(FRAME_2026)


def test_market_trade_frame_is_kept() -> None:
    data = decode_frame(TRADE_MARKET).data
    assert isinstance(data, TradePayload)
    assert data.to_trade() == Trade("BTCUSDT", 1723161256322, 61800.3, 0.006, False, 5266583935)


@pytest.mark.parametrize(
    "changes",
    [
        {"X": "NA", "p": "0", "q": "0"},
        {"X": "INSURANCE_FUND", "p": "3.7041208"},
        {"X": "ADL"},
        {"X": "SOMETHING_NEW"},
        {"q": "0"},
        {"q": "0.000"},
    ],
    ids=["NA", "insurance-fund", "adl", "unknown-X", "zero-qty", "zero-qty-decimals"],
)
def test_non_market_or_empty_trades_are_filtered(changes: dict[str, str]) -> None:
    data = decode_frame(_trade_frame(**changes)).data
    assert isinstance(data, TradePayload)
    assert data.to_trade() is None
    assert data.id == 5266583935  # the id is still known, so filtering is not a gap


def test_trade_frame_without_x_is_non_market() -> None:
    frame = json.loads(TRADE_MARKET)
    del frame["data"]["X"]
    data = decode_frame(json.dumps(frame)).data
    assert isinstance(data, TradePayload) and data.to_trade() is None


def test_control_replies_are_frames_without_data() -> None:
    ack = decode_frame('{"result":null,"id":1}')
    assert ack.data is None and ack.id == 1 and ack.error is None
    listing = decode_frame('{"result":["btcusdt@aggTrade"],"id":3}')
    assert listing.result == ["btcusdt@aggTrade"]
    refused = decode_frame('{"error":{"code":2,"msg":"Invalid request"},"id":7}')
    assert refused.error is not None and refused.error.code == 2 and refused.id == 7
    bad_json = decode_frame('{"error":{"code":3,"msg":"Invalid JSON"},"id":null}')
    assert bad_json.error is not None and bad_json.id is None


@pytest.mark.parametrize(
    "raw",
    [
        FRAME_2026[: len(FRAME_2026) // 2],
        "\x00\x01 not json",
        "",
        "[1, 2]",
        "{}",
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1}}',
        '{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1}}',
        FRAME_2026.replace('"p":"61800.30"', '"p":"sixty"'),
        FRAME_2026.replace('"a":2300000001', '"a":"x"'),
        # Numbers msgspec converts but no exchange prints: each would poison a bar.
        FRAME_2026.replace('"p":"61800.30"', '"p":"NaN"'),
        FRAME_2026.replace('"p":"61800.30"', '"p":"inf"'),
        FRAME_2026.replace('"p":"61800.30"', '"p":"-61800.30"'),
        FRAME_2026.replace('"p":"61800.30"', '"p":"0"'),
        FRAME_2026.replace('"q":"0.022"', '"q":"nan"'),
        FRAME_2026.replace('"q":"0.022"', '"q":"-0.022"'),
        FRAME_2026.replace('"T":1723161256322', '"T":1723161256322000'),
        _trade_frame(T=-1),
    ],
    ids=[
        "truncated",
        "not-json",
        "empty",
        "array",
        "empty-object",
        "missing-keys",
        "other-event",
        "bad-price",
        "bad-id",
        "nan-price",
        "infinite-price",
        "negative-price",
        "zero-price-positive-qty",
        "nan-qty",
        "negative-qty",
        "microsecond-trade-time",
        "trade-time-before-1970",
    ],
)
def test_malformed_frames_raise_one_exception(raw: str) -> None:
    with pytest.raises(MalformedFrame):
        decode_frame(raw)


def test_bare_payload_of_raw_route() -> None:
    payload = json.dumps(json.loads(FRAME_2026)["data"])
    data = decode_payload(payload)
    assert isinstance(data, AggTradePayload) and data.id == 2300000001
    with pytest.raises(MalformedFrame):
        decode_payload('{"result":null,"id":1}')


# From Binance's documentation of <symbol>@markPrice@1s (the 2026 key "ap" included).
MARK = (
    '{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1562305380000,'
    '"s":"BTCUSDT","p":"11794.15000000","ap":"11794.15000000","i":"11784.62659091",'
    '"P":"11784.25641265","r":"0.00038167","T":1562306400000}}'
)


def _mark_frame(**changes: object) -> str:
    frame = json.loads(MARK)
    frame["data"].update(changes)
    return json.dumps(frame)


def test_a_mark_price_update_becomes_a_mark_price() -> None:
    data = decode_frame(MARK).data
    assert isinstance(data, MarkPricePayload)
    assert data.settle_estimate == 11784.25641265
    assert data.to_mark() == MarkPrice(
        "BTCUSDT", 1562305380000, 11794.15, 11784.62659091, 0.00038167, 1562306400000
    )
    # No funding (a quarterly): T is 0, and a negative rate is a rate.
    assert decode_frame(_mark_frame(T=0, r="-0.0001")).data == MarkPricePayload(
        1562305380000, "BTCUSDT", 11794.15, 11784.62659091, -0.0001, 0, 11784.25641265
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"p": "NaN"},
        {"i": "-1"},
        {"r": "inf"},
        {"r": "2"},  # 200%: no exchange's funding rate
        {"T": 1562306400000 * 1000},  # microseconds
        {"T": 1562305380000 - 7_200_000},  # two hours before the update
        {"E": "soon"},
    ],
)
def test_a_mark_price_no_exchange_sends_is_malformed(changes: dict[str, object]) -> None:
    with pytest.raises(MalformedFrame):
        decode_frame(_mark_frame(**changes))
