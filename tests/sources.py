"""Test sources shared by the test modules: session B (its files, its trades) and a source that
replays a list.

Session B is parsed here, once per test session, with the standard library only, independently
of the project's readers: every test that needs its trades takes them from here.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
from pathlib import Path

import polars as pl

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
    """Session B in receive order (a fresh list; the trades are immutable)."""
    return list(_session_b())


def session_b_frame() -> pl.DataFrame:
    """Session B as a replay delivers it: by trade time, then the target leg first, then id.

    Returns:
        Columns ``symbol, time, price, qty, buyer_maker, id``.
    """
    trades = sorted(_session_b(), key=lambda t: (t.time, t.symbol != PAIR[0], t.id))
    return pl.DataFrame(
        [(t.symbol, t.time, t.price, t.qty, t.buyer_maker, t.id) for t in trades],
        schema={
            "symbol": pl.String(),
            "time": pl.Int64(),
            "price": pl.Float64(),
            "qty": pl.Float64(),
            "buyer_maker": pl.Boolean(),
            "id": pl.Int64(),
        },
        orient="row",
    )


@functools.cache
def _session_b() -> tuple[Trade, ...]:
    trades = []
    with gzip.open(ENVELOPES, "rt") as lines:
        for line in lines:
            d = json.loads(line)["data"]
            trades.append(Trade(d["s"], d["T"], float(d["p"]), float(d["q"]), d["m"], d["t"]))
    return tuple(trades)


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
