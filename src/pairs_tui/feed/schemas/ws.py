"""Binance USD-M WebSocket frames: typed msgspec Structs, their conversion to our records, the
decoder.

The one definition of what the trade streams and the mark-price stream send, for the live client
and for the replay of recorded streams alike.

A combined-stream frame is ``{"stream": "btcusdt@aggTrade", "data": {...}}``; a control reply is
``{"result": null, "id": 1}`` or ``{"error": {"code": 2, "msg": "..."}, "id": 1}``. The payload
kind is the tag ``e`` (``aggTrade``, ``trade`` or ``markPriceUpdate``). Unknown keys are ignored,
because Binance adds fields (``nq``, ``st``, ``ps``) without a version bump. Prices and quantities
arrive as strings and are turned into floats inside msgspec's C decoder (``strict=False``), which
keeps one frame at well under a microsecond and builds no dict.

That conversion accepts ``"NaN"``, ``"inf"`` and negative numbers, and a trade time in the wrong
unit is still an integer, so every payload is checked (:func:`check_payload`): one such frame
would otherwise put NaN into a bar, or open a bucket in the year 50,000 that every later trade
is "late" against. A payload that fails is a malformed frame, counted, never a trade. The field
types make the checks of one number inside msgspec's decoder; the two that span two fields (a
positive quantity at a zero price, a trade time far from the push time) are made by
:func:`decode_frame` and :func:`decode_payload` after decoding, and inline by the client's read
loop, which decodes with :data:`FRAME_DECODER` itself: a Python ``__post_init__`` would cost every
frame a call.

A recording is read with the ``Recorded*`` views of the same payloads: only the keys a replay
needs (a capture may lack ``E``, ``f`` and ``l``), and no checks inside the decoder, because the
replay sorts its lines out in whole columns afterwards, naming the first bad line, rather than
one frame at a time (:mod:`pairs_tui.feed.replay.ndjson`). The rules are the client's: an
``@trade`` print is a market trade only when its ``X`` is ``MARKET`` with a positive size.
"""

from __future__ import annotations

import math
import sys
from typing import Annotated, Literal

import msgspec

from pairs_tui.records import MarkPrice, Trade

MAX_PUSH_DELAY_MS = 3_600_000
"""The most a payload's push time ``E`` may differ from its trade time ``T``. Binance pushes
within about 160 ms; an hour apart means a field in the wrong unit (µs for ms) or corruption."""

_Amount = Annotated[float, msgspec.Meta(ge=0.0, le=sys.float_info.max)]
"""A price or quantity: finite and not negative, checked inside msgspec's decoder (NaN fails)."""
_Epoch = Annotated[int, msgspec.Meta(ge=0)]
"""A time since 1970."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""What a column of int64 holds."""
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
"""An integer a column of int64 holds: a recording's time or id beyond it is a bad line, not a
crash when the columns are built."""


class MalformedFrame(ValueError):
    """A frame that is not valid JSON, not a known payload, or lacks a required key."""


class AggTradePayload(msgspec.Struct, tag_field="e", tag="aggTrade", frozen=True, gc=False):
    """The ``<symbol>@aggTrade`` payload (keys ``e,E,a,s,p,q,nq,f,l,T,m,st``)."""

    event_time: int = msgspec.field(name="E")
    """Push time ``E``, ms, on the exchange clock."""
    id: int = msgspec.field(name="a")
    """Aggregate trade id ``a``: contiguous per symbol, so a jump is a gap."""
    symbol: str = msgspec.field(name="s")
    """Upper-case symbol."""
    price: _Amount = msgspec.field(name="p")
    """Price."""
    qty: _Amount = msgspec.field(name="q")
    """Quantity, RPI fills included."""
    first_trade_id: int = msgspec.field(name="f")
    """First underlying trade id."""
    last_trade_id: int = msgspec.field(name="l")
    """Last underlying trade id."""
    time: _Epoch = msgspec.field(name="T")
    """Trade time ``T``, ms: the time the analysis uses."""
    buyer_maker: bool = msgspec.field(name="m")
    """True when the buyer was the maker (the taker sold)."""
    normal_qty: float | None = msgspec.field(name="nq", default=None)
    """Quantity without RPI fills (since 2025-12-31); None in older frames."""
    symbol_type: int | None = msgspec.field(name="st", default=None)
    """1 = UM, 2 = CM (since the 2026 CM migration); None in older frames."""

    def to_trade(self) -> Trade | None:
        """The trade this payload carries.

        Returns:
            The :class:`~pairs_tui.records.Trade`, or None when the quantity is not positive.
        """
        if self.qty <= 0.0:
            return None
        return Trade(
            self.symbol.upper(), self.time, self.price, self.qty, self.buyer_maker, self.id
        )


