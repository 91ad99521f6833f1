"""The merge a block at a time equals the merge in memory: the same trades in the same order,
the same notes and counts, the same errors, over random tapes cut into random blocks."""

from __future__ import annotations

import asyncio
import gc
import gzip
import itertools
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from unittest.mock import patch

import msgspec
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairs_tui.feed.replay import load as load_module
from pairs_tui.feed.replay import ndjson
from pairs_tui.feed.replay.files import ReplayError
from pairs_tui.feed.replay.load import Loaded, load
from pairs_tui.feed.replay.source import ReplaySource
from pairs_tui.feed.replay.stream import Spill, StreamedTrades
from sources import PAIR

from .conftest import Recorder

BASE_MS = 1723161256000


def frame(kind: str, symbol: str, time: int, price: float, qty: float, ident: int) -> bytes:
    """A combined-stream frame of one trade (aggregate or individual)."""
    data: dict[str, object] = {"e": kind, "E": time, "T": time, "s": symbol, "p": str(price)}
    data |= {"q": str(qty), "m": ident % 3 == 0}
    if kind == "aggTrade":
        data |= {"a": ident, "f": ident, "l": ident}
    else:
        data |= {"t": ident, "X": "MARKET"}
    return msgspec.json.encode({"stream": f"{symbol.lower()}@{kind}", "data": data})


@st.composite
def tapes(draw: st.DrawFn, *, clean: bool) -> tuple[str, list[list[bytes]]]:
    """The lines of one to three files of both legs.

    Clean: each leg in order of time and id in every file, and the files cut from one tape, so
    no two share a trade. Otherwise some trades of a leg come late, some twice, or a file
    repeats part of another.
    """
    kind = draw(st.sampled_from(["aggTrade", "trade"]))
    legs = []
    for symbol in PAIR:
        n = draw(st.integers(1, 40))
        steps = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
        gaps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 5]), min_size=n, max_size=n))
        prices = draw(st.lists(st.sampled_from([100.0, 100.5]), min_size=n, max_size=n))
        time, ident, rows = BASE_MS, 1_000, []
        for step, gap, price in zip(steps, gaps, prices, strict=True):
            time, ident = time + step, ident + gap
            rows.append((time, frame(kind, symbol, time, price, 0.5, ident)))
        legs.append(rows)
    # Interleave the legs in any way, each in its own order: a recording of two streams.
    order = draw(st.permutations([0] * len(legs[0]) + [1] * len(legs[1])))
    taken = [iter(legs[0]), iter(legs[1])]
    lines = [next(taken[leg])[1] for leg in order]
    if not clean:
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if draw(st.booleans()):
                lines[i], lines[j] = lines[j], lines[i]  # late (or early) trades
            else:
                lines.insert(j, lines[i])  # a copy
    cuts = sorted(draw(st.lists(st.integers(1, len(lines) - 1), max_size=2, unique=True)))
    bounds = [0, *cuts, len(lines)]
    files = [lines[a:b] for a, b in itertools.pairwise(bounds)]
    if not clean and draw(st.booleans()):
        source = draw(st.sampled_from(files))
        files.append(source[: draw(st.integers(1, len(source)))])  # overlapping recordings
    return kind, files


def loaded(paths: list[Path]) -> tuple[pl.DataFrame | None, Loaded | str]:
    """The merged trades and what was noted, or the error."""
    try:
        result = load(paths, PAIR)
    except ReplayError as error:
        return None, str(error)
    assert result.trades is not None
    return pl.concat(list(result.trades.batches())), result


def write_files(folder: Path, files: list[list[bytes]], names: list[str], gz: bool) -> list[Path]:
    paths = []
    for name, lines in zip(names, files, strict=False):
        body = b"\n".join(lines) + b"\n"
        path = folder / (name + (".ndjson.gz" if gz else ".ndjson"))
        path.write_bytes(gzip.compress(body) if gz else body)
        paths.append(path)
    return paths


