"""The stitch of a warm start: every aggregate trade from a time before the connection on,
delivered once, part over REST and part live, with the bars held until it is done."""

from __future__ import annotations

import asyncio

import pytest

from pairs_tui.bars import BarBuilder
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.records import MarkPrice, PairBar, Trade

from .conftest import FeedStarter

PAIR = ("BTCUSDT", "ETHUSDT")


class BarSink:
    """A sink that builds 1s bars as the pipeline does (holds included, nothing by clock); as
    in a warm start, every bar waits for the stitch (the ``warm`` hold) until it is released."""

    def __init__(self) -> None:
        self.builder = BarBuilder(PAIR, 1_000)
        self.trades: list[Trade] = []
        self.bars: list[PairBar] = []
        self.changed = asyncio.Event()

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)
        self.bars.extend(self.builder.add(trade))
        self.changed.set()

    def on_bar(self, bar: PairBar, timeframe_ms: int) -> None:
        raise AssertionError("a live feed sends trades, not bars")

    def on_mark(self, mark: MarkPrice) -> None:
        pass

    def hold(self, symbol: str, from_time_ms: int) -> None:
        self.builder.hold(symbol, from_time_ms, 0)

    def release(self, symbol: str) -> None:
        self.bars.extend(self.builder.release(symbol))

    async def wait_for(self, n: int) -> None:
        async with asyncio.timeout(10):
            while len(self.trades) < n:
                self.changed.clear()
                await self.changed.wait()


def printed(ex: EmbeddedExchange, since_ms: int) -> list[Trade]:
    """What the exchange published from ``since_ms`` on, as a client decodes it."""
    out = []
    for symbol in PAIR:
        spec = ex.tape.specs[symbol]
        for t in ex.history(symbol):
            if t.time >= since_ms:
                price = float(f"{t.price:.{spec.price_decimals}f}")
                qty = float(f"{t.qty:.{spec.qty_decimals}f}")
                out.append(Trade(symbol, t.time, price, qty, t.buyer_maker, t.id))
    return out


def truth(trades: list[Trade]) -> list[PairBar]:
    builder = BarBuilder(PAIR, 1_000)
    return builder.add_many(sorted(trades, key=lambda t: (t.time, t.id))) + builder.flush()


def assert_same_bars(got: list[PairBar], want: list[PairBar]) -> None:
    """Equal bars, volumes to rounding (a sum in another order)."""
    assert [b.ts for b in got] == [b.ts for b in want]
    for g, w in zip(got, want, strict=True):
        for leg_g, leg_w in ((g.a, w.a), (g.b, w.b)):
            assert (leg_g is None) == (leg_w is None), g.ts
            if leg_g is not None and leg_w is not None:
                assert (leg_g.open, leg_g.high, leg_g.low, leg_g.close, leg_g.trades) == (
                    leg_w.open,
                    leg_w.high,
                    leg_w.low,
                    leg_w.close,
                    leg_w.trades,
                ), g.ts
                assert leg_g.volume == pytest.approx(leg_w.volume, rel=1e-12)


@pytest.fixture
def tape() -> TradeTape:
    return simulated_tape(PAIR, duration_s=14.0, rate_per_s=(40.0, 25.0), seed=17)


@pytest.mark.parametrize("live_first", [False, True], ids=["before-live", "after-live"])
async def test_the_stitch_delivers_every_trade_from_its_time_exactly_once(
    tape: TradeTape, run_feed: FeedStarter, live_first: bool
) -> None:
    sink = BarSink()
    async with EmbeddedExchange(tape, speed=4, wait_for_subscriber=False) as ex:
        # Mid-tape: trades published with nobody listening are in the history only.
        await ex.wait_until(lambda: ex.published("ETHUSDT") >= 150)
        stitch_ms = int(ex.now_ms()) // 1_000 * 1_000 - 2_000  # before the connection
        sink.hold("warm", stitch_ms)
        feed = run_feed(ex, sink)
        await ex.wait_until(lambda: ex.connections == 1)
        if live_first:
            await sink.wait_for(50)
        await asyncio.gather(*(feed.catch_up_from(s, stitch_ms) for s in PAIR))
        assert feed.backfilled > 0  # part of it came over REST
        sink.release("warm")
        await ex.wait_until(ex.finished.is_set, 10)
        expected = printed(ex, stitch_ms)
        await sink.wait_for(len(expected))
    got = sorted((t.symbol, t.id) for t in sink.trades)
    assert got == sorted((t.symbol, t.id) for t in expected)  # each once, nothing else
    assert sorted(sink.trades, key=lambda t: (t.symbol, t.id)) == sorted(
        expected, key=lambda t: (t.symbol, t.id)
    )
    # Bars built in arrival order, with the stitch's holds, are the bars of the trades.
    final = sink.bars + sink.builder.flush()
    assert sink.builder.late == 0
    assert_same_bars(final, truth(expected))
    assert final[0].ts == stitch_ms
