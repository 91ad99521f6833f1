"""Mark prices beside the trades on one connection: ``<symbol>@markPrice@1s`` decoded to
:class:`~pairs_tui.records.MarkPrice` for the sink, against the embedded exchange over loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.records import MarkPrice

from .conftest import FeedStarter, Recorder

STREAMS = "btcusdt@aggTrade/btcusdt@markPrice@1s/ethusdt@aggTrade/ethusdt@markPrice@1s"


def mark_of(data: dict[str, Any]) -> MarkPrice:
    """A mark-price payload as the JSON says it, read by hand."""
    return MarkPrice(
        data["s"], data["E"], float(data["p"]), float(data["i"]), float(data["r"]), data["T"]
    )


async def test_mark_prices_arrive_with_the_trades_on_one_connection(
    run_feed: FeedStarter,
) -> None:
    tape = simulated_tape(duration_s=15.0, rate_per_s=(20.0, 12.0), seed=8)
    recorder = Recorder(expected=len(tape))
    async with EmbeddedExchange(tape, speed=5) as ex:
        feed = run_feed(ex, recorder, marks=True)
        await recorder.wait_for_count(1)
        # A plain reader of the same streams, to compare with, joining a moment later.
        async with connect(f"{ex.url}/market/stream?streams={STREAMS}", proxy=None) as ws:
            await ex.wait_until(ex.finished.is_set)
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
            frames = []
            async with asyncio.timeout(10):
                while "result" not in (frame := json.loads(await ws.recv())):
                    frames.append(frame["data"])
        await recorder.wait_until(recorder.reached.is_set)
        handshakes = [r for r in ex.requests if not r.startswith("/fapi/")]
        assert handshakes == [f"/market/stream?streams={STREAMS}"] * 2
    read = [mark_of(d) for d in frames if d["e"] == "markPriceUpdate"]
    for symbol in ("BTCUSDT", "ETHUSDT"):
        got = [m for m in recorder.marks if m.symbol == symbol]
        expected = [m for m in read if m.symbol == symbol]
        # One a second, with the values the plain reader decoded (it may lack the first ones).
        assert len(got) >= 14 and len(expected) >= 10
        assert expected == got[len(got) - len(expected) :]
        assert [m.time for m in got] == list(range(got[0].time, got[-1].time + 1, 1_000))
        assert all(m.next_funding_time > m.time and m.mark > 0 for m in got)
    assert len(recorder.trades) == len(tape)  # marks are not trades
    status = feed.status
    assert (status.malformed, status.gaps, status.messages) == (0, 0, len(tape))