class TradePayload(msgspec.Struct, tag_field="e", tag="trade", frozen=True, gc=False):
    """The undocumented ``<symbol>@trade`` payload (keys ``e,E,T,s,t,p,q,X,m``)."""

    event_time: int = msgspec.field(name="E")
    """Push time ``E``, ms, on the exchange clock."""
    time: _Epoch = msgspec.field(name="T")
    """Trade time ``T``, ms."""
    symbol: str = msgspec.field(name="s")
    """Upper-case symbol."""
    id: int = msgspec.field(name="t")
    """Trade id ``t``, contiguous per symbol over all trade types."""
    price: _Amount = msgspec.field(name="p")
    """Price."""
    qty: _Amount = msgspec.field(name="q")
    """Quantity."""
    buyer_maker: bool = msgspec.field(name="m")
    """True when the buyer was the maker."""
    kind: str = msgspec.field(name="X", default="")
    """Trade type: ``MARKET``, ``INSURANCE_FUND``, ``ADL``, ``NA``."""

    def to_trade(self) -> Trade | None:
        """The trade this payload carries, if it is a market trade.

        Returns:
            The trade, or None for anything but ``X == "MARKET"`` with a positive quantity
            (insurance-fund and ADL prints sit off the book and would distort bars; ``NA``
            frames carry zero price and size; an unknown ``X`` is treated as non-market).
        """
        if self.kind != "MARKET" or self.qty <= 0.0:
            return None
        return Trade(
            self.symbol.upper(), self.time, self.price, self.qty, self.buyer_maker, self.id
        )


def check_payload(price: float, qty: float, time_ms: int, event_time_ms: int | None) -> None:
    """Refuse numbers no exchange prints (in a ``__post_init__``, msgspec turns the ValueError
    into a decode error).

    A zero price with a zero quantity stays valid: ``@trade`` sends ``X: "NA"`` frames so, and
    :meth:`TradePayload.to_trade` drops them.

    Args:
        price: The price.
        qty: The quantity.
        time_ms: Trade time ``T``.
        event_time_ms: Push time ``E``, None where there is none (a REST row).

    Raises:
        ValueError: A price or quantity that is NaN, infinite or negative, a positive quantity
            at a zero price, a trade time before 1970 or ``T`` more than an hour from ``E``.
    """
    if not (0.0 <= price < math.inf and 0.0 <= qty < math.inf):
        raise ValueError(f"price {price} and quantity {qty} must be finite and not negative")
    if qty > 0.0 and price == 0.0:
        raise ValueError("a positive quantity at a zero price")
    if time_ms < 0 or (
        event_time_ms is not None and abs(event_time_ms - time_ms) > MAX_PUSH_DELAY_MS
    ):
        raise ValueError(f"trade time {time_ms} is not milliseconds near push time {event_time_ms}")


Payload = AggTradePayload | TradePayload
"""A trade-carrying payload of either stream."""

_FUNDING_AHEAD_MS = 86_400_000
"""The furthest ahead a next funding time may be (Binance funds every 1, 4 or 8 hours)."""
_Rate = Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)]
"""A funding rate: finite, and a fraction (Binance caps them at a few percent)."""


