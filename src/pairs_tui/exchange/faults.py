"""Misbehaviour on demand for the embedded exchange: what Binance and the network do to clients.

Every field of :class:`Faults` is read when it matters, so a test (or the soak) may switch a
fault on and off while clients are connected. One-shot faults that hit the connections open
right now (a drop, a close) are methods of the exchange instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Faults:
    """Misbehaviour on demand. Each field is read when it matters, so tests may change it live."""

    refuse_handshakes: int = 0
    """Answer the next N WebSocket handshakes with HTTP 503 (counts down)."""
    drop_after_messages: int | None = None
    """Abort every connection (TCP reset, no close frame) after sending it N data messages;
    0 drops right after the handshake (a server that accepts and drops)."""
    close_after_s: float | None = None
    """Close each new connection cleanly (1000) after this lifetime, like Binance's 24 h cut."""
    rate_limit_after_messages: int | None = None
    """Close every connection with 1008 "Too many requests" after sending it N data messages,
    as Binance closes an IP it counts over its message limit."""
    garbage_every: int | None = None
    """Send an undecodable frame before every Nth data message of a connection: cycling through
    a truncated frame, text that is not JSON, a payload without its keys, and the next payload
    with a NaN price, a negative quantity or a trade time in microseconds (those three carry the
    real frame's id, so a client that accepted them would drop the good frame as a duplicate)."""
    stall_symbol: str | None = None
    """Stop sending this symbol on every socket while the others flow (it is still published
    and served by REST), like Binance's stalled server streams."""
    silent_symbol: str | None = None
    """Connections opened while this is set acknowledge this symbol's stream and never send it,
    as Binance does for a retired route or an upper-case stream name."""
    freeze: bool = False
    """Send nothing at all on any socket while set; sockets stay open and pings are answered
    (a stalled connection: a half-dead proxy or an exchange-side hang)."""
    skip_every: int | None = None
    """Leave aggregate trades whose id is a multiple of N out of every socket; REST still has
    them, so only a backfill recovers them."""
    rest_unavailable: bool = False
    """Answer ``/fapi/v1/aggTrades`` with HTTP 503, so that gaps cannot be backfilled."""
    too_many_requests: int = 0
    """Answer the next N REST requests with HTTP 429 and ``Retry-After: retry_after_s`` (counts
    down); a request sent before that wait is over is banned with 418, as Binance does."""
    retry_after_s: int = 1
    """``Retry-After`` of the forced 429s, seconds (0: retry at once)."""
    ban_next: bool = False
    """Answer the next REST request with HTTP 418: a real ban of the exchange's ban period."""


GARBAGE_KINDS = 6
"""How many kinds of garbage :func:`garbage` makes, in the order it cycles through them."""

_PRICE = re.compile(r'"p":"[^"]*"')
_QTY = re.compile(r'"q":"([^"]*)"')
_TIME = re.compile(r'"T":(\d+)')


def garbage(kind: int, text: str) -> str:
    """An undecodable frame of one kind, made from the good frame ``text`` that follows it.

    Args:
        kind: Which kind, taken modulo :data:`GARBAGE_KINDS`.
        text: The next good frame (a combined envelope or a bare payload).

    Returns:
        The bad frame.
    """
    kind %= GARBAGE_KINDS
    if kind == 0:
        return text[: len(text) // 2]
    if kind == 1:
        return "\x00\x01 not json at all"
    if kind == 2:
        return '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1}}'
    if kind == 3:
        return _PRICE.sub('"p":"NaN"', text, count=1)
    if kind == 4:
        return _QTY.sub(lambda m: f'"q":"-{m[1]}"', text, count=1)
    return _TIME.sub(lambda m: f'"T":{int(m[1]) * 1000}', text, count=1)
