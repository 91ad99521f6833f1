"""The pipeline's own behaviour: its heartbeat, timeframes, the window, snapshots."""

from __future__ import annotations

import asyncio
import time

from pairs_tui.config import Settings
from pairs_tui.feed.source import TradeSink
from pairs_tui.feed.status import FeedStatus
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import Trade
from sources import PAIR, ListSource, session_b_trades


class StallingSource:
    """Delivers a bar's trades, holds the whole event loop up, then delivers the bar's last
    trade, as frames buffered in a socket during a stall would arrive.

    Its clock is the last trade time plus the local time since it was delivered, as the real
    client's lower bound of the exchange clock is.
    """

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self.last_ms = 0
        self.last_at = time.monotonic()

    @property
    def status(self) -> FeedStatus:
        return FeedStatus(state="live")

    def exchange_now_ms(self) -> float | None:
        return self.last_ms + (time.monotonic() - self.last_at) * 1000

    def deliver(self, sink: TradeSink, symbol: str, time_ms: int, price: float) -> None:
        self.last_ms, self.last_at = time_ms, time.monotonic()
        sink.on_trade(Trade(symbol, time_ms, price, 1.0, False))

    async def run(self, sink: TradeSink) -> None:
        self.deliver(sink, "BTCUSDT", 100, 10.0)
        self.deliver(sink, "ETHUSDT", 900, 5.0)
        for _ in range(3):  # the heartbeat starts its first wait
            await asyncio.sleep(0)
        time.sleep(self.stall_s)  # the stall under test: nothing else can run meanwhile
        for _ in range(5):  # the heartbeat, due during the stall, runs before the next frame
            await asyncio.sleep(0)
        self.deliver(sink, "BTCUSDT", 950, 11.0)
        self.deliver(sink, "BTCUSDT", 1_100, 12.0)
        self.deliver(sink, "ETHUSDT", 1_100, 6.0)


async def test_a_late_heartbeat_does_not_close_bars_on_the_clock() -> None:
    source = StallingSource(stall_s=0.5)
    pipeline = Pipeline(Settings(), source, PAIR, window=3)
    await pipeline.run()
    bars = pipeline.history("1s")
    assert pipeline.status.late == 0
    assert bars["close_a"].to_list() == [11.0, 12.0]  # the trade at 950 ms is in its bar
    assert bars["trades_a"].to_list() == [2, 1]


async def test_switching_timeframe_shows_that_timeframes_history() -> None:
    pipeline = Pipeline(Settings(), ListSource(session_b_trades()), PAIR, window=3)
    await pipeline.run()
    seconds = pipeline.snapshot()
    pipeline.set_timeframe("1m")
    minutes = pipeline.snapshot()
    assert (seconds.timeframe, minutes.timeframe) == ("1s", "1m")
    assert seconds.bars.height == 345 and minutes.bars.height == 7
    assert minutes.bars["trades_a"].sum() == seconds.bars["trades_a"].sum()
    assert minutes.version > seconds.version and minutes.finished
    assert minutes.latest is not None and minutes.latest.timeframe == "1m"
    assert minutes.latest.bar.ts == minutes.bars["ts"][-1]


async def test_window_change_applies_to_every_timeframe() -> None:
    pipeline = Pipeline(Settings(), ListSource(session_b_trades()), PAIR, window=30)
    pipeline.set_window(20)
    await pipeline.run()
    line = pipeline.snapshot().latest
    assert line is not None and line.stats.n == 20
    pipeline.set_timeframe("1m")
    assert pipeline.snapshot().window == 20