class MarkPricePayload(msgspec.Struct, tag_field="e", tag="markPriceUpdate", frozen=True, gc=False):
    """The ``<symbol>@markPrice@1s`` payload (keys ``e,E,s,p,ap,P,i,r,T``), checked inside the
    decoder: amounts finite and not negative, the rate a finite fraction, times since 1970."""

    event_time: _Epoch = msgspec.field(name="E")
    """Push time ``E``, ms: the update's time."""
    symbol: str = msgspec.field(name="s")
    """Upper-case symbol."""
    mark: _Amount = msgspec.field(name="p")
    """Mark price ``p``."""
    index: _Amount = msgspec.field(name="i")
    """Index price ``i``."""
    funding_rate: _Rate = msgspec.field(name="r")
    """Funding rate ``r`` of the coming funding, a fraction."""
    next_funding_time: _Epoch = msgspec.field(name="T")
    """Time ``T`` of the next funding, ms (0 without funding)."""
    settle_estimate: _Amount | None = msgspec.field(name="P", default=None)
    """Estimated settle price ``P`` (meaningful in a quarterly's last hour)."""

    def check(self) -> None:
        """Refuse a next funding time no exchange sends (the check over two fields, made after
        decoding): more than a day after the update, or more than an hour before it.

        Raises:
            MalformedFrame: ``T`` is not 0 (no funding) and not near ``E``.
        """
        ahead = self.next_funding_time - self.event_time
        if self.next_funding_time and not -MAX_PUSH_DELAY_MS <= ahead <= _FUNDING_AHEAD_MS:
            raise MalformedFrame(
                f"next funding time {self.next_funding_time} is not milliseconds near push time "
                f"{self.event_time}"
            )

    def to_mark(self) -> MarkPrice:
        """The update as a :class:`~pairs_tui.records.MarkPrice`."""
        return MarkPrice(
            self.symbol.upper(),
            self.event_time,
            self.mark,
            self.index,
            self.funding_rate,
            self.next_funding_time,
        )


class ControlError(msgspec.Struct, frozen=True, gc=False):
    """The ``error`` object of a control reply."""

    code: int = 0
    """Binance's error code (2 invalid request, 3 invalid JSON, 4 too many subscriptions)."""
    msg: str = ""
    """Binance's message."""


class Frame(msgspec.Struct, frozen=True, gc=False):
    """One combined-stream frame: a payload under ``data``, or a control reply.

    A valid frame has ``data``, or is a reply (``id`` or ``error`` set); the decoder checks it.
    """

    stream: str = ""
    """The stream name, e.g. ``btcusdt@aggTrade``; empty on control replies."""
    data: Payload | MarkPricePayload | None = None
    """The payload, or None on a control reply."""
    id: int | None = None
    """The request id a control reply answers."""
    result: bool | list[str] | None = None
    """The reply's result: null, the names of LIST_SUBSCRIPTIONS, or a GET_PROPERTY value."""
    error: ControlError | None = None
    """The error of a rejected control request."""


FRAME_DECODER = msgspec.json.Decoder(Frame, strict=False)
"""The decoder behind :func:`decode_frame`, for the client's read loop, which cannot spare a
Python call per frame. It raises msgspec's errors rather than :class:`MalformedFrame`, lets
through a frame that is neither a payload nor a reply, and leaves to its caller the two checks
that span two fields (see :func:`decode_frame`); a frame it returns with ``data`` that passes
them is exactly what decode_frame returns, so anything else can go to decode_frame to sort out."""
_payload_decoder: msgspec.json.Decoder[Payload] = msgspec.json.Decoder(Payload, strict=False)


def decode_frame(raw: bytes | str) -> Frame:
    """Decode one combined-stream frame (``/market/stream`` or ``/public/stream``).

    Args:
        raw: The WebSocket message, text or bytes.

    Returns:
        The frame: ``frame.data`` holds the payload, or is None for a control reply.

    Raises:
        MalformedFrame: The message is not JSON, its payload is not ``aggTrade``, ``trade`` or
            ``markPriceUpdate``, a required key is missing or has the wrong type, its numbers
            are not ones an exchange prints (:func:`check_payload`), or it is neither a payload
            nor a control reply.
    """
    try:
        frame = FRAME_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedFrame(str(exc)) from None
    if frame.data is not None:
        if isinstance(frame.data, MarkPricePayload):
            frame.data.check()
        else:
            _check(frame.data)
    elif frame.id is None and frame.error is None:
        raise MalformedFrame("neither a payload under 'data' nor a control reply")
    return frame


def decode_payload(raw: bytes | str) -> Payload:
    """Decode one bare payload, as the raw routes (``/market/ws/<stream>``) send it.

    Args:
        raw: The WebSocket message, text or bytes.

    Returns:
        The payload.

    Raises:
        MalformedFrame: The message is not a valid ``aggTrade`` or ``trade`` payload.
    """
    try:
        payload = _payload_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedFrame(str(exc)) from None
    _check(payload)
    return payload


