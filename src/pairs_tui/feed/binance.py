"""The Binance USD-M WebSocket client: one combined connection for both legs, kept alive.

It connects to ``/market/stream?streams=a@aggTrade/b@aggTrade`` (or ``/public/stream`` for the
undocumented ``@trade``), never to the routes Binance retired on 2026-04-23 (``/stream``, ``/ws``),
which still accept and acknowledge but send nothing. Silence is the failure mode to design for:

- a watchdog per stream reconnects when one subscribed symbol sends nothing for ``watchdog_s``
  while the socket is up (an acknowledgement proves nothing), and says which stream and why
  it is likely silent;
- reconnects back off exponentially with full jitter, and the backoff resets only after a
  connection has delivered data for ``stable_after_s``: a server that accepts and drops at
  once, or sends a frame and then drops or closes with 1008, cannot cause a fast loop;
- the streams are in the URL, so a reconnection resubscribes without a single control message;
  the only messages the client sends are its keepalive pings, one every 20 s, far below the
  10 a second that makes Binance close with 1008 and ban repeat offenders;
- the connection is rotated before Binance's 24-hour cut-off;
- a jump in aggregate-trade ids is a gap, and a lost connection one from the last id seen:
  the sink holds its bars while :mod:`pairs_tui.feed.backfill` fetches the missing trades from
  ``GET /fapi/v1/aggTrades?fromId=`` (after a reconnection at once, without waiting for a live
  trade), counts what cannot be recovered, and releases it;
- the exchange clock's offset is measured with ``GET /fapi/v1/time`` at the start and on every
  reconnection (:mod:`pairs_tui.feed.clock`).

Time is the trade time ``T``; the local clock only measures latency and silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from pairs_tui.feed.backfill import Backfill, Leg
from pairs_tui.feed.backoff import Backoff
from pairs_tui.feed.clock import ExchangeClock
from pairs_tui.feed.rest import (
    BinanceRest,
    RestError,
    UnknownSymbolError,
)
from pairs_tui.feed.routes import DEFAULT_WS_URL, ROUTES, StreamKind, rest_url_for, stream_url
from pairs_tui.feed.schemas.ws import (
    FRAME_DECODER,
    MAX_PUSH_DELAY_MS,
    Frame,
    MalformedFrame,
    decode_frame,
)
from pairs_tui.feed.source import TradeSink
from pairs_tui.feed.status import FeedState, FeedStatus

log = logging.getLogger("pairs_tui.feed")

_MALFORMED_WARNINGS = 5
"""Malformed frames logged at WARNING before the rest go to DEBUG."""


class BinanceFeed:
    """Live trades of two symbols from Binance USD-M Futures (or anything that speaks it).

    Args:
        symbols: The target and hedge legs, any case.
        url: WebSocket base, without a route (a ``/market``, ``/stream`` or ``/ws`` suffix is
            dropped: the feed picks the route).
        rest_url: REST base; default Binance's, or the same host over ``http://`` for a
            loopback ``ws://`` url.
        stream: ``aggTrade`` (documented, on ``/market``) or ``trade`` (on ``/public``).
        watchdog_s: Reconnect when one subscribed symbol sends nothing for this long.
        rotate_after_s: Reconnect proactively after this connection age (Binance cuts at 24 h).
        backoff_initial_s: Upper bound of the first reconnect delay.
        backoff_max_s: Cap on reconnect delays.
        stable_after_s: How long a connection must deliver data before the backoff resets.
        rng: Randomness for the jitter; a fresh ``random.Random()`` by default.

    Raises:
        ValueError: An unknown stream kind or not two symbols.
    """

    def __init__(
        self,
        symbols: tuple[str, str],
        *,
        url: str = DEFAULT_WS_URL,
        rest_url: str | None = None,
        stream: StreamKind = "aggTrade",
        watchdog_s: float = 20.0,
        rotate_after_s: float = 23.5 * 3600,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        stable_after_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        if stream not in ROUTES:
            raise ValueError(f"stream must be 'aggTrade' or 'trade', not {stream!r}")
        if len(symbols) != 2:
            raise ValueError(f"a pair needs two symbols, not {len(symbols)}")
        self.symbols: tuple[str, str] = (symbols[0].upper(), symbols[1].upper())
        """The two legs, upper case."""
        self.stream: StreamKind = stream
        """The trade stream subscribed to."""
        # Stream names must be lower case: Binance acknowledges BTCUSDT@aggTrade and sends nothing.
        names = [f"{s.lower()}@{stream}" for s in self.symbols]
        self.url = stream_url(url, stream, names)
        """The full WebSocket URL connected to."""
        self.rest = BinanceRest(rest_url_for(url, rest_url))
        """The REST client used for exchange info, server time and backfill."""
        self.clock = ExchangeClock()
        """The exchange clock estimate."""
        self.watchdog_s = watchdog_s
        """Silence of one stream, seconds, after which the connection is replaced."""
        self.stale_after_s = watchdog_s / 4.0
        """Silence of one stream, seconds, after which the state shows ``stale``."""
        self.rotate_after_s = rotate_after_s
        """Connection age, seconds, at which it is replaced."""
        self.stable_after_s = stable_after_s
        """Seconds of data on one connection after which the reconnect backoff starts over."""
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, rng or random.Random())
        self._legs = {s: Leg(s, n) for s, n in zip(self.symbols, names, strict=True)}
        self._backfill = Backfill(self.rest, self._set_detail)
        self._sink: TradeSink | None = None
        self._state: FeedState = "connecting"
        self._connected_once = False
        self._next_try_at: float | None = None
        self._reconnects = 0
        self._malformed = 0
        self._messages = 0
        self._detail = ""
        self._last_time = 0
        self._last_recv = 0.0
        self._live_since: float | None = None
        """Monotonic time of the current connection's first data; None before it."""

    # -- TradeSource ----------------------------------------------------------------------------

    @property
    def status(self) -> FeedStatus:
        """The feed's state and counters now (a fresh immutable value)."""
        state = self._state
        detail = self._detail
        if state == "live":
            now = time.monotonic()
            silent = [
                leg for leg in self._legs.values() if now - leg.last_seen > self.stale_after_s
            ]
            if silent:
                state = "stale"
                names = ", ".join(leg.symbol for leg in silent)
                detail = f"no {names} trades for {now - silent[0].last_seen:.0f} s"
        latency = None
        if self._last_time:
            at = self.clock.at(self._last_recv)
            latency = None if at is None else at - self._last_time
        return FeedStatus(
            state=state,
            reconnects=self._reconnects,
            gaps=self._backfill.lost,
            malformed=self._malformed,
            attempt=0 if state in ("live", "stale") else self._backoff.attempt,
            next_try_at=self._next_try_at if state in ("connecting", "reconnecting") else None,
            latency_ms=latency,
            messages=self._messages,
            detail=detail,
        )

    @property
    def backfilled(self) -> int:
        """Trades recovered over REST since the start."""
        return self._backfill.recovered

    def exchange_now_ms(self) -> float | None:
        """The exchange clock estimate, ms (None before any measurement or frame)."""
        return self.clock.now_ms()

    async def run(self, sink: TradeSink) -> None:
        """Deliver trades to ``sink`` until cancelled.

        Args:
            sink: Receives trades in arrival order, and hold/release around backfills.

        Raises:
            UnknownSymbolError: The exchange does not list a symbol (checked when reachable).
        """
        self._sink = sink
        self._backfill.sink = sink
        await self._check_exchange()
        try:
            while True:
                flowed_s, rotate, reason = await self._session(sink)
                if rotate:
                    delay = 0.0
                else:
                    # Data alone does not reset: a server that sends one frame and drops (or
                    # closes with 1008) would otherwise be reconnected to several times a second.
                    if flowed_s >= self.stable_after_s:
                        self._backoff.reset()
                    delay = self._backoff.next_delay()
                self._state = "reconnecting"
                self._next_try_at = time.monotonic() + delay
                self._detail = (
                    reason
                    if rotate
                    else f"{reason}; reconnecting in {delay:.1f} s "
                    f"(attempt {self._backoff.attempt})"
                )
                log.warning("%s", self._detail)
                self._connection_lost()
                await asyncio.sleep(delay)
        finally:
            self._state = "stopped"
            self._next_try_at = None
            for leg in self._legs.values():
                self._backfill.cancel(leg)

    # -- connection -----------------------------------------------------------------------------

    async def _check_exchange(self) -> None:
        try:
            await self.rest.check_symbols(self.symbols)
        except UnknownSymbolError:
            raise
        except RestError as exc:
            log.warning("exchange info unavailable (%s): symbols not checked", exc)
            return
        await self._measure_offset()

    async def _measure_offset(self) -> None:
        try:
            sent = time.time()
            server_ms = await self.rest.server_time_ms()
            received = time.time()
        except RestError as exc:
            log.info("server time unavailable (%s)", exc)
            return
        offset = self.clock.set_offset(sent, server_ms, received)
        log.info(
            "exchange clock offset %+.0f ms (round trip %.0f ms)", offset, (received - sent) * 1e3
        )

    async def _session(self, sink: TradeSink) -> tuple[float, bool, str]:
        """One connection, from handshake to loss.

        Returns:
            ``(seconds from its first data to its end, 0 if none; rotation; reason)``.
        """
        log.info("connecting to %s", self.url)
        try:
            ws = await connect(
                self.url,
                proxy=None,
                compression=None,
                max_size=2**20,
                max_queue=256,
                ping_interval=20,
                ping_timeout=20,
                open_timeout=10,
                close_timeout=1,
            )
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
            return 0.0, False, f"could not connect: {str(exc) or type(exc).__name__}"
        opened = time.monotonic()
        # The offset was measured at start; re-measure on each reconnect (clocks drift).
        offset_task = asyncio.create_task(
            self._measure_offset() if self._connected_once else asyncio.sleep(0)
        )
        if self._connected_once:
            self._reconnects += 1
        self._connected_once = True
        for leg in self._legs.values():
            leg.last_seen = opened
            # Subscribed (the streams are in the URL): what was missed can be fetched now
            # without waiting for a live trade to reveal it.
            self._backfill.connected(leg)
        self._live_since = None
        reader = asyncio.create_task(self._read(ws, sink), name="binance-reader")
        rotate = False
        reason = ""
        try:
            while True:
                now = time.monotonic()
                if now - opened >= self.rotate_after_s:
                    rotate = True
                    reason = "rotating the connection before Binance's 24-hour limit"
                    break
                silent = [
                    leg for leg in self._legs.values() if now - leg.last_seen >= self.watchdog_s
                ]
                if silent:
                    reason = self._silence_sentence(silent, opened, now)
                    for leg in silent:
                        leg.silent_sessions += 1
                    break
                wake = min(
                    opened + self.rotate_after_s,
                    min(leg.last_seen for leg in self._legs.values()) + self.watchdog_s,
                )
                done, _ = await asyncio.wait({reader}, timeout=max(0.01, wake - now))
                if done:
                    failure = reader.exception()
                    if failure is not None and not isinstance(failure, ConnectionClosed):
                        raise failure  # a bug in the sink, not a network event
                    reason = _close_sentence(ws.close_code, ws.close_reason)
                    break
        finally:
            # Hold the bars before anything that awaits (the closing handshake may take a
            # second): until then the exchange clock may finalise bars this outage will miss.
            self._connection_lost()
            ended = time.monotonic()
            flowed_s = 0.0 if self._live_since is None else ended - self._live_since
            for leg in self._legs.values():
                if leg.last_seen > opened:
                    leg.silent_sessions = 0
            offset_task.cancel()
            if not reader.done():
                # Close while the reader still drains: websockets stops reading from the socket
                # when unread frames pile up, and would then never see the server's close frame.
                with contextlib.suppress(Exception):
                    await ws.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await reader
        return flowed_s, rotate, reason

    async def _read(self, ws: ClientConnection, sink: TradeSink) -> None:
        """The hot path: receive, decode, check the id, deliver.

        Every line here runs for every frame, so what the loop reads stays in locals and it
        calls as little Python as it can; frames that are not a payload take a slower path.
        """
        decode = FRAME_DECODER.decode
        decode_errors = (msgspec.DecodeError, msgspec.ValidationError)
        min_delay, max_delay = -MAX_PUSH_DELAY_MS, MAX_PUSH_DELAY_MS
        on_trade = sink.on_trade
        observe = self.clock.observe
        legs = self._legs
        mono = time.monotonic
        fetch = self.stream == "aggTrade"
        backfill = self._backfill
        live = False
        latest_push = -1
        async for message in ws:
            now = mono()
            try:
                data = decode(message).data
            except decode_errors:
                data = None
            # The checks over two fields that decode_frame adds to the decoder's (a positive
            # quantity at a zero price, T far from E), inline: a function call per frame costs.
            if (
                data is None
                or (data.price == 0.0 and data.qty > 0.0)
                or not (min_delay <= data.event_time - data.time <= max_delay)
            ):
                self._not_a_payload(message)
                continue
            self._messages += 1
            leg = legs.get(data.symbol)
            if leg is None:
                continue  # a symbol not asked for: not ours to deliver
            leg.last_seen = now
            # The clock keeps the largest E - receive time: a frame pushed no later than one
            # already seen, and received after it, cannot raise it.
            if data.event_time > latest_push:
                latest_push = data.event_time
                observe(latest_push, now)
            if not live:
                live = True
                self._on_live()
            trade_id = data.id
            last = leg.last_id
            if last is not None and trade_id != last + 1:
                if trade_id <= last:
                    continue  # already delivered (live or backfill): never twice
                backfill.gap(leg, last, trade_id, fetch)
            elif leg.resuming:
                backfill.resumed(leg)
            leg.last_id = trade_id
            trade = data.to_trade()
            if trade is not None:
                leg.last_time = self._last_time = trade.time
                self._last_recv = now
                on_trade(trade)

    def _not_a_payload(self, message: str | bytes) -> None:
        """A control reply or a malformed frame: :func:`decode_frame` says which, and why."""
        # It cannot return a payload here: the read loop passes on only what decode_frame
        # would refuse, or a frame without data.
        try:
            frame = decode_frame(message)
        except MalformedFrame as exc:
            self._on_malformed(message, exc)
            return
        self._on_control(frame)

    def _on_live(self) -> None:
        self._live_since = time.monotonic()
        self._state = "live"
        self._next_try_at = None
        self._detail = f"live on {self.url}"
        log.info("live: %s", ", ".join(leg.stream for leg in self._legs.values()))

    def _connection_lost(self) -> None:
        """Bars wait for each leg to resume or be caught up (ids of @trade cannot be fetched)."""
        if self.stream == "aggTrade":
            for leg in self._legs.values():
                self._backfill.connection_lost(leg)

    def _set_detail(self, detail: str) -> None:
        self._detail = detail

    def _on_control(self, frame: Frame) -> None:
        if frame.error is not None:
            log.warning("control request %s refused: %s", frame.id, frame.error.msg)

    def _on_malformed(self, message: str | bytes, exc: MalformedFrame) -> None:
        self._malformed += 1
        level = logging.WARNING if self._malformed <= _MALFORMED_WARNINGS else logging.DEBUG
        log.log(level, "malformed frame skipped (%s): %.120r", exc, message)

    def _silence_sentence(self, silent: list[Leg], opened: float, now: float) -> str:
        """What the watchdog found, naming the silent stream and its likely cause."""
        # A leg that is merely less busy trips first when the whole connection stops: the
        # others count as silent too once they have been quiet long enough to show as stale.
        if all(now - leg.last_seen >= self.stale_after_s for leg in self._legs.values()):
            silent = list(self._legs.values())
        names = " and ".join(leg.stream for leg in silent)
        lasting = f"sent nothing for {self.watchdog_s:g} s"
        if len(silent) == len(self._legs):
            return (
                f"{names} {lasting} while connected: the whole connection is silent, likely "
                "a stalled connection (a network problem, a proxy, or an exchange-side hang)"
            )
        leg = silent[0]
        flowing = " and ".join(other.stream for other in self._legs.values() if other not in silent)
        again = (
            f", silent on {leg.silent_sessions + 1} connections in a row"
            if leg.silent_sessions
            else ""
        )
        if leg.last_id is None:
            return (
                f"{names} {lasting} while {flowing} flowed{again}: likely a subscription the "
                "exchange acknowledged but never serves (a retired route such as /stream or /ws "
                "behind --url, an upper-case stream name, or a symbol this route does not carry)"
            )
        when = "on this connection" if leg.last_seen > opened else "since the last connection"
        return (
            f"{names} {lasting} while {flowing} flowed (it last traded {when}){again}: likely "
            "a stalled server stream, which Binance has been seen to do to one stream while "
            "others flow"
        )


def _close_sentence(code: int | None, reason: str | None) -> str:
    """Why a connection ended, in words, from its close code."""
    if not code or code == 1006:  # 1006: websockets' code for "no close frame received"
        return "connection lost (no close frame: the network or the exchange cut it)"
    why = f"{code} {reason or ''}".strip()
    if code == 1008:
        return (
            f"closed by the exchange for too many messages ({why}); Binance allows 10 a "
            "second and bans addresses it closes repeatedly, so the retry backs off"
        )
    if code == 1000:
        return f"closed by the exchange ({why}), as Binance does at a connection's 24-hour limit"
    return f"connection lost ({why})"
