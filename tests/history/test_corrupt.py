"""A damaged partition is never trusted: named in the log, moved out of the dataset, refetched.
A write cut short leaves the partition as it was."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from history.sample import D0, DAY, MIN, bars, duckdb_rows
from pairs_tui.history.store import COVERED_KEY, HistoryStore

Damage = Callable[[Path], None]


def _file(path: Path, frame: pl.DataFrame, covered: object = None) -> None:
    """Write ``frame`` as the store would (ts as Datetime), with ``covered`` as metadata."""
    meta = None if covered is None else {COVERED_KEY: json.dumps(covered)}
    frame.with_columns(pl.col("ts").cast(pl.Datetime("ms", "UTC"))).write_parquet(
        path, metadata=meta
    )


def truncated(path: Path) -> None:
    """What a write killed half-way would leave without the atomic rename."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def not_parquet(path: Path) -> None:
    path.write_text("ts,open,high,low,close\n1,2,3,4,5\n")


def empty_file(path: Path) -> None:
    path.write_bytes(b"")


def ts_as_integers(path: Path) -> None:
    bars([D0, D0 + MIN]).write_parquet(path)


def a_column_missing(path: Path) -> None:
    _file(path, bars([D0, D0 + MIN]).drop("trades"), [[D0, D0 + 2 * MIN]])


def volume_as_integers(path: Path) -> None:
    _file(path, bars([D0]).with_columns(pl.col("volume").cast(pl.Int64)), [[D0, D0 + MIN]])


def rows_outside_the_date(path: Path) -> None:
    _file(path, bars([D0, D0 + DAY]), None)


def duplicate_starts(path: Path) -> None:
    _file(path, bars([D0, D0 + MIN, D0 + MIN]), [[D0, D0 + 2 * MIN]])


def unsorted_starts(path: Path) -> None:
    _file(path, bars([D0 + MIN, D0]), [[D0, D0 + 2 * MIN]])


def off_the_grid(path: Path) -> None:
    _file(path, bars([D0, D0 + 1_500]), None)


def rows_outside_the_covered_ranges(path: Path) -> None:
    _file(path, bars([D0, D0 + 5 * MIN]), [[D0, D0 + MIN]])


def covered_unreadable(path: Path) -> None:
    bars([D0]).with_columns(pl.col("ts").cast(pl.Datetime("ms", "UTC"))).write_parquet(
        path, metadata={COVERED_KEY: "[[0, oops"}
    )


def covered_beyond_the_date(path: Path) -> None:
    _file(path, bars([D0]), [[D0, D0 + 2 * DAY]])


def null_close(path: Path) -> None:
    _file(path, bars([D0]).with_columns(close=pl.lit(None, pl.Float64)), [[D0, D0 + MIN]])


DAMAGES: list[tuple[Damage, str]] = [
    (truncated, "not a readable Parquet file"),
    (not_parquet, "not a readable Parquet file"),
    (empty_file, "not a readable Parquet file"),
    (ts_as_integers, "columns are ts Int64"),
    (a_column_missing, "not the store's"),
    (volume_as_integers, "volume Int64"),
    (rows_outside_the_date, "rows outside its date"),
    (duplicate_starts, "duplicated or out of order"),
    (unsorted_starts, "duplicated or out of order"),
    (off_the_grid, "off the 60000 ms grid"),
    (rows_outside_the_covered_ranges, "outside the ranges it was fetched for"),
    (covered_unreadable, "covered ranges unreadable"),
    (covered_beyond_the_date, "outside its date"),
    (null_close, "null values"),
]


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    """Two days of 1m bars of BTCUSDT, fully covered."""
    store = HistoryStore(tmp_path / "history")
    store.write("BTCUSDT", "1m", bars([D0 - MIN, D0, D0 + MIN]), [(D0 - MIN, D0 + 2 * MIN)])
    return store


