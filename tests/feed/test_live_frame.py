"""The live read loop's native fast path (``_lines.trade_frame``) decides nothing the msgspec path
would decide differently.

It reads a frame only when ``FRAME_DECODER`` decodes it into a payload of the stream's kind that
the read loop's checks pass and that it delivers as a trade (a positive quantity; on ``@trade``
a market print), with the same values to the bit; every other frame is left to msgspec. A feed
reads the same frames alike with and without it.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve

from pairs_tui.feed import connection
from pairs_tui.feed.binance import BinanceFeed
from pairs_tui.feed.schemas.ws import (
    FRAME_DECODER,
    MAX_PUSH_DELAY_MS,
    AggTradePayload,
    TradePayload,
)
from pairs_tui.records import MarkPrice, Trade

from .conftest import Recorder

_lines = pytest.importorskip("pairs_tui.feed.replay._lines", reason="built without a C compiler")

LiveTrade = tuple[str, int, int, int, float, float, bool]


def msgspec_path(frame: bytes | str, agg: bool) -> LiveTrade | None:
    """What the read loop makes of a frame through msgspec, when it delivers it as it is: the
    decode, the checks over two fields, the payload's ``to_trade`` rule."""
    try:
        data = FRAME_DECODER.decode(frame).data
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if data.__class__ is not (AggTradePayload if agg else TradePayload):
        return None
    assert isinstance(data, AggTradePayload | TradePayload)
    if data.price == 0.0 and data.qty > 0.0:
        return None
    if not -MAX_PUSH_DELAY_MS <= data.event_time - data.time <= MAX_PUSH_DELAY_MS:
        return None
    if data.to_trade() is None:
        return None
    return (
        data.symbol,
        data.event_time,
        data.time,
        data.id,
        data.price,
        data.qty,
        data.buyer_maker,
    )


plain_decimals = st.one_of(
    st.decimals(min_value=0, max_value=10**9, places=8, allow_nan=False).map(
        lambda d: format(d, "f")
    ),
    st.from_regex(r"\A(0|[1-9][0-9]{0,19})(\.[0-9]{1,19})?\Z"),
    st.tuples(st.integers(10**13, 10**19), st.integers(0, 19)).map(
        lambda m: f"{m[0] // 10 ** m[1]}.{m[0] % 10 ** m[1]:0{m[1]}d}" if m[1] else str(m[0])
    ),
)
"""Amounts as Binance spells them, some past a double's 17 digits, none longer than the 40
characters the fast path reads (``MAX_NUMBER_LEN`` in ``_lines.c``)."""

odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(),
    st.text(max_size=8),
    st.integers(-(2**65), 2**65),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sampled_from(["0E-8", "1e3", "-1.5", "01.5", "1.", ".5", "nan", "inf", " 1", "", "-0"]),
    plain_decimals,
    st.from_regex(r"\A[1-9][0-9]{20,30}\.[0-9]{19,30}\Z"),  # too long for the fast path
)
"""Values a key should not hold, and some it may."""


