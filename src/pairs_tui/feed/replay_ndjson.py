"""Reading NDJSON recordings: Binance stream frames, cryptofeed captures, tick collectors.

Clean Binance recordings go through pyarrow's multi-threaded JSON reader, which on a 2-core
machine is faster than any per-line Python loop (measured in ``benchmarks/bench_replay.py``).
Anything that reader refuses, or that holds a frame it cannot judge (a malformed line, another
stream's frame), is read again line by line with msgspec, which counts what it skips and knows
the line numbers. Both paths produce the same table.

The frame layout is decoded by this module's own small msgspec Structs (the client's
``feed/frames.py`` did not exist yet when it was written); unknown keys are ignored either way.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.json as pa_json  # type: ignore[import-untyped]

from pairs_tui.feed.replay_files import Format, ReplayInput
from pairs_tui.feed.replay_table import (
    TRADE_SCHEMA,
    ParsedTrades,
    Problems,
    finish_trades,
)

TRADE_EVENTS = ("trade", "aggTrade")
"""The ``e`` of the frames that carry trades."""

_EXPECTED = {
    Format.ENVELOPES: 'Binance frames like {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade",'
                      '"E":…,"a":…,"s":"BTCUSDT","p":"61800.30","q":"0.006","T":…,"m":false}}',
    Format.PAYLOADS: 'Binance payloads like {"e":"aggTrade","s":"BTCUSDT","p":"61800.30",'
                     '"q":"0.006","T":…,"m":false,…}',
    Format.PREFIXED: 'lines like 1626992742.289: {"stream":…,"data":{"e":"aggTrade",…}}',
    Format.TICKS: 'lines like {"symbol":"btcusdt","ts":"2024-08-08T23:54:16.322Z",'
                  '"price":61800.3,"size":0.006}',
}


class _Payload(msgspec.Struct, gc=False):
    """The fields of a ``trade`` or ``aggTrade`` payload that replay needs."""

    e: str
    T: int
    s: str
    p: float
    q: float
    m: bool
    t: int = -1
    a: int = -1
    X: str | None = None
    """Trade type on ``@trade``; absent on ``@aggTrade``, which holds market trades only."""


class _Envelope(msgspec.Struct, gc=False):
    data: _Payload


class _Tick(msgspec.Struct, gc=False):
    """A tick collector's line. ``size`` or ``qty``; ``side`` or ``is_buyer_maker`` optional."""

    symbol: str
    ts: datetime | int | float
    price: float
    size: float | None = None
    qty: float | None = None
    side: str | None = None
    is_buyer_maker: bool | None = None
    id: int | None = None


_PAYLOAD_ARROW = pa.struct([
    ("e", pa.string()), ("T", pa.int64()), ("s", pa.string()), ("p", pa.string()),
    ("q", pa.string()), ("m", pa.bool_()), ("t", pa.int64()), ("a", pa.int64()),
    ("X", pa.string()),
])
_ARROW_BLOCK = 8 << 20


def read_ndjson(source: ReplayInput) -> ParsedTrades:
    """Read one NDJSON file of any of the supported layouts.

    Args:
        source: An opened file whose format is one of the NDJSON formats.

    Raises:
        ReplayError: Too many malformed lines, or no trades.
    """
    if source.format is Format.TICKS:
        return _read_ticks(source)
    if source.format is not Format.PREFIXED:
        fast = _read_with_arrow(source)
        if fast is not None:
            return fast
    return _read_frames(source)


