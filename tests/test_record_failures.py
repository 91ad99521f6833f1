"""--record on a disk that refuses writes: trades wait and are counted, writing resumes when it
can, and at exit what is still refused goes to a fallback file and the run exits 1 naming it."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import polars as pl

from pairs_tui.record import Recorder, take_shortfalls
from pairs_tui.records import Trade
from sources import ENVELOPES, PAIR

START = 1_723_161_600_000


def trades(n: int, first: int = 0) -> list[Trade]:
    return [
        Trade(PAIR[i % 2], START + i, 100.0 + i % 7, 0.1, i % 2 == 0, i)
        for i in range(first, first + n)
    ]


def blocked_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A record folder that cannot be created (a file sits where its parent should be)."""
    blocker = tmp_path / "disk"
    blocker.write_text("not a folder\n")
    return blocker, blocker / "rec"


async def test_trades_wait_while_the_folder_refuses_and_are_written_when_it_takes_them(
    tmp_path: Path,
) -> None:
    blocker, folder = blocked_folder(tmp_path)
    recorder = Recorder(folder, PAIR, fallback=tmp_path / "fallback")
    for t in trades(10):
        recorder.on_trade(t)
    await recorder.flush()
    assert recorder.waiting == 10 and recorder.trades_written == 0
    for t in trades(5, first=10):
        recorder.on_trade(t)
    assert recorder.waiting == 15
    blocker.unlink()  # the disk takes writes again
    await recorder.flush()
    assert recorder.waiting == 0 and recorder.trades_written == 15
    await recorder.close()
    assert recorder.shortfall == "" and take_shortfalls() == []
    recorded = pl.scan_parquet(folder, hive_partitioning=True).collect()
    assert sorted(recorded["id"].to_list()) == list(range(15))


async def test_at_exit_refused_trades_go_to_the_fallback_and_are_named(tmp_path: Path) -> None:
    _, folder = blocked_folder(tmp_path)
    fallback = tmp_path / "state" / "unrecorded"
    recorder = Recorder(folder, PAIR, fallback=fallback)
    for t in trades(12):
        recorder.on_trade(t)
    await recorder.close()
    (kept,) = fallback.iterdir()
    assert "12 trades not recorded" in recorder.shortfall and str(kept) in recorder.shortfall
    assert take_shortfalls() == [recorder.shortfall]
    frame = pl.read_parquet(kept)
    assert frame["id"].to_list() == list(range(12))
    assert frame["symbol"].to_list() == [PAIR[i % 2] for i in range(12)]


def run_recording(
    tmp_path: Path, record: Path, file_size_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    argv = ["--replay", str(ENVELOPES), "--headless", "--record", str(record)]
    return subprocess.run(
        [sys.executable, "-m", "pairs_tui", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


def final_error(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("pairs-tui: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def test_headless_record_on_a_full_disk_exits_1_naming_the_lost_trades(tmp_path: Path) -> None:
    # `ulimit -f`: no file may grow past 64 KB, so the bigger segments (and the fallback, on
    # the same limit) cannot be written.
    done = run_recording(tmp_path, tmp_path / "rec", file_size_limit=64 * 1024)
    assert done.returncode == 1, done.stderr[-2000:]
    line = final_error(done.stderr)
    assert "trades not recorded" in line and "lost" in line
    assert "trades waiting" in done.stderr  # the headless log said so while it retried
    assert "Traceback" not in done.stderr


def test_headless_record_that_misses_a_partition_exits_1_naming_the_fallback(
    tmp_path: Path,
) -> None:
    record = tmp_path / "rec"
    record.mkdir()
    (record / "symbol=ETHUSDT").write_text("a file where a partition folder should be\n")
    done = run_recording(tmp_path, record)
    assert done.returncode == 1, done.stderr[-2000:]
    line = final_error(done.stderr)
    (kept,) = (tmp_path / "state" / "pairs-tui" / "unrecorded").iterdir()
    assert "trades not recorded" in line and str(kept) in line
    eth = pl.read_parquet(kept)
    btc = pl.scan_parquet(record / "symbol=BTCUSDT", hive_partitioning=True).collect()
    assert set(eth["symbol"]) == {"ETHUSDT"} and btc.height > 0  # BTC written, ETH diverted
    assert f"{eth.height:,} trades not recorded" in line


async def test_closing_twice_reports_the_refused_trades_once(tmp_path: Path) -> None:
    _, folder = blocked_folder(tmp_path)
    recorder = Recorder(folder, PAIR)  # no fallback: the trades are lost, and said so
    for t in trades(3):
        recorder.on_trade(t)
    await recorder.close()
    await recorder.close()
    (shortfall,) = take_shortfalls()
    assert "3 trades not recorded" in shortfall and "lost" in shortfall
