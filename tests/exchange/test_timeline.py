"""The embedded exchange's timeline: its speed, its loop, its rebased and skewed clock."""

from __future__ import annotations

import time

import pytest

from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.feed.rest import BinanceRest

from .conftest import open_stream, receive


async def test_timeline_follows_speed_and_loops_with_ids_continuing() -> None:
    tape = simulated_tape(duration_s=2.0, rate_per_s=20.0, seed=5)
    async with EmbeddedExchange(tape, speed=0, loop=True) as ex:
        assert ex.now_ms() == tape.start_ms  # frozen until someone subscribes
        async with await open_stream(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
            frames = await receive(ws, 3 * tape.counts["BTCUSDT"])
    ids = [f["data"]["a"] for f in frames]  # type: ignore[index]
    times = [f["data"]["T"] for f in frames]  # type: ignore[index]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert times == sorted(times) and times[-1] > tape.end_ms + 2 * (tape.end_ms - tape.start_ms)


async def test_rebased_timeline_runs_at_speed(sim_tape: TradeTape) -> None:
    async with EmbeddedExchange(sim_tape, speed=20, rebase=True) as ex:
        assert ex.now_ms() == pytest.approx(time.time() * 1000, abs=1000)
        async with await open_stream(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
            (first,) = await receive(ws, 1)
            started = time.monotonic()
            frames = await receive(ws, 200)
        elapsed_ms = (time.monotonic() - started) * 1000
    t0 = first["data"]["T"]  # type: ignore[index]
    assert t0 == pytest.approx(time.time() * 1000, abs=5000)  # rebased to "now"
    span = frames[-1]["data"]["T"] - t0  # type: ignore[index]
    assert span / 20 <= elapsed_ms + 50  # not faster than 20x


async def test_skewed_clock_shows_in_server_time_and_trade_times(sim_tape: TradeTape) -> None:
    async with EmbeddedExchange(sim_tape, speed=1, rebase=True, clock_skew_ms=-1_300.0) as ex:
        rest = BinanceRest(ex.rest_url)
        before = time.time() * 1000.0
        server = await rest.server_time_ms()
        assert server == pytest.approx(before - 1_300.0, abs=200)
        async with await open_stream(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
            (first,) = await receive(ws, 1)
        assert first["data"]["T"] == pytest.approx(  # type: ignore[index]
            time.time() * 1000.0 - 1_300.0, abs=1_000
        )
