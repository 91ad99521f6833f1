"""The bar builder against an independent Polars computation on real trades, and its rules."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairs_tui.bars import BarAggregator, BarBuilder
from pairs_tui.records import Bar, PairBar, Trade
from sources import PAIR, session_b_trades


def reference_bars(trades: list[Trade], tf_ms: int) -> pl.DataFrame:
    """Bars computed the obvious way: group by bucket, put both legs on one grid, forward fill."""
    df = (
        pl.DataFrame(
            [(t.symbol, t.time, t.price, t.qty) for t in trades],
            schema={"symbol": pl.String, "time": pl.Int64, "price": pl.Float64, "qty": pl.Float64},
            orient="row",
        )
        .with_row_index("seq")
        .with_columns(ts=pl.col("time") - pl.col("time") % tf_ms)
    )
    first, last = df.select(first=pl.col("ts").min(), last=pl.col("ts").max()).row(0)
    grid = pl.DataFrame({"ts": pl.int_range(first, last + tf_ms, tf_ms, eager=True)})
    legs = []
    for leg, symbol in zip("ab", PAIR, strict=True):
        bars = (
            df.filter(pl.col("symbol") == symbol)
            .sort("time", "seq")
            .group_by("ts", maintain_order=True)
            .agg(
                open=pl.col("price").first(),
                high=pl.col("price").max(),
                low=pl.col("price").min(),
                close=pl.col("price").last(),
                volume=pl.col("qty").sum(),
                trades=pl.len().cast(pl.Int64),
            )
        )
        filled = (
            grid.join(bars, on="ts", how="left")
            .sort("ts")
            .with_columns(pl.col("close").forward_fill())
            .with_columns(
                pl.col("open", "high", "low").fill_null(pl.col("close")),
                pl.col("volume").fill_null(0.0),
                pl.col("trades").fill_null(0),
            )
        )
        legs.append(filled.rename({c: f"{c}_{leg}" for c in filled.columns if c != "ts"}))
    return legs[0].join(legs[1], on="ts").sort("ts")


def to_frame(bars: list[PairBar]) -> pl.DataFrame:
    rows = []
    for bar in bars:
        row: dict[str, object] = {"ts": bar.ts}
        for leg, b in (("a", bar.a), ("b", bar.b)):
            for name in ("open", "high", "low", "close", "volume", "trades"):
                row[f"{name}_{leg}"] = None if b is None else getattr(b, name)
        rows.append(row)
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def trades() -> list[Trade]:
    return session_b_trades()


@pytest.mark.parametrize("tf_ms", [1_000, 60_000])
def test_session_b_bars_equal_independent_computation(trades: list[Trade], tf_ms: int) -> None:
    builder = BarBuilder(PAIR, tf_ms)
    bars = builder.add_many(trades) + builder.flush()
    ours = to_frame(bars)
    expected = reference_bars(trades, tf_ms).select(ours.columns)
    assert builder.late == 0
    assert ours.height == expected.height
    volumes = ["volume_a", "volume_b"]
    assert ours.drop(volumes).equals(expected.drop(volumes))
    # Volumes are float sums: Polars adds pairwise, the builder in trade order.
    for column in volumes:
        assert ours[column].to_list() == pytest.approx(expected[column].to_list(), rel=1e-12)


def test_one_minute_bars_folded_from_seconds_equal_bars_from_trades(trades: list[Trade]) -> None:
    seconds = BarBuilder(PAIR, 1_000)
    folder = BarAggregator(60_000, 1_000)
    folded = [
        m for b in seconds.add_many(trades) + seconds.flush() if (m := folder.add(b)) is not None
    ]
    direct = BarBuilder(PAIR, 60_000)
    minutes = direct.add_many(trades) + direct.flush()
    # The last minute of the session is incomplete, so the folder has not closed it.
    assert len(folded) == len(minutes) - 1
    for ours, expected in zip(folded, minutes, strict=False):
        assert ours.ts == expected.ts
        for leg, other in ((ours.a, expected.a), (ours.b, expected.b)):
            assert leg is not None and other is not None
            assert (leg.open, leg.high, leg.low, leg.close, leg.trades) == (
                other.open,
                other.high,
                other.low,
                other.close,
                other.trades,
            )
            assert leg.volume == pytest.approx(other.volume, rel=1e-12)


def test_every_trade_is_in_a_bar_or_counted_late(trades: list[Trade]) -> None:
    builder = BarBuilder(PAIR, 1_000)
    bars = builder.add_many(trades) + builder.flush()
    in_bars = sum(b.a.trades + b.b.trades for b in bars if b.a and b.b)
    assert in_bars + builder.late == len(trades)


def trade(symbol: str, time: int, price: float, qty: float = 1.0) -> Trade:
    return Trade(symbol, time, price, qty, False)


def test_empty_bucket_repeats_previous_close_with_zero_volume() -> None:
    builder = BarBuilder(PAIR, 1_000)
    out = builder.add_many(
        [
            trade("BTCUSDT", 100, 10.0),
            trade("ETHUSDT", 200, 5.0),
            trade("BTCUSDT", 3_100, 11.0),
            trade("ETHUSDT", 3_200, 6.0),
        ]
    )
    assert [b.ts for b in out] == [0, 1_000, 2_000]
    assert out[1].a == Bar.flat(10.0) and out[2].b == Bar.flat(5.0)
    assert out[1].a.volume == 0 and out[1].a.trades == 0


def test_bar_waits_for_both_legs_to_trade_past_its_end() -> None:
    builder = BarBuilder(PAIR, 1_000)
    assert builder.add(trade("BTCUSDT", 500, 10.0)) == []
    assert builder.add(trade("BTCUSDT", 1_500, 10.5)) == []  # ETH has not traded past 1000
    out = builder.add(trade("ETHUSDT", 1_000, 5.0))  # a trade exactly at the end is past it
    assert [b.ts for b in out] == [0]
    assert out[0].b is None  # ETH had no price yet in [0, 1000)


def test_exchange_clock_finalises_after_grace() -> None:
    builder = BarBuilder(PAIR, 1_000, grace_ms=250)
    builder.add(trade("BTCUSDT", 500, 10.0))
    builder.add(trade("ETHUSDT", 600, 5.0))
    assert builder.advance(1_249) == []
    (bar,) = builder.advance(1_250)
    assert bar.ts == 0 and bar.a is not None and bar.a.close == 10.0


def test_trade_after_its_bar_is_final_is_counted_late_and_kept_out() -> None:
    builder = BarBuilder(PAIR, 1_000)
    builder.add_many([trade("BTCUSDT", 100, 10.0), trade("ETHUSDT", 100, 5.0)])
    builder.advance(2_000)
    assert builder.add(trade("BTCUSDT", 900, 99.0)) == []
    assert builder.late == 1
    builder.add_many([trade("BTCUSDT", 2_100, 10.0), trade("ETHUSDT", 2_100, 5.0)])
    (bar,) = builder.flush()
    assert bar.a is not None and bar.a.high == 10.0


def test_hold_makes_bars_wait_until_released() -> None:
    builder = BarBuilder(PAIR, 1_000)
    builder.add_many([trade("BTCUSDT", 100, 10.0), trade("ETHUSDT", 100, 5.0)])
    builder.hold("ETHUSDT", 1_500)
    out = builder.add_many([trade("BTCUSDT", 3_100, 10.0), trade("ETHUSDT", 3_100, 5.0)])
    assert [b.ts for b in out] == [0]  # [1000, 2000) holds 1500: it waits
    builder.add(trade("ETHUSDT", 1_600, 5.5))  # the backfilled trade is in time
    out = builder.release("ETHUSDT")  # both legs traded past 3000 already
    assert [b.ts for b in out] == [1_000, 2_000]
    assert out[0].b is not None and out[0].b.close == 5.5
    assert builder.late == 0


def test_hold_expires_after_timeout() -> None:
    builder = BarBuilder(PAIR, 1_000, hold_timeout_ms=5_000)
    builder.add_many([trade("BTCUSDT", 100, 10.0), trade("ETHUSDT", 100, 5.0)])
    builder.hold("ETHUSDT", 500, exchange_now_ms=1_000)
    assert builder.advance(5_999) == []
    assert [b.ts for b in builder.advance(6_001)][:2] == [0, 1_000]


def test_trades_before_first_final_bar_may_arrive_out_of_order() -> None:
    builder = BarBuilder(PAIR, 1_000)
    builder.add(trade("ETHUSDT", 2_100, 5.0))
    builder.add(trade("BTCUSDT", 1_100, 10.0))  # earlier bucket, nothing final yet: not late
    out = builder.add_many([trade("BTCUSDT", 3_000, 10.0), trade("ETHUSDT", 3_000, 5.0)])
    assert [b.ts for b in out] == [1_000, 2_000]
    assert builder.late == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(PAIR), st.integers(0, 20_000), st.floats(1.0, 100.0)),
        min_size=1,
        max_size=60,
    ),
    st.lists(st.integers(0, 25_000), max_size=5),
)
def test_every_trade_is_accounted_for_in_any_order(
    raw: list[tuple[str, int, float]],
    clock_ticks: list[int],
) -> None:
    builder = BarBuilder(PAIR, 1_000)
    bars: list[PairBar] = []
    ticks = sorted(clock_ticks)
    for i, (symbol, time, price) in enumerate(raw):
        if ticks and i % 7 == 3:
            bars += builder.advance(ticks.pop(0))
        bars += builder.add(trade(symbol, time, price))
    bars += builder.flush()
    in_bars = sum((b.a.trades if b.a else 0) + (b.b.trades if b.b else 0) for b in bars)
    assert in_bars + builder.late == len(raw)
    stamps = [b.ts for b in bars]
    assert stamps == list(range(stamps[0], stamps[0] + 1_000 * len(stamps), 1_000))