def _check(payload: Payload) -> None:
    try:
        check_payload(payload.price, payload.qty, payload.time, payload.event_time)
    except ValueError as exc:
        raise MalformedFrame(str(exc)) from None


# -- recordings --------------------------------------------------------------------------------

TRADE_EVENTS = ("trade", "aggTrade")
"""The ``e`` of the payloads that carry trades."""


class RecordedTrade(msgspec.Struct, frozen=True, gc=False):
    """The keys every recorded trade payload has, of either kind."""

    time: Int64 = msgspec.field(name="T")
    """Trade time ``T``, ms."""
    symbol: str = msgspec.field(name="s")
    """Symbol, as recorded (upper case on Binance)."""
    price: float = msgspec.field(name="p")
    """Price."""
    qty: float = msgspec.field(name="q")
    """Quantity."""
    buyer_maker: bool = msgspec.field(name="m")
    """True when the buyer was the maker."""

    def _trade(self, trade_id: int) -> Trade | None:
        if self.qty <= 0.0:
            return None
        return Trade(
            self.symbol.upper(), self.time, self.price, self.qty, self.buyer_maker, trade_id
        )


class RecordedMarketTrade(RecordedTrade, tag_field="e", tag="trade", frozen=True, gc=False):
    """A recorded ``@trade`` market print: the replay's fast path, checked entirely inside
    msgspec. A payload of another kind, another ``X`` or a missing key fails to decode and is
    sorted out by :class:`RecordedPayload` instead."""

    id: Int64 = msgspec.field(name="t")
    """Trade id ``t``."""
    kind: Literal["MARKET"] = msgspec.field(name="X")
    """Trade type: only ``MARKET`` decodes."""

    def to_trade(self) -> Trade | None:
        """The trade, or None when the quantity is not positive."""
        return self._trade(self.id)


class RecordedAggTrade(RecordedTrade, tag_field="e", tag="aggTrade", frozen=True, gc=False):
    """A recorded ``@aggTrade`` payload: the replay's fast path for aggregate trades."""

    id: Int64 = msgspec.field(name="a")
    """Aggregate trade id ``a``."""

    def to_trade(self) -> Trade | None:
        """The trade, or None when the quantity is not positive."""
        return self._trade(self.id)


class RecordedMarketTradeFrame(msgspec.Struct, frozen=True, gc=False):
    """A combined-stream frame around a :class:`RecordedMarketTrade`."""

    data: RecordedMarketTrade
    """The payload."""


class RecordedAggTradeFrame(msgspec.Struct, frozen=True, gc=False):
    """A combined-stream frame around a :class:`RecordedAggTrade`."""

    data: RecordedAggTrade
    """The payload."""


class RecordedPayload(RecordedTrade, frozen=True, gc=False):
    """Any recorded trade payload, either kind: the replay's slow path for the lines the fast
    path refused (the other kind of trade, a print that is not a market trade)."""

    event: str = msgspec.field(name="e")
    """Payload kind: ``trade``, ``aggTrade`` or another stream's."""
    trade_id: Int64 = msgspec.field(name="t", default=-1)
    """Trade id ``t`` of an ``@trade`` print; -1 on ``@aggTrade``."""
    agg_id: Int64 = msgspec.field(name="a", default=-1)
    """Aggregate trade id ``a`` of an ``@aggTrade``; -1 on ``@trade``."""
    kind: str = msgspec.field(name="X", default="")
    """Trade type on ``@trade``; absent on ``@aggTrade``, which holds market trades only."""

    @property
    def id(self) -> int:
        """The id in the payload's own id space: ``t`` for ``@trade``, ``a`` for ``@aggTrade``."""
        return self.trade_id if self.event == "trade" else self.agg_id

    @property
    def market(self) -> bool:
        """Whether it is a market trade: every ``@aggTrade``, an ``@trade`` with ``X: MARKET``."""
        return self.event != "trade" or self.kind == "MARKET"

    def to_trade(self) -> Trade | None:
        """The trade, or None for another stream's payload, a print that is not a market trade,
        or a quantity that is not positive."""
        if self.event not in TRADE_EVENTS or not self.market:
            return None
        return self._trade(self.id)


class RecordedFrame(msgspec.Struct, frozen=True, gc=False):
    """A combined-stream frame around a :class:`RecordedPayload`."""

    data: RecordedPayload
    """The payload."""
