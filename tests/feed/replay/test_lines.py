"""The NDJSON replay's native fast path (``_lines.c``) decides nothing the Python reader would
decide differently.

It reads a line only when the replay's typed msgspec decoder accepts it as a market trade of
the file's kind, with the same values to the bit, and leaves every other line to the Python
reader; a file read with it equals the same file read without it, whatever the file holds.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pairs_tui.feed.replay import ndjson
from pairs_tui.feed.replay.files import ReplayError, open_input
from pairs_tui.feed.replay.table import ParsedTrades
from pairs_tui.feed.schemas.ws import (
    RecordedAggTrade,
    RecordedAggTradeFrame,
    RecordedMarketTrade,
    RecordedMarketTradeFrame,
)
from sources import ENVELOPES

_lines = pytest.importorskip("pairs_tui.feed.replay._lines", reason="built without a C compiler")

DECODERS: dict[tuple[bool, bool], Callable[[bytes], Any]] = {
    (agg, enveloped): msgspec.json.Decoder(
        {
            (True, True): RecordedAggTradeFrame,
            (True, False): RecordedAggTrade,
            (False, True): RecordedMarketTradeFrame,
            (False, False): RecordedMarketTrade,
        }[agg, enveloped],
        strict=False,
    ).decode
    for agg in (True, False)
    for enveloped in (True, False)
}
"""The Python reader's fast decoders, by (aggTrade, enveloped)."""

plain_decimals = st.one_of(
    st.decimals(min_value=0, max_value=10**9, places=8, allow_nan=False).map(
        lambda d: format(d, "f")
    ),
    st.from_regex(r"\A(0|[1-9][0-9]{0,25})(\.[0-9]{1,30})?\Z"),
    # 14 to 19 significant digits: either side of what a double holds exactly.
    st.tuples(st.integers(10**13, 10**19), st.integers(0, 19)).map(
        lambda m: f"{m[0] // 10 ** m[1]}.{m[0] % 10 ** m[1]:0{m[1]}d}" if m[1] else str(m[0])
    ),
)
"""Amounts as Binance spells them: digits with a fraction, some past a double's 17 digits."""

decimals = st.one_of(
    plain_decimals,
    st.sampled_from(["0E-8", "1e3", "-1.5", "01.5", "1.", ".5", "nan", " 1", "1_0", "0x10"]),
)
"""Amounts, and spellings the scanner must leave alone."""

symbols = st.one_of(
    st.sampled_from(["BTCUSDT", "ETHUSDT", "btcusdt", "SOLUSDT"]),
    st.text(min_size=0, max_size=40),
)


@st.composite
def payloads(draw: st.DrawFn, agg: bool, plain: bool) -> dict[str, Any]:
    """A trade payload of the kind: plain, or often intact and sometimes bent in one of many
    ways."""
    payload: dict[str, Any] = {
        "e": "aggTrade" if agg else "trade",
        "E": draw(st.integers(0, 2**42)),
        "T": draw(
            st.integers(0, 2**42)
            if plain
            else st.one_of(st.integers(0, 2**42), st.integers(-(2**64), 2**64))
        ),
        "s": draw(st.sampled_from(["BTCUSDT", "ETHUSDT"]) if plain else symbols),
        "p": draw(plain_decimals if plain else decimals),
        "q": draw(plain_decimals if plain else decimals),
        "m": draw(st.booleans()),
    }
    if agg:
        payload |= {"a": draw(st.integers(0, 2**40)), "f": 1, "l": 2}
    else:
        payload |= {"t": draw(st.integers(0, 2**40)), "X": "MARKET"}
    bend = 0 if plain else draw(st.integers(0, 8))
    keys = list(payload)
    if bend == 1:
        del payload[draw(st.sampled_from(keys))]
    elif bend == 2:
        payload[draw(st.sampled_from(keys))] = draw(
            st.one_of(st.none(), st.booleans(), st.floats(), st.text(), st.lists(st.integers()))
        )
    elif bend == 3:
        payload["X"] = draw(st.sampled_from(["LIMIT", "INSURANCE_FUND", "market", ""]))
    elif bend == 4:
        payload["e"] = draw(st.sampled_from(["aggTrade", "trade", "markPriceUpdate"]))
    elif bend == 5:
        payload[draw(st.text(max_size=3))] = draw(
            st.one_of(st.integers(), st.floats(allow_nan=False), st.text(), st.none())
        )
    elif bend == 6:
        payload["p"] = draw(st.floats(min_value=0, allow_infinity=False))
    elif bend == 7:
        payload = dict(draw(st.permutations(list(payload.items()))))
    return payload


