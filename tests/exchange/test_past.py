"""The exchange's past: hours of 1-second bars that flow into the trades without a jump, klines
that agree across the seam, a lead-in of recent trades, a recording that loops re-based."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from decimal import Decimal
from typing import Any

import pytest

from pairs_tui.exchange.market import recorded_market, simulated_market
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import Tape, TradeTape

from .conftest import open_stream, paged_klines, rest
from .test_klines import fold_klines

START_MS = 1_723_161_256_322


async def assert_past_flows_into_trades(ex: EmbeddedExchange, tape: Tape, past_s: int) -> None:
    """Every symbol that trades: its past's last 1s close is its first trade's price, and its
    klines begin with the past."""
    first_ms = int(ex.trades_from_ms())
    first_second = first_ms // 1000 * 1000
    for symbol in tape.specs:
        base = f"/fapi/v1/continuousKlines?pair={symbol}&contractType=PERPETUAL&interval=1s"
        if tape.listings[symbol].contract_type != "PERPETUAL":
            continue
        _, _, oldest = await rest(ex, f"{base}&startTime=0&limit=2")
        assert oldest[0][0] == first_second - past_s * 1000, symbol
        _, _, seam = await rest(ex, f"{base}&endTime={first_second - 1}&limit=1")
        history = ex.history(symbol)
        if not history:
            continue  # halted: its past only
        first = history[0]
        assert first.time >= first_ms
        decimals = tape.specs[symbol].price_decimals
        assert seam[0][4] == f"{first.price:.{decimals}f}", symbol  # no jump at the seam


async def test_simulated_past_flows_into_its_trades() -> None:
    market = simulated_market(start_ms=START_MS, past_s=900, duration_s=30.0, seed=3)
    async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 20)
        await assert_past_flows_into_trades(ex, market, 900)
        assert ex.published("MATICUSDT") == 0  # settling: no trades, a past only
        assert all(ex.published(s) > 0 for s in market.specs if s != "MATICUSDT")


async def test_recording_past_flows_into_it() -> None:
    tape = recorded_market(past_s=600)
    async with EmbeddedExchange(tape, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 20)
        await assert_past_flows_into_trades(ex, tape, 600)


async def test_klines_of_every_interval_agree_across_past_and_trades() -> None:
    market = simulated_market(start_ms=START_MS, past_s=5_400, duration_s=400.0, seed=5)
    async with EmbeddedExchange(market, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 30)
        end = int(ex.now_ms())
        start = START_MS // 3_600_000 * 3_600_000  # a whole hour, in the past
        for symbol in ("ETHUSDT", "DOGEUSDT", "MATICUSDT"):
            spec = market.specs[symbol]
            base = f"/fapi/v1/continuousKlines?pair={symbol}&contractType=PERPETUAL&interval=1s"
            seconds = await paged_klines(ex, base, start, end)
            assert seconds[0][0] == start and seconds[-1][0] == end // 1000 * 1000
            for interval, ms in (
                ("1m", 60_000),
                ("5m", 300_000),
                ("15m", 900_000),
                ("1h", 3_600_000),
            ):
                path = f"/fapi/v1/klines?symbol={symbol}&interval={interval}"
                klines = await paged_klines(ex, path, start, end)
                assert klines == fold_klines(seconds, ms, spec), (symbol, interval)


def volume(rows: list[Any]) -> Decimal:
    return sum((Decimal(r[5]) for r in rows), Decimal(0))


async def test_lead_in_starts_with_minutes_of_recent_trades() -> None:
    tape = recorded_market(past_s=600)
    async with (
        EmbeddedExchange(tape, speed=2, rebase=True, loop=True, lead_in_s=120) as ex,
        await open_stream(ex, "/market/stream?streams=btcusdt@aggTrade") as ws,
    ):
        connected = time.time() * 1000
        await ex.wait_until(lambda: ex.published("BTCUSDT") > 0)
        first_ms = ex.trades_from_ms()
        assert first_ms == pytest.approx(connected - 120_000, abs=2_000)
        base = "/fapi/v1/aggTrades?symbol=BTCUSDT"
        _, _, recent = await rest(ex, f"{base}&startTime={first_ms}&limit=1000")
        assert len(recent) == 1000 and recent[0]["T"] == ex.history("BTCUSDT")[0].time
        assert recent[-1]["T"] < connected  # published at once, before "now"
        status, _, body = await rest(ex, f"{base}&startTime={first_ms - 1_000}")
        assert (status, body["code"]) == (400, -4166)  # before the trades: bars only
        await assert_past_flows_into_trades(ex, tape, 600)
        frame = json.loads(await ws.recv())
        assert frame["data"]["T"] >= connected - 1_000  # the stream is live, not the lead-in


def test_recording_loops_re_based_at_every_seam(packaged_tape: TradeTape) -> None:
    n = len(packaged_tape)
    trades = list(itertools.islice(packaged_tape.passes(0, loop=True), 3 * n))
    for symbol in packaged_tape.specs:
        mine = [t for t in trades if t.symbol == symbol]
        per_pass = packaged_tape.counts[symbol]
        for k in (1, 2):
            last, first = mine[k * per_pass - 1], mine[k * per_pass]
            assert first.price == last.price  # each leg continues from its last price
            assert first.id == last.id + 1 and first.time > last.time
            tick = float(packaged_tape.specs[symbol].tick_size)
            assert all(abs(t.price / tick - round(t.price / tick)) < 1e-6 for t in mine)
        moves = [b.price / a.price for a, b in itertools.pairwise(mine)]
        assert max(abs(m - 1) for m in moves) < 0.005  # nothing the market did not do


async def test_looping_exchange_has_no_jump_at_the_seam() -> None:
    tape = simulated_tape(duration_s=3.0, rate_per_s=15.0, seed=9)
    count = tape.counts["BTCUSDT"]
    async with (
        EmbeddedExchange(tape, speed=0, loop=True) as ex,
        await open_stream(ex, "/market/stream?streams=btcusdt@aggTrade") as ws,
    ):
        frames = [json.loads(await ws.recv())["data"] for _ in range(2 * count + 1)]
    assert frames[count]["p"] == frames[count - 1]["p"]
    assert frames[2 * count]["p"] == frames[2 * count - 1]["p"]