def both_ways(
    tape: tuple[str, list[list[bytes]]], block: int, gz: bool, names: list[str]
) -> tuple[tuple[pl.DataFrame | None, Loaded | str], tuple[pl.DataFrame | None, Loaded | str]]:
    """Load the tape's files as the replay does, and with the merge forced into memory."""
    _, files = tape
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        paths = write_files(Path(folder), files, names, gz)
        patch.setattr(ndjson, "_BLOCK", block)
        streamed = loaded(paths)
        patch.setattr(load_module, "streamable", lambda runs: False)
        in_memory = loaded(paths)
    return streamed, in_memory


def assert_same(
    streamed: tuple[pl.DataFrame | None, Loaded | str],
    in_memory: tuple[pl.DataFrame | None, Loaded | str],
) -> None:
    (got, got_loaded), (want, want_loaded) = streamed, in_memory
    if isinstance(want_loaded, str) or isinstance(got_loaded, str):
        assert got_loaded == want_loaded
        return
    assert got is not None and want is not None
    assert got.equals(want)
    assert got_loaded.trades is not None
    assert got_loaded.trades.height == want.height
    assert got_loaded.trades.last_time == want["time"][-1]
    assert (got_loaded.notes, got_loaded.gaps, got_loaded.malformed) == (
        want_loaded.notes,
        want_loaded.gaps,
        want_loaded.malformed,
    )


names = st.permutations(["a", "b", "c", "d"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tape=tapes(clean=True), block=st.integers(40, 2_000), gz=st.booleans(), order=names)
def test_files_in_order_are_merged_a_block_at_a_time_as_in_memory(
    tape: tuple[str, list[list[bytes]]], block: int, gz: bool, order: list[str]
) -> None:
    streamed, in_memory = both_ways(tape, block, gz, order)
    assert isinstance(streamed[1], Loaded)
    assert isinstance(streamed[1].trades, StreamedTrades)  # this is the path under test
    assert_same(streamed, in_memory)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tape=tapes(clean=False), block=st.integers(40, 2_000), gz=st.booleans(), order=names)
def test_late_trades_copies_and_overlaps_give_what_the_merge_in_memory_gives(
    tape: tuple[str, list[list[bytes]]], block: int, gz: bool, order: list[str]
) -> None:
    assert_same(*both_ways(tape, block, gz, order))


def test_trades_and_aggregates_of_one_symbol_are_refused_when_streamed(tmp_path: Path) -> None:
    agg = tmp_path / "agg.ndjson"
    agg.write_bytes(
        frame("aggTrade", "BTCUSDT", BASE_MS, 100.0, 1.0, 7)
        + b"\n"
        + frame("aggTrade", "ETHUSDT", BASE_MS, 100.0, 1.0, 8)
        + b"\n"
    )
    trades = tmp_path / "trades.ndjson"
    trades.write_bytes(frame("trade", "BTCUSDT", BASE_MS + 5, 100.0, 1.0, 70) + b"\n")
    with pytest.raises(ReplayError) as error:
        load([trades, agg], PAIR)
    assert str(error.value) == (
        "BTCUSDT comes as individual trades ("
        + str(trades)
        + ") and as aggregate trades ("
        + str(agg)
        + "); replay one kind per symbol"
    )


