"""A Parquet recording too big to read whole, that cannot be read in windows
(test_parquet_windows), is read a group of files at a time, twice, and replays the same as one
read whole: the same trades in the same order, the same notes and errors, in every layout
(symbol folders, a symbol column, a symbol in the file name). A recording that changes between
the two readings is refused, unless the recorder only added to it."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairs_tui.feed.replay import parquet
from pairs_tui.feed.replay import source as source_module
from pairs_tui.feed.replay.files import ReplayError
from pairs_tui.feed.replay.load import Loaded, load
from pairs_tui.feed.replay.source import ReplaySource
from pairs_tui.feed.replay.stream import StreamedTrades, TradeTable
from pairs_tui.records import Trade
from sources import PAIR

from .conftest import Recorder
from .test_stream import assert_same, loaded, tapes

LAYOUTS = ("folders", "column", "names")


def rows(lines: list[bytes]) -> pl.DataFrame:
    """The trades of a tape's lines, as the recorder writes them (and a symbol column)."""
    data = [msgspec.json.decode(line)["data"] for line in lines]
    return pl.DataFrame(
        {
            "symbol": [d["s"] for d in data],
            "time": [d["T"] for d in data],
            "price": [float(d["p"]) for d in data],
            "qty": [float(d["q"]) for d in data],
            "buyer_maker": [d["m"] for d in data],
            "id": [d.get("a", d.get("t")) for d in data],
        }
    )


def write_recording(folder: Path, files: list[list[bytes]], layout: str) -> list[Path]:
    """The tape's files as Parquet: each file's trades of a symbol in a symbol folder, one file
    with a symbol column each, or a file per symbol named after it."""
    if layout == "column":
        paths = []
        for n, lines in enumerate(files):
            paths.append(folder / f"part-{n}.parquet")
            rows(lines).write_parquet(paths[-1])
        return paths
    paths = []
    for n, lines in enumerate(files):
        for (symbol,), part in rows(lines).group_by("symbol", maintain_order=True):
            if layout == "folders":
                path = folder / "rec" / f"symbol={symbol}" / f"{n:02}.parquet"
            else:
                path = folder / f"{symbol}-{n:02}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            part.drop("symbol").write_parquet(path)
            paths.append(path)
    return [folder / "rec"] if layout == "folders" else paths


def whole_and_streamed(
    files: list[list[bytes]], layout: str, group: int, block: int
) -> tuple[tuple[pl.DataFrame | None, Loaded | str], tuple[pl.DataFrame | None, Loaded | str]]:
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        paths = write_recording(Path(folder), files, layout)
        whole = loaded(paths)
        patch.setattr(parquet, "WHOLE", 0)
        patch.setattr(parquet, "GROUP", group)
        patch.setattr(parquet, "BLOCK", block)
        streamed = loaded(paths)
    return streamed, whole


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tape=tapes(clean=True),
    layout=st.sampled_from(LAYOUTS),
    group=st.integers(0, 60),
    block=st.integers(1, 30),
)
def test_a_recording_in_order_streams_as_it_reads_whole(
    tape: tuple[str, list[list[bytes]]], layout: str, group: int, block: int
) -> None:
    streamed, whole = whole_and_streamed(tape[1], layout, group, block)
    assert isinstance(whole[1], Loaded) and isinstance(whole[1].trades, TradeTable)
    assert isinstance(streamed[1], Loaded)
    assert isinstance(streamed[1].trades, StreamedTrades)  # the path under test
    assert_same(streamed, whole)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tape=tapes(clean=False),
    layout=st.sampled_from(LAYOUTS),
    group=st.integers(0, 60),
    block=st.integers(1, 30),
)
def test_late_trades_copies_and_overlaps_read_in_pieces_give_what_reading_whole_gives(
    tape: tuple[str, list[list[bytes]]], layout: str, group: int, block: int
) -> None:
    assert_same(*whole_and_streamed(tape[1], layout, group, block))


