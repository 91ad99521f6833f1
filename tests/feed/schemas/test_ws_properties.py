"""Properties of the frame decoder on any input: a frame, or one exception, never a wrong trade."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pairs_tui.feed.schemas.ws import AggTradePayload, MalformedFrame, TradePayload, decode_frame

PRICES = st.decimals(min_value="0.01", max_value="1000000", places=2, allow_nan=False)
QTYS = st.decimals(min_value="0.001", max_value="10000", places=3, allow_nan=False)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # json.dumps would write Infinity
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@st.composite
def agg_trades(draw: st.DrawFn) -> dict[str, Any]:
    """A valid aggTrade payload as Binance prints it, with extra keys it may add any day."""
    t = draw(st.integers(0, 4_102_444_800_000))  # 1970 to 2100, in ms
    first = draw(st.integers(0, 2**53))
    payload: dict[str, Any] = {
        "e": "aggTrade",
        "E": t + draw(st.integers(0, 500)),
        "a": draw(st.integers(0, 2**53)),
        "s": draw(st.sampled_from(["BTCUSDT", "ETHUSDT", "1000PEPEUSDT"])),
        "p": str(draw(PRICES)),
        "q": str(draw(QTYS)),
        "f": first,
        "l": first + draw(st.integers(0, 50)),
        "T": t,
        "m": draw(st.booleans()),
    }
    extra = draw(st.dictionaries(st.text("xyzwvu", min_size=3, max_size=4), JSON, max_size=3))
    return {**payload, **extra}


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_any_bytes_are_a_frame_or_a_malformed_frame(raw: bytes | str) -> None:
    try:
        frame = decode_frame(raw)
    except MalformedFrame:
        return
    assert frame.data is not None or frame.id is not None or frame.error is not None


@settings(max_examples=200, deadline=None)
@given(payload=agg_trades())
def test_every_valid_payload_decodes_to_its_own_values(payload: dict[str, Any]) -> None:
    stream = f"{payload['s'].lower()}@aggTrade"
    data = decode_frame(json.dumps({"stream": stream, "data": payload})).data
    assert isinstance(data, AggTradePayload)
    trade = data.to_trade()
    assert trade is not None
    assert (trade.symbol, trade.id, trade.time, trade.buyer_maker) == (
        payload["s"],
        payload["a"],
        payload["T"],
        payload["m"],
    )
    assert trade.price == float(payload["p"]) and trade.qty == float(payload["q"])


@settings(max_examples=200, deadline=None)
@given(
    payload=agg_trades(),
    key=st.sampled_from(list("EapqflTm")),
    # Strings msgspec turns into numbers no exchange prints, besides any JSON at all.
    value=st.sampled_from(["NaN", "inf", "-1", "0", "-0", "1e400", "1e-400"]) | JSON,
)
def test_any_value_in_any_field_is_a_sound_trade_or_a_malformed_frame(
    payload: dict[str, Any], key: str, value: object
) -> None:
    payload[key] = value
    try:
        data = decode_frame(json.dumps({"stream": "x", "data": payload})).data
    except MalformedFrame:
        return
    assert isinstance(data, AggTradePayload | TradePayload)
    trade = data.to_trade()
    if trade is not None:
        assert math.isfinite(trade.price) and trade.price > 0
        assert math.isfinite(trade.qty) and trade.qty > 0
        assert trade.time >= 0 and abs(data.event_time - trade.time) <= 3_600_000


@settings(max_examples=300, deadline=None)
@given(payload=agg_trades(), data=st.data())
def test_every_truncation_of_a_frame_is_malformed(payload: dict[str, Any], data: Any) -> None:
    raw = json.dumps({"stream": "btcusdt@aggTrade", "data": payload})
    cut = data.draw(st.integers(0, len(raw) - 1))
    try:
        decode_frame(raw[:cut])
    except MalformedFrame:
        return
    raise AssertionError(f"a truncated frame decoded: {raw[:cut]!r}")
