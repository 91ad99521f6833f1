"""Reading NDJSON recordings: Binance stream frames, cryptofeed captures, tick collectors.

A file is read a block of lines at a time. In a block, the lines that are plain market trades
of the file's kind, spelled as Binance spells them, go straight into columns in C
(:mod:`~pairs_tui.feed.replay._lines`, a scanner that reads a line only where msgspec's typed
decoder would read it the same, and otherwise leaves it alone). Every other line, and every
line where the extension was not built, is decoded by one typed msgspec Struct (prices arrive
as strings and become floats in msgspec's C decoder) and its fields are appended to column
lists. The benchmark (``benchmarks/bench_replay.py``) holds the whole read against a bare
msgspec decode of the same file. No library reads this shape into columns faster than a
per-line decode: pyarrow's and polars' multi-threaded JSON readers were measured, slower on a
2-core machine than the bare decode, and they cannot say which line was bad.

Binance frames are decoded with the recorded views of the WebSocket schemas
(:mod:`pairs_tui.feed.schemas.ws`). The rules are the client's: unknown keys are ignored, and an
``@trade`` print is kept only when its ``X`` is ``MARKET`` (a missing or unknown ``X`` is not a
market trade) with a positive size.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np
import polars as pl

from pairs_tui.feed.replay.files import Format, ReplayInput, line_blocks
from pairs_tui.feed.replay.table import (
    TRADE_SCHEMA,
    ParsedTrades,
    Problems,
    check_trades,
    clean_trades,
    epoch_to_ms,
    finish_trades,
)
from pairs_tui.feed.schemas.ws import (
    INT64_MAX,
    INT64_MIN,
    TRADE_EVENTS,
    Int64,
    RecordedAggTrade,
    RecordedAggTradeFrame,
    RecordedFrame,
    RecordedMarketTrade,
    RecordedMarketTradeFrame,
    RecordedPayload,
)

try:
    from pairs_tui.feed.replay import _lines
except ImportError:  # built without a C compiler: every line is read in Python, more slowly
    _scan: Callable[[memoryview, bool, bool, bool], _lines.Scanned] | None = None
else:
    _scan = _lines.scan

_EXPECTED = {
    Format.ENVELOPES: 'Binance frames like {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade",'
    '"E":…,"a":…,"s":"BTCUSDT","p":"61800.30","q":"0.006","T":…,"m":false}}',
    Format.PAYLOADS: 'Binance payloads like {"e":"aggTrade","s":"BTCUSDT","p":"61800.30",'
    '"q":"0.006","T":…,"m":false,…}',
    Format.PREFIXED: 'lines like 1626992742.289: {"stream":…,"data":{"e":"aggTrade",…}}',
    Format.TICKS: 'lines like {"symbol":"btcusdt","ts":"2024-08-08T23:54:16.322Z",'
    '"price":61800.3,"size":0.006}',
}


_ROW_SCHEMA = {k: TRADE_SCHEMA[k] for k in ("symbol", "time", "price", "qty", "buyer_maker", "id")}
"""The columns a reader fills from each line, before it adds where each row came from."""

_BLOCK = 4 << 20
"""Bytes of a file split into lines at a time."""

_BLOCK_SCHEMA = {**_ROW_SCHEMA, "at": pl.Int64()}
"""A block's columns: the trades, and the line each came from."""

_FAST: dict[tuple[str, bool], type[msgspec.Struct]] = {
    ("trade", False): RecordedMarketTrade,
    ("trade", True): RecordedMarketTradeFrame,
    ("aggTrade", False): RecordedAggTrade,
    ("aggTrade", True): RecordedAggTradeFrame,
}
"""The fast decoder's type by the file's kind of frame and whether frames are enveloped."""


class _Tick(msgspec.Struct, gc=False):
    """A tick collector's line. ``size`` or ``qty``; ``side`` or ``is_buyer_maker`` optional."""

    symbol: str
    ts: datetime | int | float
    price: float
    size: float | None = None
    qty: float | None = None
    side: str | None = None
    is_buyer_maker: bool | None = None
    id: Int64 | None = None


def read_ndjson(source: ReplayInput) -> Generator[pl.DataFrame, None, ParsedTrades]:
    """Read one NDJSON file of any of the supported layouts.

    A file of stream frames is read a block at a time: each block's market trades are yielded
    as they are read, in :data:`~pairs_tui.feed.replay.table.TRADE_SCHEMA`, and the file's
    counts are returned at the end with an empty frame. A tick collector's file is read whole:
    nothing is yielded, and its trades are in the returned frame.

    Args:
        source: An opened file whose format is one of the NDJSON formats.

    Raises:
        ReplayError: Too many malformed lines, or no trades.
    """
    if source.format is Format.TICKS:
        return _read_ticks(source)
    return (yield from _read_frames(source))


