"""One WebSocket connection of the feed: its streams, kept alive, read fast.

The streams are in the URL (up to :data:`URL_STREAMS` of them; the rest are subscribed right
after the handshake), so a reconnection resubscribes without waiting for replies. Streams added or
removed while the connection runs are sent as ``SUBSCRIBE`` / ``UNSUBSCRIBE`` messages of up to
:data:`NAMES_PER_MESSAGE` names, at most one every :data:`CONTROL_SPACING_S` seconds, far below
the 10 messages a second that make Binance close with 1008; the URL of the next reconnection
follows. Silence is watched per stream (:mod:`pairs_tui.feed.watch`); reconnections back off
(:mod:`pairs_tui.feed.backoff`); a lost connection holds the bars of its legs until each is caught
up (:mod:`pairs_tui.feed.backfill`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake

from pairs_tui.feed.backfill import Backfill
from pairs_tui.feed.backoff import Backoff
from pairs_tui.feed.causes import close_sentence, connect_cause
from pairs_tui.feed.clock import ExchangeClock
from pairs_tui.feed.leg import Leg
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.feed.routes import StreamKind, proxy_for, stream_url
from pairs_tui.feed.schemas.ws import (
    FRAME_DECODER,
    MAX_PUSH_DELAY_MS,
    AggTradePayload,
    MalformedFrame,
    MarkPricePayload,
    TradePayload,
    decode_frame,
)
from pairs_tui.feed.source import RoutingSink, TradeSink
from pairs_tui.feed.status import FeedState
from pairs_tui.feed.watch import Watch, silence_sentence
from pairs_tui.records import Trade

try:
    from pairs_tui.feed.replay import _lines
except ImportError:  # built without a C compiler: msgspec decodes every frame, a little slower
    _trade_frame: Callable[[bytes | str, bool], _lines.LiveTrade | None] | None = None
else:
    _trade_frame = _lines.trade_frame

log = logging.getLogger("pairs_tui.feed")

URL_STREAMS = 200
"""Streams put in the URL; more are subscribed after the handshake (a URL of 1,024 streams
would be longer than servers take)."""
NAMES_PER_MESSAGE = 200
"""Stream names per SUBSCRIBE or UNSUBSCRIBE message (Binance acknowledges 200 at once)."""
CONTROL_SPACING_S = 0.25
"""Seconds between two control messages: four a second at most, under Binance's ten."""
_MALFORMED_WARNINGS = 5
"""Malformed frames logged at WARNING before the rest go to DEBUG."""


class Feed(Protocol):
    """What a connection takes from the feed it belongs to (:class:`~pairs_tui.feed.binance.
    BinanceFeed`): its settings, clock, backfill and REST client."""

    @property
    def base_url(self) -> str:
        """The WebSocket base."""

    @property
    def stream(self) -> StreamKind:
        """The trade stream subscribed to."""

    @property
    def fetchable(self) -> bool:
        """Whether missed trades can be fetched."""

    @property
    def clock(self) -> ExchangeClock:
        """The exchange clock."""

    @property
    def backfill(self) -> Backfill:
        """Missed trades recovered over REST."""

    @property
    def rest(self) -> BinanceRest:
        """The REST client."""

    @property
    def watchdog_s(self) -> float:
        """Silence after which a connection is replaced."""

    @property
    def rotate_after_s(self) -> float:
        """Connection age at which it is replaced."""

    @property
    def stable_after_s(self) -> float:
        """Seconds of data after which the backoff starts over."""

    def report(self, detail: str) -> None:
        """Take the latest event's sentence for the status line."""

    async def measure_offset(self) -> None:
        """Measure the exchange clock's offset."""


