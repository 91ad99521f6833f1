"""A Parquet recording too big to read whole is read a window of time at a time when its footers
and one reading of its prices, sizes and ids allow it: a window holds the files of both legs
whose times meet, read whole and merged, and the replay is what reading the recording whole
gives, trade for trade, with the same notes. A recording the windows could not read exactly so
is read in groups (test_parquet_stream), and replays the same again."""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairs_tui.feed.replay import parquet
from pairs_tui.feed.replay import source as source_module
from pairs_tui.feed.replay.files import ReplayError
from pairs_tui.feed.replay.load import Loaded, load
from pairs_tui.feed.replay.source import ReplaySource
from pairs_tui.feed.replay.stream import TradeTable, WindowedTrades
from sources import PAIR

from .conftest import Recorder
from .test_parquet_stream import (
    assert_replays_what_was_there,
    recording,
    replayed,
    write_recording,
)
from .test_stream import assert_same, loaded, tapes


def whole_and_windowed(
    files: list[list[bytes]], window: int
) -> tuple[tuple[pl.DataFrame | None, Loaded | str], tuple[pl.DataFrame | None, Loaded | str]]:
    """A tape's files recorded in symbol folders, loaded one row too many to read whole, and
    whole."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        paths = write_recording(Path(folder), files, "folders")
        whole = loaded(paths)
        patch.setattr(parquet, "WHOLE", sum(map(len, files)) - 1)
        patch.setattr(parquet, "WINDOW", window)
        windowed = loaded(paths)
    return windowed, whole


def _rewrite(path: Path, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    change(pl.read_parquet(path)).write_parquet(path)


def _file(rec: Path, leg: int, k: int) -> Path:
    return rec / f"symbol={PAIR[leg]}" / f"{k:02}.parquet"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tape=tapes(clean=True), window=st.integers(1, 60))
def test_a_recording_in_order_reads_in_windows_as_it_reads_whole(
    tape: tuple[str, list[list[bytes]]], window: int
) -> None:
    windowed, whole = whole_and_windowed(tape[1], window)
    assert isinstance(whole[1], Loaded) and isinstance(whole[1].trades, TradeTable)
    assert_same(windowed, whole)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tape=tapes(clean=False), window=st.integers(1, 60))
def test_late_trades_copies_and_overlaps_give_what_reading_whole_gives(
    tape: tuple[str, list[list[bytes]]], window: int
) -> None:
    """Copies and files that share ids keep the windows out; late trades do not."""
    assert_same(*whole_and_windowed(tape[1], window))


def test_a_big_recording_is_read_a_window_of_time_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each leg's files of the same minutes are read together, as many as a window holds, and
    each window only when the trades before it are delivered; other symbols are counted, not
    read."""
    folder = recording(tmp_path)  # 6 files a leg, the two legs' k-th files at the same times
    other = folder / "symbol=XRPUSDT" / "00.parquet"
    other.parent.mkdir()
    pl.read_parquet(_file(folder, 0, 0)).head(7).write_parquet(other)
    monkeypatch.setattr(parquet, "WHOLE", 1_199)
    monkeypatch.setattr(parquet, "WINDOW", 400)
    assert load([folder], PAIR).notes == ["skipped 7 rows of other symbols (XRPUSDT 7)"]
    monkeypatch.setattr(source_module, "CHUNK", 50)  # delivered as it is read
    source = ReplaySource([folder], PAIR)
    sink = Recorder()
    read: list[tuple[list[str], int]] = []
    window = parquet.ParquetData.window

    def watched(self: parquet.ParquetData, number: int) -> pl.DataFrame:
        files = [str(Path(f.path).relative_to(folder)) for f in self.windows[number].files]
        read.append((files, len(sink.trades)))
        return window(self, number)

    monkeypatch.setattr(parquet.ParquetData, "window", watched)
    asyncio.run(source.run(sink))
    assert [files for files, _ in read] == [
        [f"symbol={symbol}/{k:02}.parquet" for symbol in PAIR for k in pair]
        for pair in ((0, 1), (2, 3), (4, 5))
    ]
    # A window is read when the one before is all but delivered (one chunk ahead at most).
    assert [delivered // 50 for _, delivered in read] == [0, 7, 15]
    assert len(sink.trades) == source.size == 1_200
    monkeypatch.setattr(parquet, "WHOLE", 10**9)
    assert replayed(ReplaySource([folder], PAIR)) == [(t.symbol, t.time, t.id) for t in sink.trades]


def _nan_price(rec: Path) -> None:
    _rewrite(_file(rec, 0, 2), lambda f: f.with_columns(f["price"].scatter(5, math.nan)))


def _zero_size(rec: Path) -> None:
    _rewrite(_file(rec, 1, 1), lambda f: f.with_columns(f["qty"].scatter(9, 0.0)))


def _trade_twice(rec: Path) -> None:
    _rewrite(_file(rec, 1, 3), lambda f: pl.concat([f.head(11), f.slice(10)]))


def _id_in_two_files(rec: Path) -> None:
    _rewrite(_file(rec, 0, 4), lambda f: f.with_columns(pl.col("id") - 1))


def _seconds(rec: Path) -> None:
    for path in rec.rglob("*.parquet"):
        _rewrite(path, lambda f: f.with_columns(pl.col("time") // 1_000))


def _one_file_a_leg(rec: Path) -> None:
    for leg in (0, 1):
        parts = [_file(rec, leg, k) for k in range(6)]
        pl.concat(map(pl.read_parquet, parts)).write_parquet(parts[0].with_name("all.parquet"))
        for part in parts:
            part.unlink()


MISSED = {
    "a price that is no number": _nan_price,
    "a size of zero": _zero_size,
    "a trade twice in a file": _trade_twice,
    "an id in two files": _id_in_two_files,
    "times in seconds": _seconds,
    "one file a leg": _one_file_a_leg,
}


@pytest.mark.parametrize("change", list(MISSED.values()), ids=list(MISSED))
def test_what_the_windows_would_miss_is_read_in_groups_as_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[Path], None]
) -> None:
    """A malformed row, a print dropped, a trade twice, a leg's id in two files, times that
    are not ms, or files whose times meet beyond what is read whole: the windows would have
    to note them before the first trade, which only reading it all finds."""
    folder = recording(tmp_path)
    change(folder)
    whole = loaded([folder])
    monkeypatch.setattr(parquet, "WHOLE", 1_199)
    monkeypatch.setattr(parquet, "WINDOW", 400)
    grouped = loaded([folder])
    assert isinstance(grouped[1], Loaded) and not isinstance(grouped[1].trades, WindowedTrades)
    assert_same(grouped, whole)


def test_a_late_trade_in_a_file_is_read_in_windows_as_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trade the recorder got late sits among later ones: its window puts it in its place."""
    folder = recording(tmp_path)
    _rewrite(_file(folder, 0, 2), lambda f: f[[*range(3), 40, *range(4, 40), 3, *range(41, 100)]])
    whole = loaded([folder])
    monkeypatch.setattr(parquet, "WHOLE", 1_199)
    windowed = loaded([folder])
    assert isinstance(windowed[1], Loaded) and isinstance(windowed[1].trades, WindowedTrades)
    assert_same(windowed, whole)


def test_files_that_meet_at_one_millisecond_are_read_in_one_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hedge leg's first file ends at the millisecond the target leg's second starts, where
    the target's trade comes first: a window cut between them would deliver it late."""
    spans = {
        (0, 0): (0, 490),
        (1, 0): (5, 500),
        (0, 1): (500, 990),
        (1, 1): (1000, 1490),
        (0, 2): (1000, 1490),
    }
    for (leg, k), (first, last) in spans.items():
        times = list(range(first, last + 1, 10 if leg == 0 else 5))
        path = tmp_path / "rec" / f"symbol={PAIR[leg]}" / f"{k:02}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(
            {
                "time": [1723161256000 + t for t in times],
                "price": [100.0 + leg] * len(times),
                "qty": [0.5] * len(times),
                "buyer_maker": [False] * len(times),
                "id": [10_000 * k + i for i in range(len(times))],
            }
        ).write_parquet(path)
    whole = loaded([tmp_path / "rec"])
    assert whole[0] is not None
    monkeypatch.setattr(parquet, "WHOLE", whole[0].height - 1)
    monkeypatch.setattr(parquet, "WINDOW", 1)  # a window for every files that meet
    windowed = loaded([tmp_path / "rec"])
    assert isinstance(windowed[1], Loaded) and isinstance(windowed[1].trades, WindowedTrades)
    assert_same(windowed, whole)