class _Exceptions:
    """The lines off the fast path: decoded again by the general Struct and sorted out.

    Each is another kind of trade, a print that is not a market trade, another stream's
    frame, a blank or a malformed line. They are recorded as positions, applied to whole
    columns once the loop is done.

    Args:
        enveloped: Frames sit under ``data``.
        kind: The kind of trade frame the file mostly holds.
    """

    def __init__(self, enveloped: bool, kind: str) -> None:
        self.decode: Callable[[bytes], Any] = msgspec.json.Decoder(
            RecordedFrame if enveloped else RecordedPayload, strict=False
        ).decode
        self.enveloped = enveloped
        self.kind = kind
        self.problems = Problems()
        self.blank = 0
        self.other = 0
        """Frames of other streams and control replies."""
        self.skipped: list[int] = []
        """Line numbers that did not become a row."""
        self.nonmarket: list[int] = []
        """Rows (0-based) of ``@trade`` prints other than MARKET."""
        self.odd_kind: list[int] = []
        """Rows (0-based) of the kind of trade frame the file mostly does not hold."""

    def read(self, lineno: int, line: bytes, row: int) -> RecordedPayload | None:
        """The payload of a line the fast path refused, or None to skip it."""
        try:
            decoded = self.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.skipped.append(lineno)
            if not line.strip():
                self.blank += 1
            elif _is_other_frame(line):
                self.other += 1
            else:
                self.problems.add(lineno, _describe(exc))
            return None
        payload: RecordedPayload = decoded.data if self.enveloped else decoded
        e = payload.event
        if e not in TRADE_EVENTS:
            self.skipped.append(lineno)
            self.other += 1
            return None
        if e != self.kind:
            self.odd_kind.append(row)
        if not payload.market:
            self.nonmarket.append(row)
        return payload


def _read_frames(source: ReplayInput) -> Generator[pl.DataFrame, None, ParsedTrades]:
    """Line by line: Binance frames, enveloped, bare or behind a cryptofeed time prefix.

    The lines are most of a replay's cost. A block's plain market trades of the file's kind go
    straight into columns in C (:mod:`~pairs_tui.feed.replay._lines`, where it could be built);
    every other line, and every line without it, is read by :class:`_Lines`. Each block's
    trades are yielded once read, so the file is never held whole.
    """
    fmt = source.format
    data = source.data
    if source.rest is not None and b'"e":"aggTrade"' not in data and b'"e":"trade"' not in data:
        data = b"".join(source.pieces())  # no trade in the first MB: decide on the whole
        source = ReplayInput(source.name, source.path, fmt, data, source.inner_name)
    enveloped = fmt is not Format.PAYLOADS
    kind = _kind_of(data)
    odd = _Exceptions(enveloped, kind)
    prefixed = fmt is Format.PREFIXED
    reader = _Lines(kind, odd, prefixed=prefixed)
    kinds = {False: kind, True: "trade" if kind == "aggTrade" else "aggTrade"}
    kept = dropped = rows = 0
    first = 1
    for block in line_blocks(source.pieces(), _BLOCK):
        marks = len(odd.skipped), len(odd.nonmarket), len(odd.odd_kind)
        if _scan is None:
            lines = bytes(block).split(b"\n")
            chunk = reader.read(((n, line, 0) for n, line in enumerate(lines, first)), rows)
            after = first + len(lines)
        else:
            scanned = _scan(block, enveloped, kind == "aggTrade", prefixed)
            chunk = _columns(scanned, block, first, rows, reader)
            after = first + scanned[0] + len(scanned[-1])
        # Where the lines refused by both readers, the prints that are not market trades and
        # those of the other kind fall in this block's rows.
        skipped = np.asarray(odd.skipped[marks[0] :], dtype=np.int64) - first
        market = np.ones(chunk.height, dtype=bool)
        market[np.asarray(odd.nonmarket[marks[1] :], dtype=np.int64) - rows] = False
        is_odd = np.zeros(chunk.height, dtype=bool)
        is_odd[np.asarray(odd.odd_kind[marks[2] :], dtype=np.int64) - rows] = True
        chunk = chunk.with_columns(
            pl.Series("market", market, dtype=pl.Boolean),
            pl.Series("line", np.delete(np.arange(first, after), skipped), dtype=pl.Int64),
            pl.Series("kind", is_odd).replace_strict(kinds, return_dtype=pl.String),
            # Binance sends ms, but captures re-stamped in µs or ns exist: the CSV readers' rule.
            epoch_to_ms(pl.col("time")),
        )
        rows += chunk.height
        first = after
        trades, dropped_here = clean_trades(chunk, odd.problems)
        dropped += dropped_here
        if trades.height:
            kept += trades.height
            yield trades
    problems = odd.problems
    # Frames of other streams are not malformed, so they do not count against the limit.
    problems.records = first - 1 - odd.blank - odd.other
    check_trades(source, problems, _EXPECTED[fmt], kept, dropped, odd.other)
    empty = pl.DataFrame(schema=TRADE_SCHEMA)
    return ParsedTrades(source, empty, problems.malformed, dropped, odd.other)


