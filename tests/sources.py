"""Test sources shared by the test modules: session B's trades and a source that replays a list.

Session B is parsed here with the standard library only, independently of the project's readers.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

from pairs_tui.feed.source import TradeSink
from pairs_tui.feed.status import FeedStatus
from pairs_tui.records import Trade

FIXTURES = Path(__file__).parent / "fixtures"
"""tests/fixtures."""
SESSION = "sessionB_2024-08-08T2354Z_2024-08-09T0000Z"
"""The name every file of session B starts with."""
ENVELOPES = FIXTURES / f"{SESSION}_trade_envelopes.ndjson.gz"
"""Session B: 35,389 real BTCUSDT/ETHUSDT @trade frames as the combined stream sent them."""
BTC_CSV = FIXTURES / f"{SESSION}_BTCUSDT-trades.vision-style.csv.gz"
"""Session B's BTCUSDT trades in Binance's archive CSV layout."""
ETH_CSV = FIXTURES / f"{SESSION}_ETHUSDT-trades.vision-style.csv.gz"
"""Session B's ETHUSDT trades in Binance's archive CSV layout."""
CRYPTOFEED = FIXTURES / "cryptofeed_BINANCE_FUTURES_ws_aggTrade_2021-07-22.txt"
"""91 real 2021 ``@aggTrade`` frames of four symbols, ``<recv time>: <frame>`` a line."""
PAIR = ("BTCUSDT", "ETHUSDT")
"""Session B's pair, target leg first."""


def session_b_trades() -> list[Trade]:
    """Session B in receive order."""
    trades = []
    with gzip.open(ENVELOPES, "rt") as lines:
        for line in lines:
            d = json.loads(line)["data"]
            trades.append(Trade(d["s"], d["T"], float(d["p"]), float(d["q"]), d["m"], d["t"]))
    return trades


class ListSource:
    """Hands a list of trades to the sink, in the given order, and ends; no clock of its own,
    as a replay at full speed.

    Args:
        trades: What to deliver.
        yield_every: Give the event loop a turn every this many trades (lets timers run, as
            a live feed would); None never yields.
    """

    def __init__(self, trades: list[Trade], yield_every: int | None = None) -> None:
        self.trades = trades
        self.yield_every = yield_every
        self.delivered = 0

    @property
    def status(self) -> FeedStatus:
        return FeedStatus(state="replay", messages=self.delivered)

    def exchange_now_ms(self) -> float | None:
        return None

    async def run(self, sink: TradeSink) -> None:
        every = self.yield_every
        for trade in self.trades:
            sink.on_trade(trade)
            self.delivered += 1
            if every and self.delivered % every == 0:
                await asyncio.sleep(0)