@pytest.mark.parametrize("footers", [True, False], ids=["statistics", "no statistics"])
def test_footers_without_statistics_keep_the_windows_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, footers: bool
) -> None:
    monkeypatch.setattr(parquet, "WHOLE", 1_199)
    trades = load([recording(tmp_path, statistics=footers)], PAIR).trades
    assert isinstance(trades, WindowedTrades) is footers
    assert trades is not None and trades.height == 1_200


def test_a_window_changed_under_the_replay_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named by the window's first and last files."""
    monkeypatch.setattr(parquet, "WHOLE", 1_199)
    monkeypatch.setattr(parquet, "WINDOW", 400)
    folder = recording(tmp_path)
    source = ReplaySource([folder], PAIR)
    _rewrite(_file(folder, 1, 2), lambda f: f.with_columns(pl.col("id") + 1_000))
    with pytest.raises(ReplayError) as error:
        replayed(source)
    first, last = _file(folder, 0, 2), _file(folder, 1, 3)
    assert str(error.value) == (
        f"{first} to {last}: changed while it was replayed; replay a copy, or a recording that "
        "has stopped"
    )


def test_a_window_the_recorder_adds_to_replays_what_was_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet, "WHOLE", 1_199)
    folder = recording(tmp_path)
    assert isinstance(load([folder], PAIR).trades, WindowedTrades)
    assert_replays_what_was_there(folder)


def test_a_window_file_removed_under_the_replay_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet, "WHOLE", 1_199)
    folder = recording(tmp_path)
    source = ReplaySource([folder], PAIR)
    _file(folder, 1, 3).unlink()
    with pytest.raises(ReplayError) as error:
        replayed(source)
    assert str(error.value).startswith(f"{folder}: cannot read the Parquet data (")
