"""Any number of symbols on as few connections as Binance allows, added and removed while the
feed runs: against the embedded exchange over a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.feed.binance import BinanceFeed
from pairs_tui.feed.source import LiveSource

from .conftest import FeedStarter, Recorder, several_pairs

PAIRS = [("AAAUSDT", "BBBUSDT"), ("CCCUSDT", "DDDUSDT"), ("EEEUSDT", "FFFUSDT")]
SYMBOLS = [s for pair in PAIRS for s in pair]


def handshakes(ex: EmbeddedExchange) -> list[str]:
    return [r for r in ex.requests if not r.startswith("/fapi/")]


def url_of(symbols: Iterable[str], marks: bool = False) -> str:
    names = []
    for symbol in symbols:
        names.append(f"{symbol.lower()}@aggTrade")
        if marks:
            names.append(f"{symbol.lower()}@markPrice@1s")
    return "/market/stream?streams=" + "/".join(names)


def ids(recorder: Recorder, symbol: str) -> list[int]:
    return sorted(t.id for t in recorder.of(symbol))


def test_every_symbol_is_a_lower_case_stream_of_one_url() -> None:
    feed: LiveSource = BinanceFeed(["aaausdt", "BbbUsdt", "AAAUSDT"], marks=True)
    assert isinstance(feed, BinanceFeed) and isinstance(feed, LiveSource)
    assert feed.symbols == ("AAAUSDT", "BBBUSDT")
    assert feed.urls == (f"wss://fstream.binance.com{url_of(['AAAUSDT', 'BBBUSDT'], True)}",)
    with pytest.raises(ValueError, match="mark prices"):
        BinanceFeed(["aaausdt"], stream="trade", marks=True)
    with pytest.raises(ValueError, match="max_streams 1"):
        BinanceFeed(["aaausdt"], marks=True, max_streams=1)


async def test_six_symbols_share_one_connection(run_feed: FeedStarter) -> None:
    tape = several_pairs(PAIRS, duration_s=10.0)
    recorder = Recorder(expected=len(tape))
    async with EmbeddedExchange(tape, speed=0) as ex:
        feed = run_feed(ex, recorder, symbols=[s.lower() for s in SYMBOLS])
        await recorder.wait_until(recorder.reached.is_set)
        assert handshakes(ex) == [url_of(SYMBOLS)]
        for symbol in SYMBOLS:
            assert ids(recorder, symbol) == [t.id for t in ex.history(symbol)]
        status = feed.status
        assert (status.state, status.messages, status.gaps) == ("live", len(tape), 0)


async def test_symbols_added_and_removed_while_running(run_feed: FeedStarter) -> None:
    tape = several_pairs(PAIRS, duration_s=40.0)
    recorder = Recorder()
    async with EmbeddedExchange(tape, speed=4) as ex:
        feed = run_feed(ex, recorder, symbols=["AAAUSDT", "BBBUSDT"])
        await recorder.wait_until(lambda: len(recorder.of("BBBUSDT")) >= 20)
        # One at a time, as a user adds pairs: each is a SUBSCRIBE on the running connection.
        for symbol in SYMBOLS[2:]:
            feed.add_symbols([symbol])
        await recorder.wait_until(lambda: all(len(recorder.of(s)) >= 20 for s in SYMBOLS))
        assert handshakes(ex) == [url_of(["AAAUSDT", "BBBUSDT"])]  # no new connection
        assert ex.max_incoming_per_s <= 4  # spaced out, far below Binance's 10 a second

        feed.remove_symbols(["aaausdt", "DDDUSDT"])
        removed = {s: len(recorder.of(s)) for s in ("AAAUSDT", "DDDUSDT")}
        await recorder.wait_until(lambda: len(recorder.of("BBBUSDT")) >= 80)
        assert {s: len(recorder.of(s)) for s in removed} == removed  # nothing more delivered
        assert feed.symbols == ("BBBUSDT", "CCCUSDT", "EEEUSDT", "FFFUSDT")

        # The next connection's URL has the streams of now, and what its outage missed is
        # fetched for the symbols still followed.
        ex.drop_connections()
        await recorder.wait_until(lambda: feed.status.reconnects == 1)
        assert handshakes(ex)[-1] == url_of(["BBBUSDT", "CCCUSDT", "EEEUSDT", "FFFUSDT"])
        await ex.wait_until(ex.finished.is_set, 20.0)
        await recorder.wait_until(
            lambda: (
                not recorder.held()
                and all(ids(recorder, s)[-1] == ex.history(s)[-1].id for s in feed.symbols)
            )
        )
    for symbol in feed.symbols:
        got = ids(recorder, symbol)
        assert got == [t.id for t in ex.history(symbol) if t.id >= got[0]], symbol
    assert {s: len(recorder.of(s)) for s in removed} == removed
    assert feed.status.gaps == 0


async def test_past_the_stream_limit_more_connections_open(run_feed: FeedStarter) -> None:
    tape = several_pairs(PAIRS, duration_s=10.0)
    recorder = Recorder(expected=len(tape))
    async with EmbeddedExchange(tape, speed=0) as ex:
        feed = run_feed(ex, recorder, symbols=SYMBOLS, max_streams=4)
        await recorder.wait_until(recorder.reached.is_set)
        assert sorted(handshakes(ex)) == sorted([url_of(SYMBOLS[:4]), url_of(SYMBOLS[4:])])
        assert ex.connections == 2
        for symbol in SYMBOLS:
            assert ids(recorder, symbol) == [t.id for t in ex.history(symbol)]
        # The second connection has nothing left to carry: it closes.
        feed.remove_symbols(SYMBOLS[4:])
        await ex.wait_until(lambda: ex.connections == 1)
        assert feed.urls == (f"{ex.url}{url_of(SYMBOLS[:4])}",)
        assert feed.status.state == "live"
