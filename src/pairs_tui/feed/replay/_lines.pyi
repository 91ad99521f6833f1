"""The NDJSON replay's fast path, in C (_lines.c): plain Binance trade lines into columns; and
the live read loop's, one frame at a time."""

from typing_extensions import Buffer

Scanned = tuple[
    int, bytes, bytes, bytes, bytes, bytes, bytes, bytes, list[str], list[tuple[int, int, int]]
]
"""Rows read; time, price, qty, maker, id, symbol index and line of each row, packed; the
symbols; (line, start, end) of each line left to the Python reader."""

LiveTrade = tuple[str, int, int, int, float, float, bool]
"""symbol, push time E, trade time T, id, price, quantity, buyer maker."""

def scan(block: Buffer, enveloped: bool, agg: bool, prefixed: bool, /) -> Scanned:
    """The block's plain market trades of one kind as columns, and the lines it refused."""

def trade_frame(frame: bytes | str, agg: bool, /) -> LiveTrade | None:
    """A live frame's trade when the read loop delivers it as it is; None for msgspec to decode."""
