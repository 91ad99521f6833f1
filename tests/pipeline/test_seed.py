"""A pipeline started from history equals one that watched the whole tape (the stitch)."""

from __future__ import annotations

import math

import pytest

from pairs_tui.config import Settings
from pairs_tui.frames import bars_of
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import TIMEFRAMES, BarTimeframe, PairBar, Trade
from pairs_tui.snapshot import ClosedBar
from sources import ListSource, random_trades

PAIR = ("BTCUSDT", "ETHUSDT")
WINDOW_FIELDS = ("beta", "alpha", "r2", "beta_se", "spread", "zscore", "corr", "half_life")


def _run(
    trades: list[Trade], timeframe: BarTimeframe, window: int
) -> tuple[Pipeline, list[ClosedBar]]:
    pipeline = Pipeline(Settings(), ListSource([]), PAIR, timeframe=timeframe, window=window)
    lines: list[ClosedBar] = []
    pipeline.add_bar_listener(lines.append)
    for trade in trades:
        pipeline.on_trade(trade)
    pipeline.finish()
    return pipeline, lines


def _history(
    reference: Pipeline, stitch: int, keep: int | None
) -> dict[BarTimeframe, list[PairBar]]:
    """What klines would give: each timeframe's bars before the bucket holding the stitch,
    the last ``keep`` of them (all when None) and at least those of the open longer buckets."""
    out: dict[BarTimeframe, list[PairBar]] = {}
    longest = max(TIMEFRAMES.values())
    for name, ms in TIMEFRAMES.items():
        bars = [b for b in bars_of(reference.history(name)) if b.ts < stitch - stitch % ms]
        if keep is not None:
            needed = (stitch % longest) // ms
            bars = bars[-max(keep, needed) :]
        out[name] = bars
    return out


@pytest.mark.parametrize("timeframe", ["1s", "1m", "5m"])
@pytest.mark.parametrize("keep", [None, 12])
def test_a_seeded_pipeline_equals_one_that_watched_everything(
    timeframe: BarTimeframe, keep: int | None
) -> None:
    trades = random_trades(PAIR, seconds=5400, seed=11)
    start = trades[0].time - trades[0].time % 1000
    stitch = start + 3_127_000  # not on a minute: every timeframe has an open bucket
    window = 10
    reference, reference_lines = _run(trades, timeframe, window)
    seeded = Pipeline(Settings(), ListSource([]), PAIR, timeframe=timeframe, window=window)
    lines: list[ClosedBar] = []
    seeded.add_bar_listener(lines.append)
    seeded.seed(stitch, _history(reference, stitch, keep))
    latest = seeded.snapshot().latest
    assert latest is not None and latest.stats.zscore is not None  # analytics before a bar
    for trade in trades:
        if trade.time >= stitch:
            seeded.on_trade(trade)
    seeded.finish()
    ms = TIMEFRAMES[timeframe]
    assert lines[0].bar.ts == stitch - stitch % ms  # the first line is the open bucket
    expected = [c for c in reference_lines if c.bar.ts >= lines[0].bar.ts]
    assert [c.bar for c in lines] == [c.bar for c in expected]
    fields = WINDOW_FIELDS if keep is not None else (*WINDOW_FIELDS, "kalman_beta")
    for got, want in zip(lines, expected, strict=True):
        for name in fields:
            x, y = getattr(got.stats, name), getattr(want.stats, name)
            assert (x is None) == (y is None), (name, got.bar.ts)
            if x is not None:
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), (name, x, y)


def test_trades_held_before_the_seed_and_older_than_the_stitch_are_not_counted_twice() -> None:
    trades = random_trades(PAIR, seconds=600, seed=2)
    start = trades[0].time - trades[0].time % 1000
    stitch = start + 301_000
    reference, reference_lines = _run(trades, "1s", 10)
    seeded = Pipeline(Settings(), ListSource([]), PAIR, timeframe="1s", window=10)
    lines: list[ClosedBar] = []
    seeded.add_bar_listener(lines.append)
    seeded.hold_for_history()
    # The live stream started a little before the stitch: those trades are in history too.
    for trade in trades:
        if stitch - 700 <= trade.time:
            seeded.on_trade(trade)
    seeded.seed(stitch, _history(reference, stitch, None))
    seeded.release_history()
    seeded.finish()
    expected = [c for c in reference_lines if c.bar.ts >= stitch]
    assert [c.bar for c in lines] == [c.bar for c in expected]
    assert seeded.status.late == 0


def test_older_bars_for_a_wider_window_equal_a_run_that_had_them() -> None:
    trades = random_trades(PAIR, seconds=1800, seed=6)
    start = trades[0].time - trades[0].time % 1000
    stitch = start + 1_201_000
    reference, _ = _run(trades, "1m", 10)
    seeded = Pipeline(Settings(), ListSource([]), PAIR, timeframe="1m", window=10)
    seeded.seed(stitch, _history(reference, stitch, 12))
    for trade in trades:
        if trade.time >= stitch:
            seeded.on_trade(trade)
    seeded.finish()
    first = seeded.held_since("1m")
    assert first is not None
    older = [b for b in bars_of(reference.history("1m")) if b.ts < first]
    seeded.prepend("1m", older)
    got, want = seeded.history("1m"), reference.history("1m")
    assert got.height == want.height
    for name in WINDOW_FIELDS:
        for x, y in zip(got[name].to_list(), want[name].to_list(), strict=True):
            assert (x is None) == (y is None), name
            if x is not None:
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), (name, x, y)
