"""The pipeline under the arrival order a backfill produces: the latest price stays the latest."""

from __future__ import annotations

from pairs_tui.config import Settings
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import Trade
from sources import PAIR, ListSource


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