@st.composite
def lines(draw: st.DrawFn, agg: bool, enveloped: bool) -> bytes:
    """One line of a recording: half of them a plain trade as Binance writes it, the others
    bent in content or in spelling."""
    plain = draw(st.booleans())
    payload = draw(payloads(agg, plain))
    body: Any = {"stream": "btcusdt@trade", "data": payload} if enveloped else payload
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=draw(st.booleans()))
    spelling = 0 if plain else draw(st.integers(0, 10))
    if spelling == 1:
        text = json.dumps(body, separators=(", ", ": "))
    elif spelling == 2:
        text = text.replace('"T":', '"T":0', 1)  # a leading zero: not JSON
    elif spelling == 3:
        text = text.replace('"s":"', '"s":"\\u0042', 1)  # an escape in a string
    elif spelling == 4:
        text = text[: draw(st.integers(0, len(text)))]
    elif spelling == 5:
        text = text.replace('"m":', '"m":true,"m":', 1)  # a key twice
    elif spelling == 6:
        text = f" {text}\r\t "
    elif spelling == 7:
        text = ""
    elif spelling == 8:
        text = text + "x"
    elif spelling == 9:
        text = '{"result":null,"id":1}'
    return text.encode()


def python_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ndjson, "_scan", None)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agg=st.booleans(), enveloped=st.booleans(), data=st.data())
def test_a_line_is_read_only_as_msgspec_reads_it(
    agg: bool, enveloped: bool, data: st.DataObject
) -> None:
    line = data.draw(lines(agg, enveloped))
    n, time, price, qty, maker, ids, symbol, at, names, refused = _lines.scan(
        line, enveloped, agg, False
    )
    try:
        decoded = DECODERS[agg, enveloped](line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        assert (n, refused) == (0, [(0, 0, len(line))])
        return
    if n == 0:
        return  # a line msgspec reads but the scanner leaves to it: allowed
    payload = decoded.data if enveloped else decoded
    assert struct.unpack("<qddqBB", time + price + qty + ids + maker + symbol) == (
        payload.time,
        payload.price,
        payload.qty,
        payload.id,
        payload.buyer_maker,
        0,
    )
    assert math_bits(price) == math_bits(struct.pack("<d", payload.price))
    assert (names, at, refused) == ([payload.symbol], struct.pack("<q", 0), [])


@settings(max_examples=2_000, deadline=None)
@given(
    digits=st.one_of(st.integers(0, 10**15), st.integers(2**53 - 10, 10**20)),
    point=st.integers(0, 24),
)
@example(digits=2**53 + 1, point=0).via("the first integer a double cannot hold")
@example(digits=6180030, point=2).via("a price as Binance writes it")
def test_an_amount_is_the_double_msgspec_makes_of_it(digits: int, point: int) -> None:
    """Past 15 digits a decimal is no longer an exact quotient of two doubles: the scanner's
    own arithmetic stops there and the result is still msgspec's, to the bit."""
    text = str(digits).rjust(point + 1, "0")
    amount = f"{text[: len(text) - point]}.{text[len(text) - point :]}" if point else text
    line = b'{"e":"trade","T":1,"s":"A","t":1,"p":"%s","q":%s,"X":"MARKET","m":true}' % (
        amount.encode(),
        amount.encode(),
    )
    n, _, price, qty, *_ = _lines.scan(line, False, False, False)
    expected = DECODERS[False, False](line).price
    assert (n, price, qty) == (1, struct.pack("<d", expected), struct.pack("<d", expected))


ENVELOPE_LINE = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,'
    b'"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}'
)


