"""Properties of the bar builder under the orders a faulty feed produces.

A backfill delivers a gap's trades after the live trade that revealed it; the two legs arrive
interleaved in any order; a reconnect can leave silences of any length. Whatever the order, a
bar must be the bar of its trades: open and close by trade time, never by arrival.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairs_tui.bars import BarBuilder
from pairs_tui.records import Bar, PairBar, Trade

PAIR = ("BTCUSDT", "ETHUSDT")
TF = 1_000


@st.composite
def leg(draw: st.DrawFn, symbol: str) -> list[Trade]:
    """One leg's trades as the exchange prints them: ids contiguous, times non-decreasing,
    with pauses from none to many buckets long."""
    n = draw(st.integers(1, 40))
    steps = draw(
        st.lists(st.one_of(st.integers(0, 300), st.integers(0, 9_000)), min_size=n, max_size=n)
    )
    prices = draw(st.lists(st.floats(1.0, 1_000.0, allow_nan=False), min_size=n, max_size=n))
    start = draw(st.integers(0, 3_000))
    first_id = draw(st.integers(1, 10**9))
    out, t = [], start
    for i, (step, price) in enumerate(zip(steps, prices, strict=True)):
        t += step
        out.append(Trade(symbol, t, price, 0.5 + i % 3, i % 2 == 0, first_id + i))
    return out


def merged_by_time(a: list[Trade], b: list[Trade]) -> list[Trade]:
    """The two legs in trade-time order, each leg's own order kept (a stable sort)."""
    return sorted(a + b, key=lambda t: t.time)


def bars_of(trades: list[Trade]) -> tuple[list[PairBar], int]:
    builder = BarBuilder(PAIR, TF)
    return builder.add_many(trades) + builder.flush(), builder.late


def assert_same_bars(ours: list[PairBar], expected: list[PairBar]) -> None:
    assert [b.ts for b in ours] == [b.ts for b in expected]
    for got, want in zip(ours, expected, strict=True):
        for g, w in ((got.a, want.a), (got.b, want.b)):
            assert (g is None) == (w is None)
            if g is not None and w is not None:
                assert (g.open, g.high, g.low, g.close, g.trades) == (
                    w.open,
                    w.high,
                    w.low,
                    w.close,
                    w.trades,
                ), got.ts
                assert g.volume == pytest.approx(w.volume, rel=1e-12)


def test_backfilled_trade_arriving_after_a_later_one_is_not_the_close() -> None:
    builder = BarBuilder(PAIR, TF)
    builder.add_many(
        [Trade("BTCUSDT", 100, 10.0, 1.0, False, 1), Trade("ETHUSDT", 100, 5.0, 1.0, False, 1)]
    )
    builder.hold("BTCUSDT", 100)
    # Live id 4 reveals the gap 2-3; the backfill delivers 2 and 3 after it.
    builder.add(Trade("BTCUSDT", 900, 13.0, 1.0, False, 4))
    builder.add(Trade("BTCUSDT", 300, 11.0, 1.0, False, 2))
    builder.add(Trade("BTCUSDT", 600, 12.0, 1.0, False, 3))
    builder.add(Trade("ETHUSDT", 1_500, 5.0, 1.0, False, 2))
    builder.add(Trade("BTCUSDT", 1_500, 14.0, 1.0, False, 5))
    (bar,) = builder.release("BTCUSDT")
    assert bar.a == Bar(10.0, 13.0, 10.0, 13.0, 4.0, 4)


def test_backfilled_trade_arriving_before_the_bucket_opener_is_the_open() -> None:
    builder = BarBuilder(PAIR, TF)
    builder.add(Trade("ETHUSDT", 100, 5.0, 1.0, False, 1))
    builder.add(Trade("BTCUSDT", 700, 13.0, 1.0, False, 9))
    builder.add(Trade("BTCUSDT", 200, 11.0, 1.0, False, 8))  # earlier, arrived later
    (bar, *_) = builder.add_many(
        [Trade("BTCUSDT", 1_100, 1.0, 1.0, False, 10), Trade("ETHUSDT", 1_100, 1.0, 1.0, False, 2)]
    )
    assert bar.a is not None and (bar.a.open, bar.a.close) == (11.0, 13.0)


@settings(max_examples=100, deadline=None)
@given(a=leg("BTCUSDT"), b=leg("ETHUSDT"), data=st.data())
def test_legs_interleaved_in_any_order_make_the_same_bars_and_nothing_late(
    a: list[Trade], b: list[Trade], data: st.DataObject
) -> None:
    # Each leg in its own order (one socket per symbol stream), the legs interleaved at random:
    # what receive order across two streams looks like.
    choices = data.draw(st.permutations([0] * len(a) + [1] * len(b)))
    queues = [list(a), list(b)]
    arrival = [queues[c].pop(0) for c in choices]
    ours, late = bars_of(arrival)
    expected, _ = bars_of(merged_by_time(a, b))
    assert late == 0
    assert_same_bars(ours, expected)


@settings(max_examples=100, deadline=None)
@given(a=leg("BTCUSDT"), b=leg("ETHUSDT"), data=st.data())
def test_a_held_backfill_in_any_order_fills_its_bars_exactly(
    a: list[Trade], b: list[Trade], data: st.DataObject
) -> None:
    merged = merged_by_time(a, b)
    k = data.draw(st.integers(0, len(merged)), label="delivered before the gap")
    before, after = merged[:k], merged[k:]
    builder = BarBuilder(PAIR, TF)
    bars = builder.add_many(before)
    # As the feed does on a gap or a reconnect: hold each leg from its last delivered trade.
    for symbol in PAIR:
        times = [t.time for t in before if t.symbol == symbol]
        builder.hold(symbol, times[-1] if times else 0)
    for trade in data.draw(st.permutations(after), label="arrival after the gap"):
        bars += builder.add(trade)
    for symbol in PAIR:
        bars += builder.release(symbol)
    bars += builder.flush()
    expected, _ = bars_of(merged)
    assert builder.late == 0
    assert_same_bars(bars, expected)


@settings(max_examples=100, deadline=None)
@given(
    trades=st.lists(
        st.tuples(
            st.sampled_from(PAIR), st.integers(0, 30_000), st.floats(1.0, 100.0), st.integers(0, 50)
        ),
        max_size=80,
    ),
    ticks=st.lists(st.integers(0, 40_000), max_size=8),
)
def test_any_order_and_any_clock_gives_well_formed_bars_and_accounts_for_every_trade(
    trades: list[tuple[str, int, float, int]], ticks: list[int]
) -> None:
    builder = BarBuilder(PAIR, TF)
    bars: list[PairBar] = []
    clock = sorted(ticks)
    for i, (symbol, t, price, trade_id) in enumerate(trades):
        if clock and i % 5 == 2:
            bars += builder.advance(clock.pop(0))
        bars += builder.add(Trade(symbol, t, price, 1.0, False, trade_id))
    bars += builder.flush()
    in_bars = sum((bar.a.trades if bar.a else 0) + (bar.b.trades if bar.b else 0) for bar in bars)
    assert in_bars + builder.late == len(trades)
    stamps = [bar.ts for bar in bars]
    assert stamps == list(range(stamps[0], stamps[0] + TF * len(stamps), TF)) if stamps else True
    for bar in bars:
        for side in (bar.a, bar.b):
            if side is None:
                continue
            assert side.low <= min(side.open, side.close) <= max(side.open, side.close)
            assert max(side.open, side.close) <= side.high
            assert side.volume == side.trades  # every trade here has quantity 1
            if side.trades == 0:
                assert side.open == side.high == side.low == side.close
