"""An endless input given to ``--replay`` is refused from its first bytes, in bounded memory."""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

MEMORY_CAP = 2**30
"""Heap the run may use: a reader that slurps an endless input hits it within a second."""


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_CAP, MEMORY_CAP))


def replay(tmp_path: Path, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run(
        [sys.executable, "-m", "pairs_tui", "--replay", str(path), "--headless"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=_cap_memory,
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_refused_at_once(tmp_path: Path) -> None:
    done = replay(tmp_path, Path("/dev/zero"))
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr.count("\n") == 1 and "/dev/zero" in done.stderr


def _feed_forever(fifo: Path, text: bytes, stop: threading.Event) -> None:
    try:
        with open(fifo, "wb") as out:
            while not stop.is_set():
                out.write(text)
    except (BrokenPipeError, OSError):
        pass  # the reader stopped reading: what the test wants


@pytest.mark.parametrize(
    "text",
    [b"1723161257000,61800.3,0.5," * 1000, b'{"symbol":"BTCUSDT","price":1' * 1000],
    ids=["csv", "json"],
)
def test_endless_input_without_line_ends_is_refused(tmp_path: Path, text: bytes) -> None:
    fifo = tmp_path / "endless"
    os.mkfifo(fifo)
    stop = threading.Event()
    writer = threading.Thread(target=_feed_forever, args=(fifo, text, stop), daemon=True)
    writer.start()
    try:
        done = replay(tmp_path, fifo)
    finally:
        stop.set()
        # Unblock a writer still waiting for a reader to open the fifo.
        with open(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK), "rb"):
            pass
        writer.join(5)
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr.count("\n") == 1 and str(fifo) in done.stderr


FIRST_LINES = {
    "csv": b"1723161257000,61800.3,0.5\n",
    "frames": b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161256322,'
    b'"T":1723161256322,"s":"BTCUSDT","a":1,"p":"61800.30","q":"0.006","m":false}}\n',
}


@pytest.mark.parametrize("kind", list(FIRST_LINES))
def test_gzip_that_inflates_to_an_endless_line_is_refused(tmp_path: Path, kind: str) -> None:
    bomb = tmp_path / "bomb.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as out:
        out.write(FIRST_LINES[kind])
        block = b"7" * 2**20
        for _ in range(2048):  # 2 GiB of one line, a few MB on disk
            out.write(block)
    done = replay(tmp_path, bomb)
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr.count("\n") == 1 and "line 2" in done.stderr


@pytest.mark.parametrize("kind", list(FIRST_LINES))
@pytest.mark.parametrize("start", [2, 10_000])
def test_a_regular_file_with_a_line_too_long_is_refused_naming_it(
    tmp_path: Path, kind: str, start: int
) -> None:
    """Frames are read a piece at a time (the error comes as the reader reaches the line, and
    ``start`` puts it wholly inside a piece too); a CSV is checked when it is opened."""
    from pairs_tui.feed.replay.files import MAX_LINE_BYTES, ReplayError, open_input

    path = tmp_path / "long.txt"
    first = FIRST_LINES[kind]
    tail = b"\n" + first * 3
    path.write_bytes(first * start + b"7" * (MAX_LINE_BYTES + 2**20) + tail)
    with pytest.raises(ReplayError) as refused:
        b"".join(open_input(path).pieces())
    assert refused.value.line == start + 1
    assert f"line {start + 1}: longer than" in str(refused.value)
    # A line just under the limit (longer than the half-limit windows the fast check uses)
    # is read, as before the check.
    path.write_bytes(first * start + b" " * (MAX_LINE_BYTES - 2**10) + tail)
    assert b"".join(open_input(path).pieces()) == path.read_bytes()


def test_a_regular_file_of_frames_is_not_read_whole_when_opened(tmp_path: Path) -> None:
    from pairs_tui.feed.replay.files import HEAD_BYTES, PIECE_BYTES, open_input

    path = tmp_path / "frames.ndjson"
    frames = FIRST_LINES["frames"] * (3 * PIECE_BYTES // len(FIRST_LINES["frames"]))
    path.write_bytes(frames)
    opened = open_input(path)
    assert len(opened.data) == HEAD_BYTES
    pieces = list(opened.pieces())
    assert max(map(len, pieces)) <= PIECE_BYTES and b"".join(pieces) == frames