@pytest.mark.parametrize(("damage", "why"), DAMAGES, ids=[d.__name__ for d, _ in DAMAGES])
def test_a_damaged_partition_is_logged_moved_out_and_counted_missing(
    store: HistoryStore, damage: Damage, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = store.path("BTCUSDT", "1m", D0)
    damage(path)

    with caplog.at_level(logging.WARNING, logger="pairs_tui.history"):
        stored = store.load("BTCUSDT", "1m", D0 - MIN, D0 + 2 * MIN)

    # The other date is still trusted; the damaged one is missing whole.
    assert stored.bars["ts"].to_list() == [D0 - MIN]
    assert stored.missing == [(D0, D0 + 2 * MIN)]
    [record] = caplog.records
    assert str(path) in record.getMessage()
    assert why in record.getMessage()
    assert not path.exists()
    [moved] = list(store.quarantine.rglob("*bars.parquet"))
    assert moved.parent.name == "date=2024-10-04"
    # Nothing left in the dataset trips a reader of the whole store.
    scanned = pl.scan_parquet(f"{store.root}/**/*.parquet", hive_partitioning=True).collect()
    assert scanned["ts"].dt.epoch("ms").to_list() == [D0 - MIN]


def test_a_damaged_partition_is_reported_once_then_refilled(
    store: HistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    path = store.path("BTCUSDT", "1m", D0)
    truncated(path)
    with caplog.at_level(logging.WARNING, logger="pairs_tui.history"):
        assert store.missing("BTCUSDT", "1m", D0, D0 + 2 * MIN) == [(D0, D0 + 2 * MIN)]
        assert store.missing("BTCUSDT", "1m", D0, D0 + 2 * MIN) == [(D0, D0 + 2 * MIN)]
        store.write("BTCUSDT", "1m", bars([D0, D0 + MIN], 7.0), [(D0, D0 + 2 * MIN)])

    assert len(caplog.records) == 1
    assert store.read("BTCUSDT", "1m", D0, D0 + DAY)["close"].to_list() == [7.0, 8.0]
    assert store.missing("BTCUSDT", "1m", D0 - MIN, D0 + 2 * MIN) == []


def test_a_write_cut_short_leaves_the_partition_as_it_was(
    store: HistoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.path("BTCUSDT", "1m", D0).read_bytes()
    real_write = pl.DataFrame.write_parquet

    def dies_half_way(self: pl.DataFrame, file: object, **kwargs: object) -> None:
        real_write(self, "/dev/null")  # the work is done, the disk fills up writing it
        assert hasattr(file, "write")
        file.write(before[: len(before) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", dies_half_way)
    with pytest.raises(OSError, match="No space left"):
        store.write("BTCUSDT", "1m", bars([D0 + 2 * MIN], 9.0), [(D0 + 2 * MIN, D0 + 3 * MIN)])
    monkeypatch.undo()

    folder = store.path("BTCUSDT", "1m", D0).parent
    assert [p.name for p in folder.iterdir()] == ["bars.parquet"]
    assert store.path("BTCUSDT", "1m", D0).read_bytes() == before
    assert store.read("BTCUSDT", "1m", D0, D0 + DAY)["close"].to_list() == [101.0, 102.0]
    assert store.missing("BTCUSDT", "1m", D0, D0 + 3 * MIN) == [(D0 + 2 * MIN, D0 + 3 * MIN)]


def test_a_temporary_file_left_by_a_killed_writer_is_invisible_to_every_reader(
    store: HistoryStore,
) -> None:
    folder = store.path("BTCUSDT", "1m", D0).parent
    good = (folder / "bars.parquet").read_bytes()
    (folder / ".bars.parquet.k1ll3d.tmp").write_bytes(good[: len(good) // 3])

    assert store.read("BTCUSDT", "1m", D0 - DAY, D0 + DAY)["ts"].to_list() == [
        D0 - MIN,
        D0,
        D0 + MIN,
    ]
    scanned = pl.scan_parquet(f"{store.root}/**/*.parquet", hive_partitioning=True).collect()
    assert scanned.height == 3
    rows = duckdb_rows(store.root, "count(*)")
    assert rows == [(3,)]