class FeedConnection:
    """One combined-stream connection carrying the streams of some of the feed's legs.

    Args:
        feed: The feed it belongs to (its settings, clock, backfill and counters).
        backoff: This connection's reconnect backoff.
    """

    def __init__(self, feed: Feed, backoff: Backoff) -> None:
        self.feed = feed
        self.legs: dict[str, Leg] = {}
        """The legs whose streams are on this connection, by upper-case symbol."""
        self.streams: list[str] = []
        """The stream names, in the order they were added."""
        self.watch = Watch(feed.backfill, feed.rest.budget, feed.watchdog_s, feed.fetchable)
        """Its legs' silence watch."""
        self.backoff = backoff
        """Its reconnect backoff."""
        self.state: FeedState = "connecting"
        """``connecting``, ``live`` or ``reconnecting``."""
        self.detail = ""
        """Its last event in a sentence."""
        self.next_try_at: float | None = None
        """Monotonic time of the next attempt while reconnecting."""
        self.reconnects = 0
        """Reconnections since the start."""
        self.messages = 0
        """Trade messages received."""
        self.malformed = 0
        """Frames that could not be decoded."""
        self.last_time = 0
        """Trade time of the latest trade received, ms."""
        self.last_recv = 0.0
        """Monotonic time it was received."""
        self.task: asyncio.Task[None] | None = None
        """The task running :meth:`run`."""
        self._connected_once = False
        self._live_since: float | None = None
        self._ws: ClientConnection | None = None
        self._on_socket: set[str] = set()
        """Streams the open socket is subscribed to."""
        self._control: deque[tuple[str, list[str]]] = deque()
        self._control_wake = asyncio.Event()
        self._has_streams = asyncio.Event()
        self._request_id = 0

    @property
    def url(self) -> str:
        """The URL the next connection opens (its first :data:`URL_STREAMS` streams)."""
        feed = self.feed
        return stream_url(feed.base_url, feed.stream, self.streams[:URL_STREAMS])

    def add(self, legs: Iterable[Leg]) -> None:
        """Carry the streams of ``legs`` (subscribed at once when the socket is open)."""
        names: list[str] = []
        added = list(legs)
        for leg in added:
            self.legs[leg.symbol] = leg
            names.append(leg.stream)
            if leg.mark_stream is not None:
                names.append(leg.mark_stream)
            leg.subscribed_ms = self.feed.clock.now_ms()
        self.watch.start(added, time.monotonic())
        self.streams.extend(n for n in names if n not in self.streams)
        if self._ws is not None:
            self._send("SUBSCRIBE", [n for n in names if n not in self._on_socket])
            self._on_socket.update(names)
        if self.streams:
            self._has_streams.set()

    def remove(self, symbols: Iterable[str]) -> list[Leg]:
        """Stop carrying the streams of ``symbols``; their frames are dropped from now on.

        Returns:
            The legs removed.
        """
        removed = [self.legs.pop(s) for s in symbols if s in self.legs]
        names = {n for leg in removed for n in (leg.stream, leg.mark_stream) if n is not None}
        self.streams = [n for n in self.streams if n not in names]
        if self._ws is not None:
            self._send("UNSUBSCRIBE", [n for n in names if n in self._on_socket])
            self._on_socket -= names
        if not self.streams:
            self._has_streams.clear()
            if self._ws is not None:
                asyncio.get_running_loop().create_task(self._ws.close())
        return removed

    # -- the connection's life ------------------------------------------------------------------

    async def run(self, sink: TradeSink) -> None:
        """Connect, read, and reconnect with backoff, until cancelled."""
        feed = self.feed
        try:
            while True:
                await self._has_streams.wait()
                flowed_s, rotate, reason = await self._session(sink)
                if rotate or not self.streams:
                    delay = 0.0
                else:
                    # Data alone does not reset: a server that sends one frame and drops (or
                    # closes with 1008) would otherwise be reconnected to several times a second.
                    if flowed_s >= feed.stable_after_s:
                        self.backoff.reset()
                    delay = self.backoff.next_delay()
                self.state = "reconnecting"
                self.next_try_at = time.monotonic() + delay
                # The screen counts down to the next try from next_try_at: the reason alone,
                # so that it never shows a second, frozen countdown.
                self.detail = reason
                feed.report(self.detail)
                if rotate or not self.streams:
                    log.warning("%s", reason)
                else:
                    log.warning(
                        "%s; reconnecting in %.1f s (attempt %d)",
                        reason,
                        delay,
                        self.backoff.attempt,
                    )
                self._connection_lost()
                await asyncio.sleep(delay)
        finally:
            self.state = "connecting"
            self.next_try_at = None

    async def _session(self, sink: TradeSink) -> tuple[float, bool, str]:
        """One connection, from handshake to loss.

        Returns:
            ``(seconds from its first data to its end, 0 if none; rotation; reason)``.
        """
        feed = self.feed
        url = self.url
        log.info("connecting to %s", url)
        try:
            ws = await connect(
                url,
                proxy=proxy_for(url),  # the environment's, never for a loopback host
                compression=None,
                max_size=2**20,
                max_queue=256,
                ping_interval=20,
                ping_timeout=20,
                open_timeout=10,
                close_timeout=1,
            )
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
            log.info("could not connect to %s: %s", url, str(exc) or type(exc).__name__)
            return 0.0, False, connect_cause(exc)
        opened = time.monotonic()
        self._ws = ws
        self._on_socket = set(self.streams)
        self._control.clear()
        self._send("SUBSCRIBE", self.streams[URL_STREAMS:])
        # The offset was measured at start; re-measure on each reconnect (clocks drift).
        offset_task = asyncio.create_task(
            feed.measure_offset() if self._connected_once else asyncio.sleep(0)
        )
        if self._connected_once:
            self.reconnects += 1
        self._connected_once = True
        legs = list(self.legs.values())
        self.watch.start(legs, opened)
        exchange_now = feed.clock.now_ms()
        for leg in legs:
            leg.subscribed_ms = exchange_now
            # Subscribed (the streams are in the URL): what was missed can be fetched now
            # without waiting for a live trade to reveal it.
            feed.backfill.connected(leg)
        self._live_since = None
        reader = asyncio.create_task(self._read(ws, sink), name="binance-reader")
        sender = asyncio.create_task(self._send_controls(ws), name="binance-control")
        rotate = False
        reason = ""
        try:
            while True:
                now = time.monotonic()
                if now - opened >= feed.rotate_after_s:
                    rotate = True
                    reason = "rotating the connection before Binance's 24-hour limit"
                    break
                legs = list(self.legs.values())
                silent = self.watch.check(legs, now)
                if silent:
                    reason = silence_sentence(silent, legs, self.watch, opened, now)
                    for leg in silent:
                        leg.silent_sessions += 1
                    break
                wake = min(opened + feed.rotate_after_s, self.watch.next_check(legs, now))
                done, _ = await asyncio.wait({reader}, timeout=max(0.005, wake - now))
                if done:
                    failure = reader.exception()
                    if failure is not None and not isinstance(failure, ConnectionClosed):
                        raise failure  # a bug in the sink, not a network event
                    reason = close_sentence(ws.close_code, ws.close_reason)
                    if not self.streams:
                        reason = "closed: no streams left on this connection"
                    break
        finally:
            # Hold the bars before anything that awaits (the closing handshake may take a
            # second): until then the exchange clock may finalise bars this outage will miss.
            self._connection_lost()
            self._ws = None
            ended = time.monotonic()
            flowed_s = 0.0 if self._live_since is None else ended - self._live_since
            for leg in self.legs.values():
                if leg.last_seen > opened:
                    leg.silent_sessions = 0
            offset_task.cancel()
            sender.cancel()
            if not reader.done():
                # Close while the reader still drains: websockets stops reading from the socket
                # when unread frames pile up, and would then never see the server's close frame.
                with contextlib.suppress(Exception):
                    await ws.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await reader
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender
        return flowed_s, rotate, reason

    async def _read(self, ws: ClientConnection, sink: TradeSink) -> None:
        """The hot path: receive, decode, check the id, deliver.

        Every line here runs for every frame, so what the loop reads stays in locals and it
        calls as little Python as it can; frames that are not a trade (mark prices, control
        replies, garbage) take a slower path.
        """
        feed = self.feed
        decode = FRAME_DECODER.decode
        decode_errors = (msgspec.DecodeError, msgspec.ValidationError)
        min_delay, max_delay = -MAX_PUSH_DELAY_MS, MAX_PUSH_DELAY_MS
        on_trade = sink.on_trade
        # A desk's own routes, called straight: one Python call a trade fewer.
        routes = sink.trade_routes.get if isinstance(sink, RoutingSink) else None
        observe = feed.clock.observe
        legs = self.legs
        mono = time.monotonic
        fetch = feed.fetchable
        trade_kind = AggTradePayload if fetch else TradePayload
        backfill = feed.backfill
        new_trade = Trade
        live = False
        latest_push = -1
        fast = _trade_frame
        data: Any
        # Frames are taken as bytes: msgspec reads UTF-8 itself, so websockets' decoding each
        # text frame to a str first was work done twice. A frame that is not UTF-8 fails the
        # JSON decode like any other garbage (counted, skipped) instead of closing with 1007.
        recv = ws.recv
        while True:
            try:
                message = await recv(False)
            except ConnectionClosedOK:
                return  # the end of ``async for message in ws``
            now = mono()
            # The common frame, read in C: a trade of the stream's kind that passes every check
            # below, as (symbol, E, T, id, price, qty, maker). Anything else (None) is decoded
            # by msgspec and checked here, as before.
            fields = fast(message, fetch) if fast is not None else None
            if fields is not None:
                symbol, pushed, t, trade_id, price, qty, maker = fields
                market = True
            else:
                try:
                    data = decode(message).data
                except decode_errors:
                    data = None
                # The checks over two fields that decode_frame adds to the decoder's (a positive
                # quantity at a zero price, T far from E), inline: a function call per frame
                # costs. None (no payload, or garbage) is not of the trade's class either.
                if (
                    data.__class__ is not trade_kind
                    or ((price := data.price) == 0.0 and data.qty > 0.0)
                    or not (
                        min_delay <= (pushed := data.event_time) - (t := data.time) <= max_delay
                    )
                ):
                    self._not_a_trade(message, data, sink, now)
                    continue
                symbol, trade_id, qty, maker = data.symbol, data.id, data.qty, data.buyer_maker
                # TradePayload.to_trade's rule: only a market print is a trade.
                market = isinstance(data, AggTradePayload) or data.kind == "MARKET"
            self.messages += 1
            leg = legs.get(symbol)
            if leg is None:
                continue  # a symbol not asked for (or just removed): not ours to deliver
            leg.last_seen = now
            # The clock keeps the largest E - receive time: a frame pushed no later than one
            # already seen, and received after it, cannot raise it.
            if pushed > latest_push:
                latest_push = pushed
                observe(pushed, now)
            if not live:
                live = True
                self._on_live()
            last = leg.last_id
            if last is not None and trade_id != last + 1:
                if trade_id <= last:
                    continue  # already delivered (live or backfill): never twice
                backfill.gap(leg, last, trade_id, fetch)
            elif leg.resuming:
                backfill.resumed(leg, trade_id)
            leg.last_id = trade_id
            # The payload's to_trade inline (a call per trade costs); the symbol is the leg's,
            # upper case already (the legs are looked up by it).
            if qty <= 0.0 or not market:
                continue
            trade = new_trade(leg.symbol, t, price, qty, maker, trade_id)
            leg.last_time = self.last_time = t
            self.last_recv = now
            if routes is None:
                on_trade(trade)
            else:
                routes(leg.symbol, _nobody)(trade)

    def _not_a_trade(
        self,
        message: str | bytes,
        data: object,
        sink: TradeSink,
        now: float,
    ) -> None:
        """A mark price, a control reply or a malformed frame."""
        if isinstance(data, MarkPricePayload):
            try:
                data.check()
            except MalformedFrame as exc:
                self._malformed(message, exc)
                return
            leg = self.legs.get(data.symbol)
            if leg is not None and leg.mark_stream is not None:
                leg.mark_seen = now
                leg.mark_silent = False
                sink.on_mark(data.to_mark())
            return
        # decode_frame cannot return a trade here: the read loop passes on only what it would
        # refuse, or a frame without data.
        try:
            frame = decode_frame(message)
        except MalformedFrame as exc:
            self._malformed(message, exc)
            return
        if frame.error is not None:
            log.warning("control request %s refused: %s", frame.id, frame.error.msg)

    def _malformed(self, message: str | bytes, exc: MalformedFrame) -> None:
        self.malformed += 1
        level = logging.WARNING if self.malformed <= _MALFORMED_WARNINGS else logging.DEBUG
        if isinstance(message, bytes):
            message = message.decode(errors="replace")  # logged as the text it was sent as
        log.log(level, "malformed frame skipped (%s): %.120r", exc, message)

    def _on_live(self) -> None:
        self._live_since = time.monotonic()
        self.state = "live"
        self.next_try_at = None
        self.detail = f"live on {self.url}"
        self.feed.report(self.detail)
        log.info("live: %d streams on %s", len(self.streams), self.url[:200])

    def _connection_lost(self) -> None:
        """Bars wait for each leg to resume or be caught up (ids of @trade cannot be fetched)."""
        if self.feed.fetchable:
            for leg in self.legs.values():
                self.feed.backfill.connection_lost(leg)

    # -- control messages -------------------------------------------------------------------------

    def _send(self, method: str, names: list[str]) -> None:
        for i in range(0, len(names), NAMES_PER_MESSAGE):
            self._control.append((method, names[i : i + NAMES_PER_MESSAGE]))
            self._control_wake.set()

    async def _send_controls(self, ws: ClientConnection) -> None:
        """Send queued SUBSCRIBE / UNSUBSCRIBE messages, spaced out."""
        while True:
            if not self._control:
                self._control_wake.clear()
                await self._control_wake.wait()
                continue
            method, names = self._control.popleft()
            self._request_id += 1
            message = {"method": method, "params": names, "id": self._request_id}
            log.info("%s %d streams (request %d)", method, len(names), self._request_id)
            await ws.send(msgspec.json.encode(message).decode())
            await asyncio.sleep(CONTROL_SPACING_S)


def _nobody(trade: Trade) -> None:
    """Where a trade of a symbol the sink routes to nobody goes."""