def recording(folder: Path, n: int = 600, *, statistics: bool = True) -> Path:
    """``n`` trades a leg in symbol folders, a file of 100 a leg each, in order; without
    ``statistics`` in the footers, it cannot be read in windows."""
    for leg, symbol in enumerate(PAIR):
        for part in range(n // 100):
            path = folder / "rec" / f"symbol={symbol}" / f"{part:02}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            first = part * 100
            pl.DataFrame(
                {
                    "time": [1723161256000 + 10 * i + leg for i in range(first, first + 100)],
                    "price": [100.0 + leg] * 100,
                    "qty": [0.5] * 100,
                    "buyer_maker": [i % 2 == 0 for i in range(100)],
                    "id": list(range(first, first + 100)),
                }
            ).write_parquet(path, statistics=statistics)
    return folder / "rec"


def replayed(source: ReplaySource) -> list[tuple[str, int, int | None]]:
    sink = Recorder()
    asyncio.run(source.run(sink))
    return [(t.symbol, t.time, t.id) for t in sink.trades]


def test_a_recording_the_recorder_adds_to_replays_what_was_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder rewrites its newest file with more trades while the replay runs: the replay
    reads the trades it checked, and no more."""
    monkeypatch.setattr(parquet, "WHOLE", 0)
    monkeypatch.setattr(parquet, "BLOCK", 40)
    assert_replays_what_was_there(recording(tmp_path))


def assert_replays_what_was_there(folder: Path) -> None:
    """Opens a replay of :func:`recording`'s ``folder``, then rewrites the newest file with one
    trade more, as the recorder does, and asserts that the replay gives the trades it listed."""
    source = ReplaySource([folder], PAIR)
    newest = folder / f"symbol={PAIR[1]}" / "05.parquet"
    before = pl.read_parquet(newest)
    later = before.tail(1).with_columns(pl.col("time") + 10, pl.col("id") + 1)
    pl.concat([before, later]).write_parquet(newest)
    trades = replayed(source)
    assert len(trades) == 1_200 == source.size
    assert trades[-1] == (PAIR[1], 1723161256000 + 10 * 599 + 1, 599)


def refused_after(folder: Path, change: Callable[[], None]) -> str:
    """The error of a replay of ``folder`` (read in pieces) whose files ``change`` alters after
    they were checked."""
    source = ReplaySource([folder], PAIR)
    change()
    with pytest.raises(ReplayError) as error:
        replayed(source)
    return str(error.value)


@pytest.mark.parametrize("group", [0, 200], ids=["a file at a time", "two files at a time"])
def test_a_recording_changed_under_the_replay_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: int
) -> None:
    """Named by the file, or the files read with it."""
    monkeypatch.setattr(parquet, "WHOLE", 0)
    monkeypatch.setattr(parquet, "GROUP", group)
    folder = recording(tmp_path)
    changed = folder / f"symbol={PAIR[0]}" / "02.parquet"
    error = refused_after(
        folder,
        lambda: pl.read_parquet(changed).with_columns(pl.col("id") + 1_000).write_parquet(changed),
    )
    named = changed if not group else f"{changed} to {changed.with_name('03.parquet')}"
    assert error == (
        f"{named}: changed while it was replayed; replay a copy, or a recording that has stopped"
    )


def test_a_file_removed_under_the_replay_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet, "WHOLE", 0)
    folder = recording(tmp_path)
    error = refused_after(folder, (folder / f"symbol={PAIR[1]}" / "03.parquet").unlink)
    assert error.startswith(f"{folder}: cannot read the Parquet data (")


@pytest.mark.parametrize(
    ("group", "reads"),
    [
        (0, [[n] for n in range(6)]),
        (200, [[0, 1], [2, 3], [4, 5]]),
        (250, [[0, 1], [2, 3], [4, 5]]),
    ],
    ids=["a file at a time", "two files at a time", "as many as fit"],
)
def test_a_big_recording_is_read_a_group_of_files_at_a_time(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    group: int,
    reads: list[list[int]],
) -> None:
    """Above ``WHOLE`` rows the trades are not held: each group of a leg's files is read when
    its trades are due, and the other symbols of the recording are counted, not read. (Footers
    without statistics: otherwise the recording is read in windows, test_parquet_windows.)"""
    monkeypatch.setattr(parquet, "GROUP", group)
    folder = recording(tmp_path, statistics=False)
    other = folder / "symbol=XRPUSDT" / "00.parquet"
    other.parent.mkdir()
    pl.read_parquet(folder / f"symbol={PAIR[0]}" / "00.parquet").head(7).write_parquet(other)
    monkeypatch.setattr(parquet, "WHOLE", 1_199)
    caplog.set_level(logging.WARNING, "pairs_tui.feed.replay")
    assert isinstance(load([folder], PAIR).trades, StreamedTrades)
    source = ReplaySource([folder], PAIR)
    assert "skipped 7 rows of other symbols (XRPUSDT 7)" in caplog.text
    read: list[list[int]] = []
    blocks = parquet._Trades.blocks

    def watched(self: parquet._Trades, group: parquet._Group) -> Iterator[pl.DataFrame]:
        read.append([int(Path(path).stem) for path in group.files])
        return blocks(self, group)

    monkeypatch.setattr(parquet._Trades, "blocks", watched)
    sink = Recorder()
    asyncio.run(source.run(sink))
    assert len(sink.trades) == 1_200
    # The legs' files in step, in time.
    assert read == [files for files in reads for _ in PAIR]
    monkeypatch.setattr(parquet, "WHOLE", 1_200)
    assert isinstance(load([folder], PAIR).trades, TradeTable)


def test_a_file_read_is_let_go_once_its_trades_are_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder writes a file every 15 minutes: a replay holds the few files whose trades
    are due, not the last block of every file it has read."""
    monkeypatch.setattr(parquet, "WHOLE", 0)
    monkeypatch.setattr(parquet, "GROUP", 0)
    monkeypatch.setattr(source_module, "CHUNK", 50)  # delivered as it is read
    folder = recording(tmp_path, n=2_000)  # 20 files a leg
    read: list[weakref.ref[pl.DataFrame]] = []
    reread = parquet.ParquetData.reread

    def watched(self: parquet.ParquetData, number: int) -> Iterator[pl.DataFrame]:
        for block in reread(self, number):
            read.append(weakref.ref(block))
            yield block

    monkeypatch.setattr(parquet.ParquetData, "reread", watched)
    source = ReplaySource([folder], PAIR)
    held: list[int] = []

    class Counting(Recorder):
        def on_trade(self, trade: Trade) -> None:
            super().on_trade(trade)
            held.append(sum(ref() is not None for ref in read))

    sink = Counting()
    asyncio.run(source.run(sink))
    assert len(sink.trades) == 4_000 and len(read) == 40
    assert max(held) <= 3


@pytest.mark.parametrize("whole", [True, False], ids=["read whole", "in pieces"])
def test_the_recorders_temporary_files_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole: bool
) -> None:
    """The recorder writes ``….parquet.tmp`` in the partition when it cannot use its hidden
    folder, and a crash can leave one there, cut short: the replay reads the Parquet files."""
    folder = recording(tmp_path)
    (folder / f"symbol={PAIR[0]}" / "06.parquet.tmp").write_bytes(b"PAR1 cut short")
    monkeypatch.setattr(parquet, "WHOLE", 10**9 if whole else 0)
    trades = load([folder], PAIR).trades
    assert trades is not None and trades.height == 1_200
