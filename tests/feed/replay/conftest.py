"""Fixtures for replay tests: the real session B recordings, a recording sink, a fake clock.

Crafted files for the odd cases are written by the tests themselves into ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import polars as pl
import pytest

from pairs_tui.records import MarkPrice, PairBar, Trade
from sources import session_b_frame


@pytest.fixture(scope="session")
def session_b() -> pl.DataFrame:
    """Session B's trades in replay order, read independently of the replay's readers."""
    return session_b_frame()


def write(path: Path, content: str | bytes, *, gz: bool = False) -> Path:
    """Write a crafted file (gzipped if asked) and return its path."""
    data = content.encode() if isinstance(content, str) else content
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def archive_csv(trades: pl.DataFrame, *, header: bool = True) -> str:
    """Trades in Binance's archive layout ``id,price,qty,quote_qty,time,is_buyer_maker``."""
    body = trades.select(
        "id",
        "price",
        "qty",
        (pl.col("price") * pl.col("qty")).alias("quote_qty"),
        "time",
        pl.col("buyer_maker").cast(pl.String).alias("is_buyer_maker"),
    ).write_csv(include_header=header)
    return body


class Recorder:
    """A :class:`~pairs_tui.feed.source.TradeSink` that keeps what it is given."""

    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self.bars: list[tuple[PairBar, int]] = []

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)

    def on_bar(self, bar: PairBar, timeframe_ms: int) -> None:
        self.bars.append((bar, timeframe_ms))

    def on_mark(self, mark: MarkPrice) -> None:
        raise AssertionError("a replay has no mark prices")

    def hold(self, symbol: str, from_time_ms: int) -> None:
        raise AssertionError("a replay never holds")

    def release(self, symbol: str) -> None:
        raise AssertionError("a replay never releases")


class FakeClock:
    """Monotonic seconds that move only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def as_rows(frame: pl.DataFrame, *, ids: bool = True) -> list[tuple[object, ...]]:
    """A trade frame as comparable rows (without ids when the format has other ids)."""
    columns = ["symbol", "time", "price", "qty", "buyer_maker"] + (["id"] if ids else [])
    return list(frame.select(columns).iter_rows())
