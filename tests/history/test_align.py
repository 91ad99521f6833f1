"""Two symbols' bars on one grid, as the pipeline takes them (warm start, history backtest)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from history.sample import D0, MIN, bars
from pairs_tui.bars import BarBuilder
from pairs_tui.history.align import pair_bars
from pairs_tui.history.store import BARS_SCHEMA
from pairs_tui.records import Bar, PairBar, Trade


def leg_frame(pairs: list[PairBar], leg: str) -> pl.DataFrame:
    """One leg's traded bars only: what klines of buckets with trades would give."""
    rows = [
        (p.ts, b.open, b.high, b.low, b.close, b.volume, b.trades)
        for p in pairs
        if (b := p.a if leg == "a" else p.b) is not None and b.trades
    ]
    return pl.DataFrame(rows, schema=BARS_SCHEMA, orient="row")


def test_a_leg_is_none_before_its_first_bar_then_forward_filled() -> None:
    a = bars([D0, D0 + MIN, D0 + 3 * MIN])
    b = bars([D0 + 2 * MIN], first_close=50.0)

    got = pair_bars(a, b, D0, D0 + 4 * MIN, MIN)

    assert [p.ts for p in got] == [D0, D0 + MIN, D0 + 2 * MIN, D0 + 3 * MIN]
    assert [p.b for p in got] == [None, None, Bar(49.5, 51.0, 49.0, 50.0, 0.0, 0), Bar.flat(50.0)]
    assert got[2].a == Bar.flat(101.0)
    assert got[3].a == Bar(101.5, 103.0, 101.0, 102.0, 0.5, 2)


def test_a_bar_before_the_range_fills_the_leg_from_the_start() -> None:
    a = bars([D0 - MIN, D0 + MIN])
    got = pair_bars(a, a, D0, D0 + 2 * MIN, MIN)
    assert [p.a for p in got] == [Bar.flat(100.0), Bar(100.5, 102.0, 100.0, 101.0, 0.25, 1)]


def test_the_grid_starts_at_the_first_bar_start_in_the_range() -> None:
    a = bars([D0, D0 + MIN, D0 + 2 * MIN])
    assert [p.ts for p in pair_bars(a, a, D0 + 1, D0 + 2 * MIN + 1, MIN)] == [
        D0 + MIN,
        D0 + 2 * MIN,
    ]


def test_datetime_starts_read_from_parquet_are_taken_as_they_are() -> None:
    a = bars([D0, D0 + MIN])
    as_stored = a.with_columns(pl.col("ts").cast(pl.Datetime("ms", "UTC")))
    assert pair_bars(as_stored, as_stored, D0, D0 + 2 * MIN, MIN) == pair_bars(
        a, a, D0, D0 + 2 * MIN, MIN
    )


def test_no_bars_at_all_is_a_grid_of_empty_legs() -> None:
    none = bars([])
    assert pair_bars(none, none, D0, D0 + 2 * MIN, MIN) == [
        PairBar(D0, None, None),
        PairBar(D0 + MIN, None, None),
    ]


trades = st.lists(
    st.tuples(
        st.sampled_from(["AUSDT", "BUSDT"]),
        st.integers(0, 40_000),
        st.integers(1, 9_999),
        st.integers(1, 500),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(tape=trades, timeframe=st.sampled_from([1_000, 5_000]))
def test_traded_bars_alone_give_back_what_the_bar_builder_makes(
    tape: list[tuple[str, int, int, int]], timeframe: int
) -> None:
    ordered = sorted(tape, key=lambda t: t[1])
    builder = BarBuilder(("AUSDT", "BUSDT"), timeframe)
    builder_bars = builder.add_many(
        Trade(s, D0 + t, price / 100, qty / 1000, False, i)
        for i, (s, t, price, qty) in enumerate(ordered)
    )
    builder_bars += builder.flush()
    start, end = builder_bars[0].ts, builder_bars[-1].ts + timeframe

    got = pair_bars(
        leg_frame(builder_bars, "a"), leg_frame(builder_bars, "b"), start, end, timeframe
    )

    assert got == builder_bars