@st.composite
def payloads(draw: st.DrawFn, agg: bool, plain: bool) -> dict[str, Any]:
    """A trade payload of the kind: as Binance sends it, or bent in one of many ways."""
    time = draw(st.integers(0, 2**42))
    payload: dict[str, Any] = {"e": "aggTrade" if agg else "trade"}
    payload["E"] = time + draw(
        st.integers(-1_000, 1_000) if plain else st.integers(-(2**23), 2**23)
    )
    if agg:
        payload |= {"a": draw(st.integers(0, 2**40))}
    else:
        payload |= {"T": time, "t": draw(st.integers(0, 2**40))}
    payload |= {
        "s": draw(st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT", "btcusdt", "1000PEPEUSDT"])),
        "p": draw(plain_decimals),
        "q": draw(plain_decimals),
    }
    if agg:
        payload |= {"nq": payload["q"], "f": 9, "l": 12, "T": time}
    else:
        payload["X"] = "MARKET"
    payload["m"] = draw(st.booleans())
    if agg and draw(st.booleans()):
        payload["st"] = 1
    if plain:
        return payload
    for _ in range(draw(st.integers(1, 3))):
        keys = list(payload)
        bend = draw(st.integers(0, 9))
        if bend == 0 and keys:
            del payload[draw(st.sampled_from(keys))]
        elif bend == 1 and keys:
            payload[draw(st.sampled_from(keys))] = draw(odd_values)
        elif bend == 2:
            payload["X"] = draw(st.sampled_from(["MARKET", "LIMIT", "INSURANCE_FUND", "NA", ""]))
        elif bend == 3:
            payload["e"] = draw(st.sampled_from(["aggTrade", "trade", "markPriceUpdate", "x"]))
        elif bend == 4:
            keys = ["a", "t", "f", "l", "nq", "st", "E", "X", "m"]
            key = draw(st.one_of(st.sampled_from(keys), st.text(max_size=3)))
            payload[key] = draw(odd_values)
        elif bend == 5:
            payload[draw(st.sampled_from(["p", "q", "nq"]))] = draw(
                st.one_of(st.sampled_from(["0", "0.0", "0.000"]), st.floats(min_value=0))
            )
        elif bend == 6:
            payload["T"] = draw(st.integers(-(2**64), 2**64))
        elif bend == 7:
            payload["E"] = draw(st.sampled_from([None, "1", 1.0])) or payload.get("T", time)
        elif bend == 8:
            payload = dict(draw(st.permutations(list(payload.items()))))
        else:
            payload["s"] = draw(st.text(max_size=12))
    return payload


@st.composite
def frames(draw: st.DrawFn, agg: bool) -> bytes | str:
    """One combined-stream frame: half of them a plain trade, the others bent in content or in
    spelling."""
    plain = draw(st.booleans())
    stream = "btcusdt@aggTrade" if agg else "btcusdt@trade"
    body: dict[str, Any] = {"stream": stream, "data": draw(payloads(agg, plain))}
    if not plain and draw(st.booleans()):
        extra = draw(st.sampled_from(["stream", "id", "result", "error", "x", "data"]))
        body[extra] = draw(st.one_of(odd_values, st.just({"code": 2, "msg": "no"})))
        if draw(st.booleans()):
            body = dict(draw(st.permutations(list(body.items()))))
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=draw(st.booleans()))
    spelling = 0 if plain else draw(st.integers(0, 11))
    if spelling == 1:
        text = json.dumps(body, separators=(", ", " : "))
    elif spelling == 2:
        text = text.replace('"T":', '"T":0', 1)  # a leading zero: not JSON
    elif spelling == 3:
        text = text.replace('"s":"', '"s":"\\u0042', 1)  # an escape in a string
    elif spelling == 4:
        text = text[: draw(st.integers(0, len(text)))]
    elif spelling == 5:
        key = draw(st.sampled_from(["m", "T", "p", "a", "s", "stream", "data"]))
        text = text.replace(f'"{key}":', f'"{key}":true,"{key}":', 1)  # a key twice
    elif spelling == 6:
        text = f" \n{text}\r\t "
    elif spelling == 7:
        text = draw(st.sampled_from(["", "{}", "null", '{"result":null,"id":1}', "[]"]))
    elif spelling == 8:
        text = text + draw(st.sampled_from(["x", "}", ",", "{}"]))
    elif spelling == 9:
        return text  # a str frame, not bytes
    elif spelling == 10:
        return text.encode("utf-16")
    elif spelling == 11:
        return text.encode()[:-2] + b"\xff}}"
    return text.encode()


PLAIN_AGG = (
    b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161256100,"a":5000000,'
    b'"s":"BTCUSDT","p":"61800.30","q":"0.006","nq":"0.006","f":9000000,"l":9000000,'
    b'"T":1723161256000,"m":false,"st":1}}'
)
PLAIN_TRADE = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,'
    b'"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":true}}'
)


def bits(value: float) -> int:
    return int.from_bytes(struct.pack("<d", value), "little")


@settings(max_examples=1_500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agg=st.booleans(), data=st.data())
@example(agg=True, data=None).via("the benchmark's frame")
def test_a_frame_is_read_only_as_msgspec_reads_it(agg: bool, data: st.DataObject | None) -> None:
    frame = (PLAIN_AGG if agg else PLAIN_TRADE) if data is None else data.draw(frames(agg))
    fast = _lines.trade_frame(frame, agg)
    expected = msgspec_path(frame, agg)
    if fast is None:
        return  # left to msgspec, which decides as before
    assert expected is not None, frame
    assert fast == expected
    assert [type(v) for v in fast] == [type(v) for v in expected]
    assert (bits(fast[4]), bits(fast[5])) == (bits(expected[4]), bits(expected[5]))


@settings(max_examples=1_500, deadline=None)
@given(
    agg=st.booleans(),
    key=st.sampled_from(
        ["stream", "e", "E", "T", "s", "p", "q", "m", "a", "t", "X", "f", "l", "nq", "st"]
    ),
    value=odd_values,
    data=st.data(),
)
def test_one_field_of_another_type_is_read_only_as_msgspec_reads_it(
    agg: bool, key: str, value: Any, data: st.DataObject
) -> None:
    """One key of an otherwise plain frame holds something else: the types of every field,
    those the read loop ignores included, are msgspec's."""
    payload = data.draw(payloads(agg, plain=True))
    body: dict[str, Any] = {"stream": "btcusdt@aggTrade", "data": payload}
    (body if key == "stream" else payload)[key] = value
    frame = json.dumps(body, separators=(",", ":")).encode()
    fast = _lines.trade_frame(frame, agg)
    assert fast is None or fast == msgspec_path(frame, agg), frame


