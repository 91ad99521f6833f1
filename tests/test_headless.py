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
from sources import HEADLESS_KEYS, PAIR, ListSource, session_b_trades


async def headless_lines(trades: list[Trade], **kwargs: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    pipeline = Pipeline(Settings(), ListSource(trades), PAIR, **kwargs)
    pipeline.add_bar_listener(HeadlessWriter(out))
    await pipeline.run()
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_one_line_per_bar_in_schema_order() -> None:
    trades = session_b_trades()
    lines = await headless_lines(trades, window=30)
    builder = BarBuilder(PAIR, 1_000)
    bars = builder.add_many(trades) + builder.flush()
    assert len(lines) == len(bars)
    assert all(list(line) == HEADLESS_KEYS for line in lines)
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


async def test_counts_are_never_null_and_volumes_carry_no_float_noise() -> None:
    # ETHUSDT trades first; BTCUSDT's first bars have no trade yet: close null, counts 0.
    eth_first = [
        Trade("ETHUSDT", 1_000, 2_600.0, 0.1, False, 1),
        Trade("ETHUSDT", 1_100, 2_600.5, 0.2, False, 2),
        Trade("ETHUSDT", 1_200, 2_600.5, 0.278, False, 3),
        Trade("BTCUSDT", 2_500, 61_000.0, 0.001, False, 1),
        Trade("ETHUSDT", 2_600, 2_601.0, 0.1, False, 4),
    ]
    lines = await headless_lines(eth_first, window=3)
    first = lines[0]
    assert (first["close_a"], first["trades_a"], first["volume_a"]) == (None, 0, 0.0)
    assert first["volume_b"] == 0.578  # 0.1 + 0.2 + 0.278 is 0.5780000000000001 in floats
    assert all(isinstance(line["trades_a"], int) for line in lines)


async def test_volumes_round_to_the_symbol_s_step() -> None:
    out = io.StringIO()
    trades = [
        Trade("BTCUSDT", 1_000, 61_000.0, 0.1234567, False, 1),
        Trade("ETHUSDT", 1_000, 2_600.0, 1.0, False, 1),
        Trade("BTCUSDT", 2_000, 61_000.0, 0.1, False, 2),
        Trade("ETHUSDT", 2_000, 2_600.0, 1.0, False, 2),
    ]
    pipeline = Pipeline(Settings(), ListSource(trades), PAIR, window=3)
    pipeline.add_bar_listener(HeadlessWriter(out, {"BTCUSDT": 3}))
    await pipeline.run()
    first = json.loads(out.getvalue().splitlines()[0])
    assert first["volume_a"] == 0.123


async def test_carry_fields_come_with_carry_on_only() -> None:
    from pairs_tui.records import MarkPrice

    trades = session_b_trades()[:3000]
    out = io.StringIO()
    pipeline = Pipeline(Settings(), ListSource(trades), PAIR, window=30, carry=True)
    pipeline.on_mark(MarkPrice("BTCUSDT", 1, 61_000.0, 60_990.0, 0.0001, 1_723_161_600_000))
    pipeline.on_mark(MarkPrice("ETHUSDT", 1, 2_680.0, 2_679.0, -0.00005, 1_723_161_600_000))
    pipeline.add_bar_listener(HeadlessWriter(out))
    await pipeline.run()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    last = lines[-1]
    assert list(last) == [
        *HEADLESS_KEYS[:21],
        "funding_a",
        "funding_b",
        "next_funding_ts",
        "carry_bp_day",
        "alerts",
        "feed",
    ]
    assert (last["funding_a"], last["funding_b"]) == (0.0001, -0.00005)
    assert last["next_funding_ts"] == 1_723_161_600_000
    expected = 1e4 * (-0.0001 * 3 + last["beta"] * -0.00005 * 3)
    assert math.isclose(last["carry_bp_day"], expected, rel_tol=1e-12)
    plain = await headless_lines(trades, window=30)
    assert all(list(line) == HEADLESS_KEYS for line in plain)
