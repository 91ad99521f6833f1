"""Headless output: one JSON line per final bar, in the documented schema and order."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import msgspec

from pairs_tui.bars import BarBuilder
from pairs_tui.config import Settings
from pairs_tui.headless import HeadlessWriter
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import Trade
from sources import PAIR, ListSource, session_b_trades

SCHEMA = [
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


async def headless_lines(trades: list[Trade], **kwargs: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    pipeline = Pipeline(Settings(), ListSource(trades), PAIR, **kwargs)
    pipeline.add_bar_listener(
        HeadlessWriter(
            out, pipeline.symbols, pipeline.price, pipeline.hedge, lambda: pipeline.window
        )
    )
    await pipeline.run()
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_one_line_per_bar_in_schema_order() -> None:
    trades = session_b_trades()
    lines = await headless_lines(trades, window=30)
    builder = BarBuilder(PAIR, 1_000)
    bars = builder.add_many(trades) + builder.flush()
    assert len(lines) == len(bars)
    assert all(list(line) == SCHEMA for line in lines)
    assert [line["ts"] for line in lines] == [bar.ts for bar in bars]
    assert [line["close_a"] for line in lines] == [bar.a.close for bar in bars if bar.a]
    assert [line["trades_b"] for line in lines] == [bar.b.trades for bar in bars if bar.b]
    first = lines[0]
    assert first["timeframe"] == "1s" and first["window"] == 30
    assert (first["symbol_a"], first["symbol_b"], first["price"], first["hedge"]) == (
        "BTCUSDT",
        "ETHUSDT",
        "log",
        "ols",
    )
    assert first["feed"] == {
        "state": "replay",
        "reconnects": 0,
        "gaps": 0,
        "late": 0,
        "malformed": 0,
    }


async def test_unknown_values_are_null_never_nan() -> None:
    lines = await headless_lines(session_b_trades()[:2_000], window=300)
    assert lines and all(line["zscore"] is None for line in lines)  # the window never fills
    for line in lines:
        for value in line.values():
            assert not (isinstance(value, float) and math.isnan(value))


async def test_one_minute_timeframe_prints_minute_bars() -> None:
    lines = await headless_lines(session_b_trades(), timeframe="1m", window=3)
    assert [line["ts"] % 60_000 for line in lines] == [0] * len(lines)
    assert sum(line["trades_a"] for line in lines) == sum(
        1 for t in session_b_trades() if t.symbol == "BTCUSDT"
    )


def test_nan_encodes_as_null() -> None:
    assert msgspec.json.encode({"zscore": math.nan}) == b'{"zscore":null}'


async def test_end_of_replay_closes_the_partial_minute() -> None:
    trades = [t for t in session_b_trades() if t.time < 1_723_161_400_000]
    lines = await headless_lines(trades, timeframe="1m", window=3)
    assert lines[-1]["ts"] == 1_723_161_360_000
    assert sum(line["trades_a"] + line["trades_b"] for line in lines) == len(trades)