def tape(path: Path, n: int) -> Path:
    """``n`` aggregate trades, the legs alternating, three a millisecond, written to ``path``."""
    lines = [
        frame("aggTrade", PAIR[i % 2], BASE_MS + i // 3, 100.0 + i % 5, 0.5, 100 + i)
        for i in range(n)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def open_in(folder: Path) -> list[str]:
    """The files this process holds open in ``folder`` (as ``/proc`` names them)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed since
            continue
        if target.startswith(f"{folder}/"):
            held.append(target)
    return held


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_streamed_replay_replays_twice_and_leaves_no_spill_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spill is a file without a name in the temporary folder (TMPDIR), open as long as the
    replay lives."""
    spills = tmp_path / "tmp"
    spills.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spills))
    monkeypatch.setattr(ndjson, "_BLOCK", 300)
    source = ReplaySource([tape(tmp_path / "tape.ndjson", 200)], PAIR)
    assert len(open_in(spills)) == 1 and list(spills.iterdir()) == []
    runs = []
    for _ in range(2):
        sink = Recorder()
        asyncio.run(source.run(sink))
        runs.append([(t.symbol, t.time, t.price, t.id) for t in sink.trades])
    assert runs[0] == runs[1] and len(runs[0]) == 200
    assert [time for _, time, _, _ in runs[0]] == sorted(BASE_MS + i // 3 for i in range(200))
    del source
    gc.collect()
    assert open_in(spills) == [] and list(spills.iterdir()) == []


KILLED = """
import sys
from pathlib import Path
from pairs_tui.feed.replay import ndjson
from pairs_tui.feed.replay.load import load
ndjson._BLOCK = 300
loaded = load([Path(sys.argv[1])], ("BTCUSDT", "ETHUSDT"))
print(type(loaded.trades).__name__, flush=True)
sys.stdin.read()
"""


def test_a_killed_replay_leaves_no_spill_behind(tmp_path: Path) -> None:
    """A replay killed with no chance to clean up (SIGKILL, the OOM killer) leaves nothing in
    the temporary folder: its spills had no name to leave."""
    spills = tmp_path / "tmp"
    spills.mkdir()
    path = tape(tmp_path / "tape.ndjson", 2_000)
    env = {**os.environ, "TMPDIR": str(spills)}
    with subprocess.Popen(
        [sys.executable, "-c", KILLED, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "StreamedTrades"  # read, and spilled
        child.kill()
        assert child.wait() == -signal.SIGKILL
    assert list(spills.iterdir()) == []


def test_files_that_follow_one_another_are_read_back_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten files of consecutive trades: each is read back from its spill only when its trades
    are due, so the merge holds a file or two at a time, not all ten."""
    monkeypatch.setattr(ndjson, "_BLOCK", 3_000)
    whole = tape(tmp_path / "whole", 2_000).read_bytes().splitlines(keepends=True)
    paths = []
    for i in range(10):
        paths.append(tmp_path / f"part-{i}.ndjson")
        paths[-1].write_bytes(b"".join(whole[i * 200 : (i + 1) * 200]))
    opened: list[Spill] = []
    blocks = Spill.blocks

    def watched(spill: Spill) -> Iterator[pl.DataFrame]:
        opened.append(spill)  # on the first block read back
        yield from blocks(spill)

    monkeypatch.setattr(Spill, "blocks", watched)
    trades = load(paths, PAIR).trades
    assert isinstance(trades, StreamedTrades)
    delivered = []
    for batch in trades.batches():
        delivered.extend(batch["id"].to_list())
        assert len(opened) <= len(delivered) // 200 + 2
    in_order = sorted(range(2_000), key=lambda i: (i // 3, i % 2))  # by time, then leg
    assert delivered == [100 + i for i in in_order] and len(opened) == 10


def held_in_memory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    n: int,
    trouble: AbstractContextManager[object],
) -> None:
    """A replay of ``n`` trades, read while ``trouble`` keeps its spill off the disk, streamed
    them all, the same as without it, and said it held them."""
    monkeypatch.setattr(ndjson, "_BLOCK", 2_000)
    path = tape(tmp_path / "tape.ndjson", n)
    want, _ = loaded([path])
    with trouble:
        got, result = loaded([path])
    assert isinstance(result, Loaded) and isinstance(result.trades, StreamedTrades)
    assert got is not None and want is not None and got.equals(want) and got.height == n
    assert "cannot spill" in caplog.text and "holding the trades in memory" in caplog.text


@contextmanager
def file_size_limit(size: int) -> Iterator[None]:
    """``ulimit -f``: a file written past ``size`` bytes is refused."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_spill_the_disk_refuses_is_held_in_memory_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A file size limit (``ulimit -f``) stops the spill part way: the replay is the same."""
    held_in_memory(tmp_path, monkeypatch, caplog, 3_000, file_size_limit(20_000))
    assert "cannot spill to" in caplog.text


def test_no_temporary_folder_holds_the_trades_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """TMPDIR names a folder that is not there: the replay still runs, from memory."""
    gone = patch.object(tempfile, "tempdir", str(tmp_path / "gone"))
    held_in_memory(tmp_path, monkeypatch, caplog, 1_000, gone)
