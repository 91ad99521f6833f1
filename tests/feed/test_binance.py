"""The Binance client against the embedded exchange, over a real loopback socket."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.server import ServerConnection, serve

from pairs_tui.exchange.faults import Faults
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.feed.binance import BinanceFeed
from pairs_tui.feed.errors import UnknownSymbolError
from pairs_tui.records import Trade

from .conftest import FeedStarter, Recorder

BOTH = "/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"


def _tape_trades(tape: TradeTape, symbol: str) -> list[Trade]:
    return [
        Trade(t.symbol, t.time, t.price, round(t.qty, 3), t.buyer_maker, t.id)
        for t in tape.trades
        if t.symbol == symbol
    ]


def _handshakes(ex: EmbeddedExchange) -> list[str]:
    return [r for r in ex.requests if not r.startswith("/fapi/")]


def _assert_exactly_once(recorder: Recorder, ex: EmbeddedExchange) -> None:
    """Every published trade arrived once, none twice, none that was not published."""
    for symbol in ("BTCUSDT", "ETHUSDT"):
        got = sorted(t.id for t in recorder.of(symbol))
        assert got == [t.id for t in ex.history(symbol)], symbol
    assert recorder.held() == set()


def test_urls_use_the_2026_routes_and_lowercase_names() -> None:
    feed = BinanceFeed(("BTCUSDT", "EthUsdt"))
    assert feed.url == (
        "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"
    )
    assert feed.symbols == ("BTCUSDT", "ETHUSDT")
    assert feed.rest.base_url == "https://fapi.binance.com"
    trade = BinanceFeed(("btcusdt", "ethusdt"), stream="trade")
    assert trade.url.endswith("/public/stream?streams=btcusdt@trade/ethusdt@trade")
    # A retired route in the base is dropped, never used.
    legacy = BinanceFeed(("btcusdt", "ethusdt"), url="wss://fstream.binance.com/ws")
    assert legacy.url.startswith("wss://fstream.binance.com/market/stream?")


async def test_both_legs_arrive_with_the_tape_values(
    exchange: EmbeddedExchange, packaged_tape: TradeTape, run_feed: FeedStarter
) -> None:
    recorder = Recorder(expected=len(packaged_tape))
    feed = run_feed(exchange, recorder)
    await recorder.wait_until(recorder.reached.is_set)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert recorder.of(symbol) == _tape_trades(packaged_tape, symbol)
    status = feed.status
    assert (status.state, status.gaps, status.malformed, status.reconnects) == ("live", 0, 0, 0)
    assert status.messages == len(packaged_tape)
    assert status.latency_ms is not None and status.latency_ms >= 0
    now = feed.exchange_now_ms()
    assert now is not None and now >= packaged_tape.end_ms
    assert _handshakes(exchange) == [BOTH]  # never /stream or /ws
    assert exchange.requests[:2] == ["/fapi/v1/exchangeInfo", "/fapi/v1/time"]


async def test_trade_stream_goes_to_the_public_route(
    exchange: EmbeddedExchange, packaged_tape: TradeTape, run_feed: FeedStarter
) -> None:
    fills = sum(packaged_tape.fill_counts.values())
    recorder = Recorder(expected=fills)
    feed = run_feed(exchange, recorder, stream="trade")
    await recorder.wait_until(recorder.reached.is_set)
    assert _handshakes(exchange) == ["/public/stream?streams=btcusdt@trade/ethusdt@trade"]
    assert sum(t.qty for t in recorder.of("ETHUSDT")) == pytest.approx(
        sum(t.qty for t in packaged_tape.trades if t.symbol == "ETHUSDT")
    )
    assert feed.status.gaps == 0


async def test_dropped_connection_reconnects_and_backfills_what_it_missed(
    exchange: EmbeddedExchange, run_feed: FeedStarter, recorder: Recorder
) -> None:
    exchange.faults.drop_after_messages = 2000  # then a TCP reset, no close frame
    feed = run_feed(exchange, recorder)
    await recorder.wait_until(lambda: feed.status.reconnects >= 1)
    exchange.faults.drop_after_messages = None
    await exchange.wait_until(exchange.finished.is_set)
    total = exchange.published("BTCUSDT") + exchange.published("ETHUSDT")
    await recorder.wait_until(lambda: len(recorder.trades) >= total and not recorder.held())
    _assert_exactly_once(recorder, exchange)
    assert feed.backfilled > 0  # what was published while the socket was down
    assert feed.status.gaps == 0
    assert set(_handshakes(exchange)) == {BOTH}  # resubscribed on the same route
    holds = [e for e in recorder.events if e[0] == "hold"]
    assert {symbol for _, symbol, _ in holds} <= {"BTCUSDT", "ETHUSDT"} and holds


async def test_silent_stream_trips_the_watchdog_and_is_named(
    sim_tape: TradeTape,
    run_feed: FeedStarter,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pairs_tui.feed")
    async with EmbeddedExchange(sim_tape, speed=5, faults=Faults(stall_symbol="ETHUSDT")) as ex:
        feed = run_feed(ex, recorder, watchdog_s=0.4)
        # BTC keeps flowing, so the sink is called and the status can be watched from it.
        await recorder.wait_until(lambda: feed.status.state == "stale")
        assert "ETHUSDT" in feed.status.detail
        await recorder.wait_until(lambda: feed.status.reconnects >= 1)
    tripped = [r.getMessage() for r in caplog.records if "sent nothing" in r.getMessage()]
    assert tripped, caplog.text
    message = tripped[0]
    assert message.startswith("ethusdt@aggTrade sent nothing for 0.4 s while btcusdt@aggTrade")
    # ETHUSDT never traded on any connection: an acknowledged subscription that never serves.
    assert "route" in message and "upper-case" in message


async def test_garbage_frames_are_counted_and_skipped(
    exchange: EmbeddedExchange, packaged_tape: TradeTape, run_feed: FeedStarter
) -> None:
    exchange.faults.garbage_every = 25
    recorder = Recorder(expected=len(packaged_tape))
    feed = run_feed(exchange, recorder)
    await recorder.wait_until(recorder.reached.is_set)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert recorder.of(symbol) == _tape_trades(packaged_tape, symbol)
    status = feed.status
    assert status.malformed == len(packaged_tape) // 25
    assert (status.gaps, status.reconnects, status.messages) == (0, 0, len(packaged_tape))


async def test_a_text_frame_that_is_not_utf8_is_counted_malformed_and_skipped(
    recorder: Recorder,
) -> None:
    good = (
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161256100,"a":5,'
        '"s":"BTCUSDT","p":"61800.30","q":"0.006","f":9,"l":9,"T":1723161256000,"m":false}}'
    )

    async def handler(ws: ServerConnection) -> None:
        await ws.send(b'{"stream":"btcusdt@aggTrade","data":"\xff\xfe"}', text=True)
        await ws.send(good)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        feed = BinanceFeed(("btcusdt",), url=f"ws://127.0.0.1:{port}")
        task = asyncio.create_task(feed.run(recorder))
        try:
            await recorder.wait_until(lambda: len(recorder.trades) == 1)
            status = feed.status
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert recorder.trades[0].id == 5
    assert (status.malformed, status.reconnects, status.messages) == (1, 0, 1)


async def test_id_gap_is_backfilled_exactly_from_rest(
    exchange: EmbeddedExchange, packaged_tape: TradeTape, run_feed: FeedStarter
) -> None:
    exchange.faults.skip_every = 9  # on the socket only; REST keeps them
    skipped = [t for t in packaged_tape.trades if t.id % 9 == 0]
    recorder = Recorder(expected=len(packaged_tape))
    feed = run_feed(exchange, recorder)
    await recorder.wait_until(lambda: recorder.reached.is_set() and not recorder.held())
    _assert_exactly_once(recorder, exchange)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert sorted(recorder.of(symbol), key=lambda t: t.id) == _tape_trades(
            packaged_tape, symbol
        )
        recovered = [t.id for t in recorder.of(symbol) if t.id % 9 == 0]
        assert recovered == sorted(recovered)  # delivered in id order
    assert feed.backfilled == len(skipped)
    assert feed.status.gaps == 0
    assert feed.status.messages == len(packaged_tape) - len(skipped)
    # Every hold is released, and each hold starts no later than the trades it waits for.
    first_hold = next(e for e in recorder.events if e[0] == "hold")
    assert first_hold[2] is not None
    assert first_hold[2] <= min(t.time for t in skipped if t.symbol == first_hold[1])
    kinds = [kind for kind, symbol, _ in recorder.events if symbol == "BTCUSDT"]
    assert kinds[::2] == ["hold"] * len(kinds[::2]) and kinds[1::2] == ["release"] * (
        len(kinds) // 2
    )


async def test_gaps_that_rest_cannot_fill_are_counted(
    sim_tape: TradeTape, run_feed: FeedStarter, recorder: Recorder
) -> None:
    faults = Faults(skip_every=50, rest_unavailable=True)
    skipped = sum(1 for t in sim_tape.trades if t.id % 50 == 0)
    async with EmbeddedExchange(sim_tape, speed=0, faults=faults) as ex:
        feed = run_feed(ex, recorder)
        await ex.wait_until(ex.finished.is_set)
        await recorder.wait_until(
            lambda: len(recorder.trades) >= len(sim_tape) - skipped and not recorder.held()
        )
        await recorder.wait_until(lambda: feed.status.gaps >= skipped)
    # A gap at the very end of a leg is invisible (no later id): at most one per symbol.
    assert skipped - 2 <= feed.status.gaps <= skipped
    assert len(recorder.trades) == len(sim_tape) - feed.status.gaps
    assert feed.backfilled == 0


async def test_unknown_symbol_is_a_clear_error(
    exchange: EmbeddedExchange, recorder: Recorder
) -> None:
    feed = BinanceFeed(("BTCUSDT", "dogeusdx"), url=exchange.url)
    with pytest.raises(UnknownSymbolError, match="DOGEUSDX"):
        await feed.run(recorder)
    assert _handshakes(exchange) == []


async def test_unreachable_rest_is_a_warning_not_an_error(
    exchange: EmbeddedExchange,
    run_feed: FeedStarter,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pairs_tui.feed")
    run_feed(exchange, recorder, rest_url="http://127.0.0.1:9")  # discard port: refused
    await recorder.wait_for_count(100)
    assert "symbols not checked" in caplog.text


async def test_refused_handshakes_are_retried_until_one_succeeds(
    exchange: EmbeddedExchange, run_feed: FeedStarter, recorder: Recorder
) -> None:
    exchange.faults.refuse_handshakes = 3  # HTTP 503
    feed = run_feed(exchange, recorder)
    await recorder.wait_for_count(1)
    assert len(_handshakes(exchange)) == 4
    assert feed.status.state == "live" and feed.status.attempt == 0
    assert feed.status.reconnects == 0  # no connection was established before this one


async def test_connection_is_rotated_before_its_lifetime(
    sim_exchange: EmbeddedExchange,
    run_feed: FeedStarter,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pairs_tui.feed")
    feed = run_feed(sim_exchange, recorder, rotate_after_s=0.3)
    await recorder.wait_until(lambda: feed.status.reconnects >= 2)
    await sim_exchange.wait_until(sim_exchange.finished.is_set)
    total = sim_exchange.published("BTCUSDT") + sim_exchange.published("ETHUSDT")
    await recorder.wait_until(lambda: len(recorder.trades) >= total and not recorder.held())
    _assert_exactly_once(recorder, sim_exchange)
    assert "rotating the connection" in caplog.text
    assert feed.status.gaps == 0


async def test_server_lifetime_close_reconnects_without_loss(
    sim_tape: TradeTape, run_feed: FeedStarter, recorder: Recorder
) -> None:
    async with EmbeddedExchange(sim_tape, speed=20, faults=Faults(close_after_s=0.3)) as ex:
        feed = run_feed(ex, recorder)
        await recorder.wait_until(lambda: feed.status.reconnects >= 1)
        ex.faults.close_after_s = None
        await ex.wait_until(ex.finished.is_set)
        total = ex.published("BTCUSDT") + ex.published("ETHUSDT")
        await recorder.wait_until(lambda: len(recorder.trades) >= total and not recorder.held())
        _assert_exactly_once(recorder, ex)