def math_bits(packed: bytes) -> int:
    """A double's bits, so that 0.0 and -0.0 (or two NaNs) are told apart."""
    return int.from_bytes(packed, "little")


def test_the_packaged_recording_is_read_by_the_scanner_line_for_line() -> None:
    """Binance's frames are what the fast path is for: every line of a real recording."""
    content = gzip.decompress(ENVELOPES.read_bytes()).rstrip(b"\n")
    n, *_, refused = _lines.scan(content, True, False, False)
    assert (n, refused) == (content.count(b"\n") + 1, [])


def read(path: Path) -> ParsedTrades | str:
    """The file's trades (every block the reader yields, joined) and counts, or its error."""
    blocks = []
    try:
        reading = ndjson.read_ndjson(open_input(path))
        while True:
            blocks.append(next(reading))
    except StopIteration as done:
        parsed: ParsedTrades = done.value
    except ReplayError as error:
        return str(error)
    parsed.frame = pl.concat([parsed.frame, *blocks])
    return parsed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    agg=st.booleans(),
    layout=st.sampled_from(["enveloped", "payloads", "prefixed"]),
    block=st.integers(1, 600),
    data=st.data(),
)
def test_a_file_reads_the_same_with_and_without_the_scanner(
    tmp_path_factory: pytest.TempPathFactory,
    agg: bool,
    layout: str,
    block: int,
    data: st.DataObject,
) -> None:
    """Whole files, cut into blocks anywhere: rows, order, line numbers, counts and errors."""
    body = data.draw(st.lists(lines(agg, layout != "payloads"), min_size=1, max_size=40))
    if layout == "prefixed":
        body = [b"1723161255.088176: " + line for line in body]
    path = tmp_path_factory.mktemp("lines") / "frames.ndjson"
    path.write_bytes(b"\n".join(body) + data.draw(st.sampled_from([b"", b"\n"])))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ndjson, "_BLOCK", block)
        native = read(path)
        python_only(patch)
        python = read(path)
    if isinstance(native, str) or isinstance(python, str):
        assert native == python
        return
    assert native.frame.equals(python.frame)
    assert (native.malformed, native.dropped, native.other_events) == (
        python.malformed,
        python.dropped,
        python.other_events,
    )


def test_a_mixed_recording_reads_the_same_with_and_without_the_scanner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mark-price frames, a control reply, a LIMIT print, blanks and a bad line among trades,
    across several blocks."""
    trade = json.loads(ENVELOPE_LINE)
    body = []
    for i in range(3_000):
        frame = json.loads(json.dumps(trade))
        frame["data"] |= {"T": 1723161256322 + i, "t": i, "s": ["BTCUSDT", "ETHUSDT"][i % 2]}
        if i % 7 == 0:
            frame["data"]["X"] = "LIMIT"
        body.append(json.dumps(frame, separators=(",", ":")))
        if i % 5 == 0:
            body.append('{"stream":"btcusdt@markPrice","data":{"e":"markPriceUpdate","p":"1"}}')
        if i % 500 == 0:
            body += ["", '{"result":null,"id":1}', "{broken"]
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(("\n".join(body) + "\n").encode())
    monkeypatch.setattr(ndjson, "_BLOCK", 10_000)
    native = read(path)
    python_only(monkeypatch)
    python = read(path)
    assert isinstance(native, ParsedTrades) and isinstance(python, ParsedTrades)
    assert native.frame.height == 3_000 - 429 and native.frame.equals(python.frame)
    assert (native.malformed, native.dropped, native.other_events) == (6, 429, 606)
    assert (python.malformed, python.dropped, python.other_events) == (6, 429, 606)
