"""The tick store: one leg's latest trades, field for field, in arrival order."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from pairs_tui.records import Trade
from pairs_tui.ticks import TICK_SCHEMA, TickStore


def trade(i: int) -> Trade:
    time = 1_723_161_256_000 + i
    return Trade("BTCUSDT", time, 61_800.0 + i / 10, 0.001 * (i + 1), i % 3 == 0, i)


def columns(trades: list[Trade]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "time": [t.time for t in trades],
            "price": [t.price for t in trades],
            "qty": [t.qty for t in trades],
            "buyer_maker": [t.buyer_maker for t in trades],
            "id": [t.id for t in trades],
        },
        schema=TICK_SCHEMA,
    )


def test_an_empty_store_reads_as_an_empty_frame_of_the_tick_schema() -> None:
    store = TickStore(max_rows=10)
    assert len(store) == 0
    frame = store.frame()
    assert frame.height == 0 and frame.schema == pl.Schema(TICK_SCHEMA)


def test_every_field_of_every_trade_reads_back_in_arrival_order() -> None:
    store = TickStore(max_rows=100, chunk_rows=4)
    trades = [trade(i) for i in range(10)]  # two sealed chunks and two pending trades
    for t in trades:
        store.append(t)
    assert len(store) == 10
    assert store.frame().equals(columns(trades))


def test_only_the_last_max_rows_trades_are_kept() -> None:
    store = TickStore(max_rows=5, chunk_rows=3)
    trades = [trade(i) for i in range(17)]
    for t in trades:
        store.append(t)
    assert len(store) == 5
    assert store.frame().equals(columns(trades[-5:]))


@given(max_rows=st.integers(1, 30), chunk_rows=st.integers(1, 12), count=st.integers(0, 80))
def test_the_store_is_the_tail_of_the_trades(max_rows: int, chunk_rows: int, count: int) -> None:
    store = TickStore(max_rows=max_rows, chunk_rows=chunk_rows)
    trades = [trade(i) for i in range(count)]
    for t in trades:
        store.append(t)
    assert len(store) == min(count, max_rows)
    assert store.frame().equals(columns(trades[-max_rows:] if trades else []))
