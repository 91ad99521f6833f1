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

import msgspec
import polars as pl

from pairs_tui.exchange.tape import TradeTape
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
HEADLESS_KEYS = [
    "ts",
    "timeframe",
    "symbol_a",
    "symbol_b",
    "price",
    "hedge",
    "window",
    "close_a",
    "close_b",
    "volume_a",
    "volume_b",
    "trades_a",
    "trades_b",
    "beta",
    "alpha",
    "r2",
    "spread",
    "zscore",
    "corr",
    "half_life",
    "kalman_beta",
    "alerts",
    "feed",
]
"""The headless line's keys, in order (PRODUCT.md, "Headless output"), carry off."""


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


def tape_file(
    tape: TradeTape, path: Path, start_ms: int | None = None, end_ms: int | None = None
) -> Path:
    """The tape's trades (of ``[start_ms, end_ms)`` when given) as the combined aggTrade stream
    sends them, one frame a line; gzipped when ``path`` ends in ``.gz``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as out:
        for t in tape.trades:
            if (start_ms is not None and t.time < start_ms) or (
                end_ms is not None and t.time >= end_ms
            ):
                continue
            spec = tape.specs[t.symbol]
            data = {
                "e": "aggTrade",
                "E": t.time,
                "a": t.id,
                "s": t.symbol,
                "p": f"{t.price:.{spec.price_decimals}f}",
                "q": f"{t.qty:.{spec.qty_decimals}f}",
                "f": t.first_trade_id,
                "l": t.last_trade_id,
                "T": t.time,
                "m": t.buyer_maker,
            }
            frame = {"stream": f"{t.symbol.lower()}@aggTrade", "data": data}
            out.write(msgspec.json.encode(frame).decode() + "\n")
    return path
