"""The bounded table: what goes in comes out, oldest first, and only the last ``max_rows``."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from pairs_tui.table import RollingTable

SCHEMA = {"ts": pl.Int64, "close": pl.Float64, "side": pl.String}


def row(i: int) -> tuple[object, ...]:
    return (i, i * 0.5, "buy" if i % 2 else "sell")


def rows_frame(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def test_an_empty_table_reads_as_an_empty_frame_of_its_schema() -> None:
    table = RollingTable(SCHEMA, max_rows=10)
    frame = table.frame()
    assert len(table) == 0
    assert frame.height == 0 and frame.schema == pl.Schema(SCHEMA)


def test_appended_rows_read_back_in_order_before_and_after_a_chunk_is_sealed() -> None:
    table = RollingTable(SCHEMA, max_rows=100, chunk_rows=4)
    table.append(row(0))
    assert table.frame().equals(rows_frame([row(0)]))  # still pending in Python
    for i in range(1, 10):
        table.append(row(i))
    assert len(table) == 10
    assert table.frame().equals(rows_frame([row(i) for i in range(10)]))


def test_only_the_last_max_rows_are_kept() -> None:
    table = RollingTable(SCHEMA, max_rows=5, chunk_rows=2)
    for i in range(23):
        table.append(row(i))
    assert len(table) == 5
    assert table.frame()["ts"].to_list() == [18, 19, 20, 21, 22]


def test_tail_reads_the_newest_rows_and_never_more_than_max_rows() -> None:
    table = RollingTable(SCHEMA, max_rows=6, chunk_rows=4)
    for i in range(9):
        table.append(row(i))
    assert table.frame(tail=2)["ts"].to_list() == [7, 8]
    assert table.frame(tail=50)["ts"].to_list() == [3, 4, 5, 6, 7, 8]


def test_extend_keeps_the_pending_rows_before_the_batch() -> None:
    table = RollingTable(SCHEMA, max_rows=100, chunk_rows=10)
    table.append(row(0))
    table.extend([[1, 2], [0.5, 1.0], ["buy", "sell"]])
    table.append(row(3))
    assert table.frame()["ts"].to_list() == [0, 1, 2, 3]


def test_an_empty_batch_adds_nothing() -> None:
    table = RollingTable(SCHEMA, max_rows=10)
    table.extend([[], [], []])
    assert len(table) == 0 and table.frame().height == 0


def test_values_are_cast_to_the_schema() -> None:
    table = RollingTable(SCHEMA, max_rows=10, chunk_rows=1)
    table.append((1, 2, "buy"))  # an int close becomes a float
    assert table.frame().schema == pl.Schema(SCHEMA)
    assert table.frame()["close"].to_list() == [2.0]


def test_clear_drops_every_row() -> None:
    table = RollingTable(SCHEMA, max_rows=10, chunk_rows=3)
    for i in range(7):
        table.append(row(i))
    table.clear()
    assert len(table) == 0 and table.frame().height == 0
    table.append(row(42))
    assert table.frame()["ts"].to_list() == [42]


# One operation: ("append", n) appends n rows one by one; ("extend", n) appends n as one batch.
operations = st.lists(
    st.tuples(st.sampled_from(["append", "extend"]), st.integers(0, 12)), max_size=25
)


@given(
    max_rows=st.integers(1, 40),
    chunk_rows=st.integers(1, 16),
    ops=operations,
    tail=st.one_of(st.none(), st.integers(0, 50)),
)
def test_the_table_is_the_tail_of_everything_appended(
    max_rows: int,
    chunk_rows: int,
    ops: list[tuple[str, int]],
    tail: int | None,
) -> None:
    table = RollingTable(SCHEMA, max_rows=max_rows, chunk_rows=chunk_rows)
    added: list[tuple[object, ...]] = []
    for kind, n in ops:
        batch = [row(len(added) + i) for i in range(n)]
        if kind == "append":
            for r in batch:
                table.append(r)
        else:
            table.extend([list(column) for column in zip(*batch, strict=True)] or [[], [], []])
        added.extend(batch)
    keep = max_rows if tail is None else min(tail, max_rows)
    expected = added[-keep:] if keep else []
    assert len(table) == min(len(added), max_rows)
    assert table.frame(tail).equals(rows_frame(expected))
