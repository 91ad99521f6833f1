"""The tick store: one leg's latest trades, field for field, in arrival order."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairs_tui import ticks
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


# -- the C appender (pairs_tui._columns) against the Python appends ---------------------------


class Print(Trade, frozen=True, gc=False):
    """A record of another class than Trade: the appender reads it with getattr."""


records = st.builds(
    lambda cls, i, price, maker: cls("BTCUSDT", 1_723_161_256_000 + i, price, 0.5, maker, i),
    st.sampled_from([Trade, Print]),
    st.integers(0, 2**40),
    st.one_of(st.floats(0, 1e9), st.integers(0, 10**6)),  # an int price becomes a float
    st.booleans(),
)


def python_store(max_rows: int, chunk_rows: int) -> TickStore:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ticks, "_Appender", None)
        return TickStore(max_rows=max_rows, chunk_rows=chunk_rows)


@pytest.mark.skipif(ticks._Appender is None, reason="built without a C compiler")
@settings(max_examples=300, deadline=None)
@given(
    max_rows=st.integers(1, 40),
    chunk_rows=st.integers(1, 12),
    steps=st.lists(st.one_of(records, st.integers(0, 5)), max_size=120),
)
def test_the_c_appender_keeps_what_the_python_appends_keep(
    max_rows: int, chunk_rows: int, steps: list[Trade | int]
) -> None:
    """Trades one at a time (through :attr:`TickStore.appender` and :meth:`TickStore.append`)
    and batches as frames, in any order: the same frame, row for row and dtype for dtype."""
    fast, slow = TickStore(max_rows, chunk_rows), python_store(max_rows, chunk_rows)
    assert fast.appender != fast.append and slow.appender == slow.append
    for i, step in enumerate(steps):
        for store in (fast, slow):
            if isinstance(step, Trade):
                (store.appender if i % 2 else store.append)(step)
            elif step:
                store.extend(columns([trade(i * 10 + k) for k in range(step)]))
        assert len(fast) == len(slow)
    assert fast.frame().equals(slow.frame())
    assert fast.frame().schema == pl.Schema(TICK_SCHEMA)


@pytest.mark.skipif(ticks._Appender is None, reason="built without a C compiler")
def test_the_c_appender_reads_attributes_as_getattr_does() -> None:
    from pairs_tui._columns import Appender

    sealed: list[tuple[list[object], ...]] = []
    appender = Appender(Trade, ("time", "id"), 2, lambda: sealed.append(appender.take()))
    appender.append(trade(1))
    appender.append(Print("X", 5, 1.0, 1.0, True, 6))
    appender.append(SimpleNamespace(time=7, id=8))  # any object with the attributes
    assert sealed == [([1_723_161_256_001, 5], [1, 6])]
    assert appender.columns == ([7], [8])
    with pytest.raises(AttributeError):
        appender.append(SimpleNamespace(time=9))
    # An error leaves the columns as far as the appends got, as the Python appends would.
    assert appender.columns == ([7, 9], [8])
