"""The pipeline under the arrival order a backfill produces: the latest price stays the latest."""

from __future__ import annotations

from pairs_tui.config import Settings
from pairs_tui.feed.source import TradeSink
from pairs_tui.feed.status import FeedStatus
from pairs_tui.pipeline import Pipeline
from pairs_tui.trades import Trade

PAIR = ("BTCUSDT", "ETHUSDT")


class ListSource:
    """Hands over a list of trades, in the given order, and ends."""

    def __init__(self, trades: list[Trade]) -> None:
        self.trades = trades

    @property
    def status(self) -> FeedStatus:
        return FeedStatus(state="replay")

    def exchange_now_ms(self) -> float | None:
        return None

    async def run(self, sink: TradeSink) -> None:
        for trade in self.trades:
            sink.on_trade(trade)


async def test_backfilled_trades_do_not_replace_the_latest_quote() -> None:
    trades = [
        Trade("BTCUSDT", 1_000, 100.0, 1.0, False, 1),
        Trade("ETHUSDT", 1_000, 10.0, 1.0, False, 1),
        Trade("BTCUSDT", 1_900, 104.0, 1.0, False, 5),  # live, revealing the gap 2-4
        Trade("BTCUSDT", 1_200, 101.0, 1.0, False, 2),  # the backfill, after it
        Trade("BTCUSDT", 1_500, 102.0, 1.0, False, 3),
        Trade("BTCUSDT", 1_900, 103.0, 1.0, False, 4),  # same time, earlier id
    ]
    pipeline = Pipeline(Settings(), ListSource(trades), PAIR)
    await pipeline.run()
    quote = pipeline.snapshot().quotes[0]
    assert quote is not None and (quote.price, quote.time) == (104.0, 1_900)
    assert quote.first_price == 100.0
    (bar,) = pipeline.history("1s").iter_rows(named=True)
    assert (bar["open_a"], bar["close_a"], bar["trades_a"]) == (100.0, 104.0, 5)