def _read_with_arrow(source: ReplayInput) -> ParsedTrades | None:
    """The fast path, or None when the file needs the line-by-line reader."""
    enveloped = source.format is Format.ENVELOPES
    fields = [("data", _PAYLOAD_ARROW)] if enveloped else list(_PAYLOAD_ARROW)
    options = pa_json.ParseOptions(explicit_schema=pa.schema(fields),
                                   unexpected_field_behavior="ignore")
    try:
        table = pa_json.read_json(pa.BufferReader(source.data),
                                  read_options=pa_json.ReadOptions(block_size=_ARROW_BLOCK),
                                  parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    raw = pl.from_arrow(table)
    assert isinstance(raw, pl.DataFrame)
    if enveloped:
        raw = raw.unnest("data")
    frame = raw.select(
        pl.col("s").alias("symbol"),
        pl.col("T").alias("time"),
        pl.col("p").cast(pl.Float64, strict=False).alias("price"),
        pl.col("q").cast(pl.Float64, strict=False).alias("qty"),
        pl.col("m").alias("buyer_maker"),
        pl.when(pl.col("e") == "trade").then(pl.col("t")).otherwise(pl.col("a"))
        .fill_null(-1).alias("id"),
        pl.col("e").alias("kind"),
        ((pl.col("e") == "aggTrade") | pl.col("X").is_null() | (pl.col("X") == "MARKET"))
        .alias("market"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line"),
    )
    clean = frame.select(
        pl.all_horizontal(pl.col("symbol", "time", "price", "qty", "buyer_maker").is_not_null())
        & pl.col("kind").is_in(TRADE_EVENTS)
    ).to_series()
    if not clean.all():
        # Another stream's frame or a broken field: only the exact reader can tell which,
        # and on which line.
        return None
    problems = Problems(records=frame.height)
    return finish_trades(source, frame.with_columns(pl.col("symbol").str.to_uppercase()),
                         problems, _EXPECTED[source.format])


def _read_frames(source: ReplayInput) -> ParsedTrades:
    """Line by line: Binance frames, enveloped, bare or behind a cryptofeed time prefix."""
    fmt = source.format
    enveloped = fmt is not Format.PAYLOADS
    decoder: msgspec.json.Decoder[_Envelope] | msgspec.json.Decoder[_Payload] = (
        msgspec.json.Decoder(_Envelope, strict=False) if enveloped
        else msgspec.json.Decoder(_Payload, strict=False))
    decode = decoder.decode
    prefixed = fmt is Format.PREFIXED
    problems = Problems()
    other = 0
    symbol: list[str] = []
    time: list[int] = []
    price: list[float] = []
    qty: list[float] = []
    maker: list[bool] = []
    ids: list[int] = []
    kind: list[str] = []
    market: list[bool] = []
    lines: list[int] = []
    for lineno, line in enumerate(source.data.split(b"\n"), 1):
        if prefixed:
            start = line.find(b"{")
            line = line[start:] if start >= 0 else line
        if not line.strip():
            continue
        problems.records += 1
        try:
            decoded = decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            if _is_other_frame(line):
                other += 1
            else:
                problems.add(lineno, _describe(exc))
            continue
        payload = decoded.data if isinstance(decoded, _Envelope) else decoded
        e = payload.e
        if e not in TRADE_EVENTS:
            other += 1
            continue
        symbol.append(payload.s)
        time.append(payload.T)
        price.append(payload.p)
        qty.append(payload.q)
        maker.append(payload.m)
        ids.append(payload.t if e == "trade" else payload.a)
        kind.append(e)
        market.append(e == "aggTrade" or payload.X is None or payload.X == "MARKET")
        lines.append(lineno)
    # Frames of other streams are not malformed, so they do not count against the limit.
    problems.records -= other
    frame = pl.DataFrame(
        {"symbol": symbol, "time": time, "price": price, "qty": qty, "buyer_maker": maker,
         "id": ids, "kind": kind, "market": market, "line": lines},
        schema={**TRADE_SCHEMA, "kind": pl.String(), "market": pl.Boolean(),
                "line": pl.Int64()},
    ).with_columns(pl.col("symbol").str.to_uppercase())
    return finish_trades(source, frame, problems, _EXPECTED[fmt], other_events=other)


def _is_other_frame(line: bytes) -> bool:
    """True for valid JSON that is not a trade: another stream's frame or a control reply."""
    try:
        obj = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return False
    if not isinstance(obj, dict):
        return False
    data = obj.get("data", obj)
    if "result" in obj or "error" in obj:
        return True
    return isinstance(data, dict) and isinstance(data.get("e"), str) and (
        data["e"] not in TRADE_EVENTS)


def _describe(exc: Exception) -> str:
    text = str(exc).split("\n", 1)[0]
    if isinstance(exc, msgspec.ValidationError):
        return f"not a trade frame: {text}"
    return f"not valid JSON: {text}"


def _read_ticks(source: ReplayInput) -> ParsedTrades:
    decode = msgspec.json.Decoder(_Tick, strict=False).decode
    problems = Problems()
    rows: list[tuple[str, int, float, float, bool, int, int]] = []
    for lineno, line in enumerate(source.data.split(b"\n"), 1):
        if not line.strip():
            continue
        problems.records += 1
        try:
            tick = decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            problems.add(lineno, _describe(exc).replace("trade frame", "tick line"))
            continue
        size = tick.size if tick.size is not None else tick.qty
        when = _tick_ms(tick.ts)
        if size is None or when is None:
            problems.add(lineno, "a tick line needs a size (or qty) and a time")
            continue
        if tick.is_buyer_maker is not None:
            maker = tick.is_buyer_maker
        else:
            # The taker sold when the side is "sell"; with no side at all, False (unknown).
            maker = (tick.side or "").lower() in ("sell", "s", "ask")
        rows.append((tick.symbol, when, tick.price, size, maker,
                     -1 if tick.id is None else tick.id, lineno))
    frame = pl.DataFrame(
        rows, orient="row",
        schema={"symbol": pl.String(), "time": pl.Int64(), "price": pl.Float64(),
                "qty": pl.Float64(), "buyer_maker": pl.Boolean(), "id": pl.Int64(),
                "line": pl.Int64()},
    ).with_columns(pl.col("symbol").str.to_uppercase(), pl.lit("unknown").alias("kind"))
    return finish_trades(source, frame, problems, _EXPECTED[Format.TICKS])


def _tick_ms(ts: datetime | int | float) -> int | None:
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        return (ts - _EPOCH) // _ONE_MS
    value = float(ts)
    # The same magnitude rule as every other format: s, ms, µs or ns.
    if value >= 1e17:
        return int(ts) // 1_000_000 if isinstance(ts, int) else int(value // 1e6)
    if value >= 1e14:
        return int(ts) // 1_000 if isinstance(ts, int) else int(value // 1e3)
    if 1e8 <= value < 1e11:
        return int(value * 1e3 // 1)
    return int(value // 1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH
