"""The bar store on disk: layout, read back by us, Polars and DuckDB, what is missing, merges."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from history.sample import D0, DAY, MIN, bars, duckdb_rows
from pairs_tui.history.store import BARS_SCHEMA, HistoryStore, default_root, history_root


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    return HistoryStore(tmp_path / "history")


def test_bars_written_across_midnight_land_in_one_file_per_date(store: HistoryStore) -> None:
    starts = [D0 - 2 * MIN, D0 - MIN, D0, D0 + MIN]
    store.write("btcusdt", "1m", bars(starts), [(D0 - 2 * MIN, D0 + 2 * MIN)])

    files = sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*.parquet"))
    assert files == [
        "symbol=BTCUSDT/timeframe=1m/date=2024-10-03/bars.parquet",
        "symbol=BTCUSDT/timeframe=1m/date=2024-10-04/bars.parquet",
    ]
    assert store.read("BTCUSDT", "1m", D0 - DAY, D0 + DAY).equals(bars(starts))


def test_read_returns_only_the_range_with_ts_as_int64_ms(store: HistoryStore) -> None:
    starts = [D0 + i * MIN for i in range(10)]
    store.write("BTCUSDT", "1m", bars(starts), [(D0, D0 + 10 * MIN)])

    got = store.read("BTCUSDT", "1m", D0 + 2 * MIN, D0 + 5 * MIN)

    assert got.schema == pl.Schema(BARS_SCHEMA)
    assert got["ts"].to_list() == [D0 + 2 * MIN, D0 + 3 * MIN, D0 + 4 * MIN]
    assert got["close"].to_list() == [102.0, 103.0, 104.0]


def test_polars_reads_the_store_as_hive_partitions(store: HistoryStore) -> None:
    store.write("BTCUSDT", "1m", bars([D0 - MIN, D0]), [(D0 - MIN, D0 + MIN)])
    store.write("ETHUSDT", "1s", bars([D0, D0 + 1000], 3.0), [(D0, D0 + 2000)])

    frame = (
        pl.scan_parquet(f"{store.root}/**/*.parquet", hive_partitioning=True)
        .sort("symbol", "ts")
        .collect()
    )

    assert frame.schema["ts"] == pl.Datetime("ms", "UTC")
    assert frame["symbol"].to_list() == ["BTCUSDT", "BTCUSDT", "ETHUSDT", "ETHUSDT"]
    assert frame["timeframe"].to_list() == ["1m", "1m", "1s", "1s"]
    assert [str(d) for d in frame["date"].to_list()] == [
        "2024-10-03",
        "2024-10-04",
        "2024-10-04",
        "2024-10-04",
    ]
    assert frame["ts"].dt.epoch("ms").to_list() == [D0 - MIN, D0, D0, D0 + 1000]
    assert frame["close"].to_list() == [100.0, 101.0, 3.0, 4.0]
    assert frame["trades"].dtype == pl.Int64


def test_duckdb_reads_the_store_as_hive_partitions(store: HistoryStore) -> None:
    store.write("BTCUSDT", "5m", bars([D0, D0 + 5 * MIN]), [(D0, D0 + 10 * MIN)])

    rows = duckdb_rows(
        store.root,
        "symbol, timeframe, CAST(date AS VARCHAR), epoch_ms(ts), open, close, volume, trades",
        "ORDER BY ts",
    )

    assert rows == [
        ("BTCUSDT", "5m", "2024-10-04", D0, 99.5, 100.0, 0.0, 0),
        ("BTCUSDT", "5m", "2024-10-04", D0 + 5 * MIN, 100.5, 101.0, 0.25, 1),
    ]


def test_an_empty_store_misses_the_whole_range_on_the_grid(store: HistoryStore) -> None:
    assert store.missing("BTCUSDT", "1m", D0 + 1, D0 + 3 * MIN + 1) == [(D0 + MIN, D0 + 4 * MIN)]
    assert store.read("BTCUSDT", "1m", D0, D0 + DAY).is_empty()


def test_missing_is_what_no_write_covered(store: HistoryStore) -> None:
    store.write("BTCUSDT", "1m", bars([D0 + 2 * MIN, D0 + 3 * MIN]), [(D0 + 2 * MIN, D0 + 4 * MIN)])
    store.write("BTCUSDT", "1m", bars([D0 + 7 * MIN]), [(D0 + 7 * MIN, D0 + 8 * MIN)])

    assert store.missing("BTCUSDT", "1m", D0, D0 + 10 * MIN) == [
        (D0, D0 + 2 * MIN),
        (D0 + 4 * MIN, D0 + 7 * MIN),
        (D0 + 8 * MIN, D0 + 10 * MIN),
    ]
    assert store.missing("BTCUSDT", "1m", D0 + 2 * MIN, D0 + 4 * MIN) == []
    assert store.missing("ETHUSDT", "1m", D0 + 2 * MIN, D0 + 4 * MIN) == [
        (D0 + 2 * MIN, D0 + 4 * MIN)
    ]
    assert store.missing("BTCUSDT", "5m", D0, D0 + 10 * MIN) == [(D0, D0 + 10 * MIN)]


def test_a_range_found_empty_is_not_missing_and_reads_back_as_no_bars(store: HistoryStore) -> None:
    # Fetched before the symbol's listing: two days with no kline, then its first bars.
    listing = D0 + DAY + 30 * MIN
    store.write("NEWUSDT", "1m", bars([listing, listing + MIN]), [(D0 - DAY, listing + 2 * MIN)])

    assert store.missing("NEWUSDT", "1m", D0 - DAY, listing + 2 * MIN) == []
    assert store.read("NEWUSDT", "1m", D0 - DAY, listing + 2 * MIN)["ts"].to_list() == [
        listing,
        listing + MIN,
    ]
    everything = pl.scan_parquet(f"{store.root}/**/*.parquet", hive_partitioning=True).collect()
    assert everything.height == 2
    assert len(list(store.root.rglob("*.parquet"))) == 3
    count = duckdb_rows(store.root, "count(*)")
    assert count == [(2,)]


def test_merging_keeps_old_bars_replaces_equal_starts_and_joins_coverage(
    store: HistoryStore,
) -> None:
    store.write("BTCUSDT", "1m", bars([D0, D0 + MIN, D0 + 2 * MIN]), [(D0, D0 + 3 * MIN)])
    newer = bars([D0 + 2 * MIN, D0 + 3 * MIN], first_close=500.0)
    store.write("BTCUSDT", "1m", newer, [(D0 + 2 * MIN, D0 + 4 * MIN)])

    got = store.read("BTCUSDT", "1m", D0, D0 + DAY)
    assert got["ts"].to_list() == [D0, D0 + MIN, D0 + 2 * MIN, D0 + 3 * MIN]
    assert got["close"].to_list() == [100.0, 101.0, 500.0, 501.0]
    assert store.missing("BTCUSDT", "1m", D0, D0 + 4 * MIN) == []
    assert len(list(store.root.rglob("*"))) == 4  # three folders and one file: no temp left


def test_a_file_written_by_another_tool_covers_just_its_rows(store: HistoryStore) -> None:
    path = store.path("BTCUSDT", "1m", D0)
    path.parent.mkdir(parents=True)
    bars([D0, D0 + MIN, D0 + 5 * MIN]).with_columns(
        pl.col("ts").cast(pl.Datetime("ms", "UTC"))
    ).write_parquet(path)

    assert store.read("BTCUSDT", "1m", D0, D0 + DAY)["ts"].to_list() == [D0, D0 + MIN, D0 + 5 * MIN]
    assert store.missing("BTCUSDT", "1m", D0, D0 + 6 * MIN) == [(D0 + 2 * MIN, D0 + 5 * MIN)]


@pytest.mark.parametrize(
    ("frame", "covered", "why"),
    [
        (bars([D0 + 1]), [(D0, D0 + MIN)], "off the 60000 ms grid"),
        (bars([D0, D0]), [(D0, D0 + MIN)], "two bars with one start"),
        (bars([D0 + MIN]), [(D0, D0 + MIN)], "outside the ranges it was fetched for"),
        (bars([D0]), [(D0, D0 + 30_000)], "not on the 1m grid"),
        (bars([D0]).with_columns(close=None), [(D0, D0 + MIN)], "null values"),
        (bars([D0]).drop("trades"), [(D0, D0 + MIN)], "lack the columns trades"),
    ],
)
def test_bad_bars_are_refused_with_the_reason(
    store: HistoryStore, frame: pl.DataFrame, covered: list[tuple[int, int]], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        store.write("BTCUSDT", "1m", frame, covered)
    assert not store.root.exists()


@pytest.mark.parametrize("symbol", ["", "..", "BTC/USDT", "A=B", ".hidden"])
def test_a_symbol_that_cannot_be_a_folder_is_refused(store: HistoryStore, symbol: str) -> None:
    with pytest.raises(ValueError, match="cannot name a history partition"):
        store.read(symbol, "1m", D0, D0 + MIN)


def test_an_unknown_timeframe_is_refused_naming_the_known_ones(store: HistoryStore) -> None:
    with pytest.raises(ValueError, match=r"'15m' is not one the store keeps \(1s, 1m, 5m, 1h\)"):
        store.missing("BTCUSDT", "15m", D0, D0 + MIN)


def test_the_root_defaults_to_the_xdg_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_root() == tmp_path / "cache" / "pairs-tui" / "history"
    assert HistoryStore().root == tmp_path / "cache" / "pairs-tui" / "history"
    assert history_root("") == default_root()

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home" / ".cache" / "pairs-tui" / "history"


def test_the_folder_setting_overrides_the_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_root("~/bars") == tmp_path / "bars"
    assert history_root("/srv/bars") == Path("/srv/bars")