@settings(max_examples=300, deadline=None)
@given(agg=st.booleans(), data=st.data())
def test_a_plain_trade_frame_takes_the_fast_path(agg: bool, data: st.DataObject) -> None:
    """Binance's spelling of a trade is what the fast path is for: it reads every one that the
    read loop delivers."""
    body = {"stream": "x", "data": data.draw(payloads(agg, plain=True))}
    frame = json.dumps(body, separators=(",", ":")).encode()
    expected = msgspec_path(frame, agg)
    assert _lines.trade_frame(frame, agg) == expected
    assert _lines.trade_frame(frame, not agg) is None  # the other stream's kind: left alone


def test_the_fast_path_reads_the_frames_it_is_for() -> None:
    assert _lines.trade_frame(PLAIN_AGG, True) == (
        "BTCUSDT",
        1723161256100,
        1723161256000,
        5000000,
        61800.3,
        0.006,
        False,
    )
    assert _lines.trade_frame(PLAIN_TRADE, False) == (
        "BTCUSDT",
        1723161256322,
        1723161256322,
        5266583935,
        61800.3,
        0.006,
        True,
    )
    # Delivered as it is only: a print that is not a market trade, a zero quantity, a trade
    # time an hour from the push time, a control reply are msgspec's to sort out.
    assert _lines.trade_frame(PLAIN_TRADE.replace(b"MARKET", b"ADL"), False) is None
    assert _lines.trade_frame(PLAIN_AGG.replace(b'"q":"0.006"', b'"q":"0"'), True) is None
    assert (
        _lines.trade_frame(PLAIN_AGG.replace(b'"E":1723161256100', b'"E":1723164856001'), True)
        is None
    )
    assert _lines.trade_frame(PLAIN_AGG[:-1] + b',"id":1}', True) is None


# -- the read loop, with and without it -------------------------------------------------------


def _agg(i: int, **bend: Any) -> str:
    payload: dict[str, Any] = {
        "e": "aggTrade",
        "E": 1723161256100 + i,
        "a": i,
        "s": "BTCUSDT",
        "p": f"{61800 + i * 0.1:.2f}",
        "q": "0.006",
        "nq": "0.006",
        "f": 9,
        "l": 9,
        "T": 1723161256000 + i,
        "m": i % 2 == 0,
    }
    return json.dumps({"stream": "btcusdt@aggTrade", "data": payload | bend})


def _mixed_frames() -> list[str | bytes]:
    """Trades, and every kind of frame the fast path leaves to msgspec, of either outcome; the
    ids of those the loop takes run on without a gap (a gap would be fetched over REST)."""
    mark = (
        '{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1723161256000,'
        '"s":"BTCUSDT","p":"61800.1","i":"61801.2","P":"61800.0","r":"0.0001",'
        '"T":1723190400000}}'
    )
    return [
        _agg(100),
        _agg(101, q="0"),  # a zero quantity: counted, its id taken, no trade
        _agg(7, s="ETHUSDT"),  # a symbol not asked for: counted, not delivered
        _agg(8, p="0"),  # a positive quantity at a zero price: malformed
        _agg(9, T=1),  # far from E: malformed
        _agg(10, e="trade", t=10, X="MARKET"),  # the other stream's payload: not a trade
        mark,
        '{"result":null,"id":1}',
        '{"error":{"code":2,"msg":"Invalid request"},"id":2}',
        "not json",
        _agg(102).replace('"s": "BTCUSDT"', '"s": "\\u0042TCUSDT"'),  # an escape: msgspec's
        _agg(103).replace(", ", ",   "),
        _agg(103),  # already delivered
        _agg(104, st=1, x={"deep": [1]}),
        _agg(11).encode("utf-16"),  # not UTF-8: malformed
        _agg(105),
    ]


async def _run(
    frames: list[str | bytes],
) -> tuple[list[Trade], list[MarkPrice], tuple[int, int]]:
    recorder = Recorder()

    async def handler(ws: ServerConnection) -> None:
        for frame in frames:
            await ws.send(frame, text=True)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        feed = BinanceFeed(
            ("btcusdt",),
            url=f"ws://127.0.0.1:{port}",
            rest_url=f"http://127.0.0.1:{port}",
            marks=True,
        )
        task = asyncio.create_task(feed.run(recorder))
        try:
            await recorder.wait_until(lambda: any(t.id == 105 for t in recorder.trades))
            status = feed.status
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return recorder.trades, recorder.marks, (status.messages, status.malformed)


async def test_the_feed_reads_alike_with_and_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = _mixed_frames()
    with_fast = await _run(frames)
    monkeypatch.setattr(connection, "_trade_frame", None)
    without = await _run(frames)
    assert with_fast == without
    trades, marks, (messages, malformed) = with_fast
    assert [t.id for t in trades] == [100, 102, 103, 104, 105]
    assert [t.price for t in trades] == [61810.0, 61810.2, 61810.3, 61810.4, 61810.5]
    assert [t.buyer_maker for t in trades] == [True, True, False, True, False]
    assert len(marks) == 1
    assert (messages, malformed) == (8, 4)
