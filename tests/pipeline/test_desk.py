"""Several pairs on one source: each pair's bars and analytics are those of a run of it alone."""

from __future__ import annotations

from pairs_tui.config import Settings
from pairs_tui.desk import Desk
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import MarkPrice, Trade
from pairs_tui.snapshot import ClosedBar
from sources import ListSource, random_trades

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "AVAXUSDT")
PAIRS = (("BTCUSDT", "ETHUSDT"), ("SOLUSDT", "ETHUSDT"), ("BTCUSDT", "SOLUSDT"))


def _lines(pipeline: Pipeline) -> list[ClosedBar]:
    lines: list[ClosedBar] = []
    pipeline.add_bar_listener(lines.append)
    return lines


async def _alone(trades: list[Trade], pair: tuple[str, str]) -> list[ClosedBar]:
    mine = [t for t in trades if t.symbol in pair]
    pipeline = Pipeline(Settings(), ListSource(mine), pair, window=30)
    lines = _lines(pipeline)
    await pipeline.run()
    return lines


async def test_three_pairs_sharing_legs_equal_each_pair_run_alone() -> None:
    trades = random_trades(SYMBOLS, seconds=240, seed=3)
    source = ListSource(trades)
    pipelines = [Pipeline(Settings(), source, pair, window=30) for pair in PAIRS]
    lines = [_lines(p) for p in pipelines]
    await Desk(source, pipelines).run()
    for pair, got in zip(PAIRS, lines, strict=True):
        alone = await _alone(trades, pair)
        assert len(got) == len(alone) > 200
        assert [(c.bar, c.stats) for c in got] == [(c.bar, c.stats) for c in alone]
        assert all(c.stats.zscore is not None for c in got[40:])
    assert all(p.snapshot().finished for p in pipelines)


async def test_a_trade_goes_only_to_the_pairs_of_its_symbol() -> None:
    trades = random_trades(SYMBOLS, seconds=20, seed=5)
    source = ListSource(trades)
    pipelines = [Pipeline(Settings(), source, pair, window=5) for pair in PAIRS]
    desk = Desk(source, pipelines)
    await desk.run()
    counts = {pair: p.ticks().height for pair, p in zip(PAIRS, pipelines, strict=True)}
    for pair in PAIRS:
        assert counts[pair] == sum(1 for t in trades if t.symbol in pair)
    assert desk.symbols() == ("BTCUSDT", "ETHUSDT", "SOLUSDT")


async def test_a_pair_removed_mid_run_gets_nothing_more_and_the_others_go_on() -> None:
    trades = random_trades(SYMBOLS, seconds=60, seed=9)
    half = len(trades) // 2
    source = ListSource(trades[:half])
    first, second = (Pipeline(Settings(), source, pair, window=5) for pair in PAIRS[:2])
    desk = Desk(source, [first, second])
    await desk.run()
    seen = first.ticks().height
    desk.remove(first)
    for trade in trades[half:]:
        desk.on_trade(trade)
    assert first.ticks().height == seen
    assert second.ticks().height == sum(1 for t in trades if t.symbol in PAIRS[1])


def test_the_same_pair_twice_is_refused() -> None:
    source = ListSource([])
    pipeline = Pipeline(Settings(), source, PAIRS[0])
    desk = Desk(source, [pipeline])
    try:
        desk.add(Pipeline(Settings(), source, PAIRS[0]))
    except ValueError as exc:
        assert "BTCUSDT/ETHUSDT" in str(exc)
    else:
        raise AssertionError("a second BTCUSDT/ETHUSDT was accepted")


def test_mark_prices_reach_every_pair_with_the_symbol() -> None:
    source = ListSource([])
    pipelines = [Pipeline(Settings(), source, pair, carry=True) for pair in PAIRS]
    desk = Desk(source, pipelines)
    desk.on_mark(MarkPrice("ETHUSDT", 1_000, 2_600.5, 2_600.0, 0.0001, 28_800_000))
    funding_b = [p.snapshot().carry for p in pipelines]
    assert [c.funding_b if c else None for c in funding_b] == [0.0001, 0.0001, None]


def test_the_routes_a_reader_keeps_follow_pairs_added_and_removed() -> None:
    """The live read loop keeps ``trade_routes`` from its start: pairs added or removed later
    must show in that very mapping."""
    trades = random_trades(SYMBOLS, seconds=10, seed=11)
    source = ListSource([])
    first = Pipeline(Settings(), source, PAIRS[0], window=5)
    desk = Desk(source, [first])
    kept = desk.trade_routes
    second = Pipeline(Settings(), source, PAIRS[1], window=5)
    desk.add(second)
    desk.remove(first)
    for trade in trades:
        route = kept.get(trade.symbol)
        if route is not None:
            route(trade)
    assert first.ticks().height == 0
    assert second.ticks().height == sum(1 for t in trades if t.symbol in PAIRS[1]) > 0
    assert "BTCUSDT" not in kept
