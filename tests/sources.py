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
ENVELOPES = FIXTURES / "sessionB_2024-08-08T2354Z_2024-08-09T0000Z_trade_envelopes.ndjson.gz"
"""Session B: 35,389 real BTCUSDT/ETHUSDT @trade frames as the combined stream sent them."""
PAIR = ("BTCUSDT", "ETHUSDT")


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


def random_trades(
    symbols: tuple[str, ...], *, seconds: int, seed: int, rate_per_s: float = 4.0
) -> list[Trade]:
    """Trades of several symbols on correlated random walks, in arrival order.

    Each symbol trades as a Poisson process; prices share a common factor so that pairs are
    correlated. Ids are contiguous per symbol and trade times never go backwards per symbol.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    common = np.cumsum(rng.normal(0.0, 2e-4, seconds * 10))
    out: list[tuple[int, int, Trade]] = []
    for k, symbol in enumerate(symbols):
        own = np.cumsum(rng.normal(0.0, 1e-4, seconds * 10))
        level = 100.0 * (k + 1)
        count = int(rng.poisson(rate_per_s * seconds))
        times = np.sort(rng.integers(0, seconds * 1000, count))
        for n, t in enumerate(times):
            step = int(t) // 100
            price = round(level * float(np.exp((0.5 + 0.2 * k) * common[step] + own[step])), 2)
            qty = round(float(rng.exponential(1.0)) + 0.001, 3)
            trade = Trade(symbol, 1_700_000_000_000 + int(t), price, qty, bool(n % 2), 1000 + n)
            out.append((int(t), k, trade))
    out.sort(key=lambda item: (item[0], item[1]))
    return [trade for _, _, trade in out]
