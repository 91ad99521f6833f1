"""ReplaySource as a TradeSource: delivery, status, the virtual clock and pacing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
import pytest

from pairs_tui.bars import BarBuilder
from pairs_tui.feed.replay.source import CHUNK, MIN_SLEEP_S, ReplaySource
from pairs_tui.records import Trade
from sources import CRYPTOFEED, ENVELOPES, PAIR

from .conftest import FakeClock, Recorder, write


async def test_full_speed_delivers_every_trade_in_order(session_b: pl.DataFrame) -> None:
    source = ReplaySource([ENVELOPES], ("btcusdt", "ethusdt"))
    assert (source.status.state, source.status.messages) == ("replay", 0)
    sink = Recorder()
    await source.run(sink)
    assert [
        (t.symbol, t.time, t.price, t.qty, t.buyer_maker, t.id) for t in sink.trades
    ] == session_b.rows()
    assert all(type(t) is Trade for t in sink.trades)
    status = source.status
    assert (status.state, status.messages, status.malformed) == ("done", 35_389, 0)
    assert source.exchange_now_ms() is None


async def test_full_speed_yields_to_the_event_loop() -> None:
    source = ReplaySource([ENVELOPES], PAIR)
    ticks = 0

    async def ui() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ui())
    await source.run(Recorder())
    task.cancel()
    assert ticks >= source.size // CHUNK


async def test_status_counts_while_running() -> None:
    source = ReplaySource([ENVELOPES], PAIR)
    seen: list[tuple[str, int]] = []

    class Watcher(Recorder):
        def on_trade(self, trade: Trade) -> None:
            if len(self.trades) % 10_000 == 0:
                seen.append((source.status.state, source.status.messages))
            super().on_trade(trade)

    await source.run(Watcher())
    assert [state for state, _ in seen] == ["replay"] * 4
    assert [n for _, n in seen] == sorted(n for _, n in seen)
    assert seen[-1][1] <= 30_000


async def test_paced_replay_follows_trade_time() -> None:
    clock = FakeClock()
    speed = 10.0
    source = ReplaySource(
        [CRYPTOFEED], ("CTKUSDT", "SUSHIUSDT"), speed=speed, clock=clock, sleep=clock.sleep
    )
    start = clock.now
    delivered: list[tuple[Trade, float, float | None]] = []

    class Pacer(Recorder):
        def on_trade(self, trade: Trade) -> None:
            delivered.append((trade, clock.now, source.exchange_now_ms()))

    await source.run(Pacer())
    first = delivered[0][0].time
    for trade, now, exchange_now in delivered:
        due = start + (trade.time - first) / speed / 1000
        assert now >= due - 1e-9  # never early
        assert now - due <= MIN_SLEEP_S + 1e-9  # at most one sleep late
        assert exchange_now is not None and exchange_now < trade.time
    last = delivered[-1][0].time
    assert clock.now - start == pytest.approx((last - first) / speed / 1000, abs=MIN_SLEEP_S)
    assert source.exchange_now_ms() == last
    assert source.status.state == "done"


async def test_paced_clock_never_passes_a_trade_not_yet_delivered(session_b: pl.DataFrame) -> None:
    clock = FakeClock()
    times = session_b["time"].to_list()
    sink = Recorder()
    checked = 0

    async def sleep(seconds: float) -> None:
        # While the replay waits, every trade up to the exchange clock has been delivered,
        # so a bar builder advanced by it never closes a bar under a queued trade; and the
        # clock keeps up with what was delivered.
        nonlocal checked
        now = source.exchange_now_ms()
        if sink.trades and now is not None:
            done = len(sink.trades)
            assert done == len(times) or times[done] > now
            assert now >= sink.trades[-1].time - 1
            checked += 1
        await clock.sleep(seconds)

    source = ReplaySource([ENVELOPES], PAIR, speed=100.0, clock=clock, sleep=sleep)
    await source.run(sink)
    assert checked > 100
    assert len(sink.trades) == 35_389


async def test_paced_replay_sleeps_in_batches() -> None:
    clock = FakeClock()
    source = ReplaySource([ENVELOPES], PAIR, speed=100.0, clock=clock, sleep=clock.sleep)
    await source.run(Recorder())
    waits = [s for s in clock.sleeps if s > 0]
    span_s = (1723161600029 - 1723161256322) / 1000 / 100
    assert len(waits) <= span_s / MIN_SLEEP_S + 1
    assert len(waits) < 35_389 / 50
    assert min(waits) >= MIN_SLEEP_S


async def test_cancelled_replay_reports_stopped() -> None:
    clock = FakeClock()
    source = ReplaySource([ENVELOPES], PAIR, speed=1.0, clock=clock, sleep=clock.sleep)
    sink = Recorder()
    task = asyncio.create_task(source.run(sink))
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert source.status.state == "stopped"
    assert 0 < len(sink.trades) < 35_389


async def test_a_second_run_replays_again() -> None:
    source = ReplaySource([CRYPTOFEED], ("CTKUSDT", "SUSHIUSDT"))
    first, second = Recorder(), Recorder()
    await source.run(first)
    await source.run(second)
    assert first.trades == second.trades
    assert source.status.messages == 78


async def test_bars_from_replayed_trades_match_bars_from_the_table(session_b: pl.DataFrame) -> None:
    builder = BarBuilder(PAIR, 1_000)
    bars = []

    class Builder(Recorder):
        def on_trade(self, trade: Trade) -> None:
            bars.extend(builder.add(trade))

    await ReplaySource([ENVELOPES], PAIR).run(Builder())
    bars.extend(builder.flush())
    direct = BarBuilder(PAIR, 1_000)
    expected = direct.add_many(Trade(*row) for row in session_b.iter_rows())
    expected.extend(direct.flush())
    assert bars == expected
    assert builder.late == 0
    assert len(bars) == 345


def test_files_are_read_when_the_source_is_made(tmp_path: Path) -> None:
    path = write(tmp_path / "frames.ndjson", "garbage\n")
    with pytest.raises(Exception, match="not a known trade file"):
        ReplaySource([ENVELOPES, path], PAIR)