def _kind_of(data: bytes) -> str:
    """The kind of trade frame that comes first: ``aggTrade``, else ``trade``."""
    for end in (_BLOCK, len(data)):  # the first block nearly always decides
        agg, trade = data.find(b'"e":"aggTrade"', 0, end), data.find(b'"e":"trade"', 0, end)
        if agg >= 0 or trade >= 0:
            break
    return "aggTrade" if agg >= 0 and (trade < 0 or agg < trade) else "trade"


class _Lines:
    """Reads lines in Python: one typed decode that checks everything in C for the common line
    (a market trade of the file's kind), :class:`_Exceptions` for any other.

    Args:
        kind: The kind of trade frame the file mostly holds.
        odd: Where the other lines go.
        prefixed: Each frame follows a cryptofeed receive-time prefix.
    """

    def __init__(self, kind: str, odd: _Exceptions, *, prefixed: bool) -> None:
        self.decode: Callable[[bytes], Any] = msgspec.json.Decoder(
            _FAST[kind, odd.enveloped], strict=False
        ).decode
        self.odd = odd
        self.prefixed = prefixed

    def read(self, numbered: Iterable[tuple[int, bytes, int]], rows: int) -> pl.DataFrame:
        """The trades of some lines of a block, as a frame with each row's line number (``at``),
        symbols in upper case.

        Args:
            numbered: Each line with its number and the rows the block has before it that are
                not among these lines (the native scanner's).
            rows: Rows of the blocks before.
        """
        symbol: list[str] = []
        time: list[int] = []
        price: list[float] = []
        qty: list[float] = []
        maker: list[bool] = []
        ids: list[int] = []
        at: list[int] = []
        add_symbol, add_time, add_price = symbol.append, time.append, price.append
        add_qty, add_maker, add_id, add_at = qty.append, maker.append, ids.append, at.append
        decode, odd, enveloped, prefixed = self.decode, self.odd, self.odd.enveloped, self.prefixed
        for lineno, line, before in numbered:
            if prefixed:
                start = line.find(b"{")
                line = line[start:] if start >= 0 else line
            try:
                payload = decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                payload = odd.read(lineno, line, rows + before + len(time))
                if payload is None:
                    continue
            else:
                if enveloped:
                    payload = payload.data
            add_id(payload.id)
            add_symbol(payload.symbol)
            add_time(payload.time)
            add_price(payload.price)
            add_qty(payload.qty)
            add_maker(payload.buyer_maker)
            add_at(lineno)
        return pl.DataFrame(
            {
                "symbol": symbol,
                "time": time,
                "price": price,
                "qty": qty,
                "buyer_maker": maker,
                "id": ids,
                "at": at,
            },
            schema=_BLOCK_SCHEMA,
        ).with_columns(pl.col("symbol").str.to_uppercase())


def _columns(
    scanned: _lines.Scanned, block: memoryview, first: int, rows: int, reader: _Lines
) -> pl.DataFrame:
    """A block's trades from the native scanner's columns and, for the lines it refused, the
    Python reader's, in line order, symbols in upper case."""
    _, time, price, qty, maker, ids, symbol, at, symbols, refused = scanned
    codes = pl.Series(np.frombuffer(symbol, dtype=np.uint8), dtype=pl.UInt32)
    native = pl.DataFrame(
        {
            "symbol": pl.Series([s.upper() for s in symbols], dtype=pl.String).gather(codes),
            "time": np.frombuffer(time, dtype=np.int64),
            "price": np.frombuffer(price, dtype=np.float64),
            "qty": np.frombuffer(qty, dtype=np.float64),
            "buyer_maker": np.frombuffer(maker, dtype=np.bool_),
            "id": np.frombuffer(ids, dtype=np.int64),
            "at": np.frombuffer(at, dtype=np.int64) + first,
        },
        schema=_BLOCK_SCHEMA,
    )
    if not refused:
        return native.drop("at")
    # A refused line has the native rows of the lines before it that were not refused.
    lines = ((first + k, bytes(block[s:e]), k - i) for i, (k, s, e) in enumerate(refused))
    other = reader.read(lines, rows)
    return pl.concat([native, other]).sort("at").drop("at") if other.height else native.drop("at")


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
    return (
        isinstance(data, dict)
        and isinstance(data.get("e"), str)
        and (data["e"] not in TRADE_EVENTS)
    )


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
        if size is None or when is None or not INT64_MIN <= when <= INT64_MAX:
            problems.add(lineno, "a tick line needs a size (or qty) and a time")
            continue
        if tick.is_buyer_maker is not None:
            maker = tick.is_buyer_maker
        else:
            # The taker sold when the side is "sell"; with no side at all, False (unknown).
            maker = (tick.side or "").lower() in ("sell", "s", "ask")
        rows.append(
            (tick.symbol, when, tick.price, size, maker, -1 if tick.id is None else tick.id, lineno)
        )
    frame = pl.DataFrame(
        rows,
        orient="row",
        schema={**_ROW_SCHEMA, "line": pl.Int64()},
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
