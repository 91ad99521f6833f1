"""--record: every trade to partitioned Parquet that replays to the same bars, that Polars and
DuckDB read as one dataset, and that a crash leaves readable."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pairs_tui.cli import main
from pairs_tui.config import Options, Settings, UsageError
from pairs_tui.launcher import build_desk
from pairs_tui.pipeline import Pipeline
from pairs_tui.record import RECORD_SCHEMA, Recorder
from pairs_tui.records import Trade
from sources import ENVELOPES, PAIR, ListSource, session_b_trades

FILE_NAME = re.compile(
    r"^symbol=(BTCUSDT|ETHUSDT)/date=\d{4}-\d\d-\d\d/\d{13}-[0-9a-f]{8}\.parquet$"
)
MIDNIGHT = 1_723_161_600_000
"""2024-08-09 00:00:00 UTC; session B crosses it."""


def recorded_frame(folder: Path) -> pl.DataFrame:
    """The folder as one table, the way a user would read it."""
    return pl.scan_parquet(folder, hive_partitioning=True).collect()


def recorded_trades(folder: Path) -> list[Trade]:
    """The recording in trade-time order, as a replay would feed it."""
    frame = recorded_frame(folder).sort("time", "id", maintain_order=True)
    return [
        Trade(s, t, p, q, m, i)
        for s, t, p, q, m, i in frame.select("symbol", *RECORD_SCHEMA).iter_rows()
    ]


def dataset_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Pipeline]:
    """Session B through the real pipeline with --record, as headless mode and the TUI do."""
    folder = tmp_path_factory.mktemp("rec") / "session"
    options = Options(settings=Settings(), symbols=PAIR, record=folder, window=30)
    run = build_desk(options, ListSource(session_b_trades(), yield_every=5_000))
    asyncio.run(run.desk.run())
    return folder, run.pipelines[0]


def test_every_trade_is_recorded_once_in_the_documented_layout(
    recorded: tuple[Path, Pipeline],
) -> None:
    folder, _ = recorded
    names = dataset_files(folder)
    assert names and all(FILE_NAME.match(name) for name in names), names
    assert {name.split("/")[1] for name in names} == {"date=2024-08-08", "date=2024-08-09"}
    assert not list(folder.parent.glob(".session.incoming"))  # the staging folder is gone
    for path in folder.rglob("*.parquet"):
        frame = pl.read_parquet(path)
        assert frame.schema == RECORD_SCHEMA
        assert frame["time"].is_sorted()
        assert path.name.startswith(str(frame["time"][0]))
    trades = session_b_trades()
    frame = recorded_frame(folder)
    assert frame.height == len(trades)
    expected = pl.DataFrame(
        [(t.symbol, t.time, t.price, t.qty, t.buyer_maker, t.id) for t in trades],
        schema={"symbol": pl.String, **RECORD_SCHEMA},
        orient="row",
    )
    assert_frame_equal(
        frame.select(expected.columns).sort("symbol", "time", "id"),
        expected.sort("symbol", "time", "id"),
    )


def test_recording_replayed_gives_the_bars_of_the_run_that_recorded_it(
    recorded: tuple[Path, Pipeline],
) -> None:
    folder, live = recorded
    assert live.status.late == 0
    source = ListSource(recorded_trades(folder), yield_every=5_000)
    again = Pipeline(Settings(), source, PAIR, window=30)
    asyncio.run(again.run())
    for timeframe in ("1s", "1m", "5m"):
        assert_frame_equal(again.history(timeframe), live.history(timeframe))
    assert live.history("1s").height > 300


def test_replay_of_the_recorded_folder_gives_the_same_bars(
    recorded: tuple[Path, Pipeline],
) -> None:
    replay = pytest.importorskip(
        "pairs_tui.feed.replay.source", reason="the replay reader has not landed"
    )
    folder, live = recorded
    source = replay.ReplaySource([folder], PAIR, speed=0)
    again = Pipeline(Settings(), source, PAIR, window=30)
    asyncio.run(again.run())
    assert_frame_equal(again.history("1s"), live.history("1s"))


def test_polars_and_duckdb_read_the_folder_as_one_dataset(
    recorded: tuple[Path, Pipeline],
) -> None:
    folder, _ = recorded
    trades = session_b_trades()
    by_polars = (
        pl.scan_parquet(folder / "**" / "*.parquet", hive_partitioning=True)
        .group_by("symbol")
        .agg(n=pl.len(), volume=pl.col("qty").sum())
        .sort("symbol")
        .collect()
    )
    query = (
        f"SELECT symbol, count(*) AS n, sum(qty) AS volume, min(date) AS first_date "
        f"FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true) "
        f"GROUP BY symbol ORDER BY symbol"
    )
    by_duckdb = duckdb.connect().execute(query).fetchall()
    counts = [(s, sum(1 for t in trades if t.symbol == s)) for s in PAIR]
    assert [(row[0], row[1]) for row in by_duckdb] == counts
    assert list(zip(by_polars["symbol"], by_polars["n"], strict=True)) == counts
    assert str(by_duckdb[0][3]) == "2024-08-08"
    for (_, _, volume, _), polars_volume in zip(by_duckdb, by_polars["volume"], strict=True):
        assert volume == pytest.approx(polars_volume)
    # Partition pruning works on the path columns.
    after_midnight = (
        pl.scan_parquet(folder, hive_partitioning=True)
        .filter(pl.col("date") == pl.date(2024, 8, 9))
        .collect()
    )
    assert after_midnight.height == sum(1 for t in trades if t.time >= MIDNIGHT)


# -- segments, flushes, exit ---------------------------------------------------------------


def trade(symbol: str, time: int, i: int) -> Trade:
    return Trade(symbol, time, 100.0 + i % 7, 0.1 * (i % 5 + 1), i % 2 == 0, i)


async def test_a_flush_rewrites_the_open_file_until_its_slot_ends(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, PAIR, segment_seconds=60)
    start = MIDNIGHT + 5_000
    for i in range(10):
        recorder.on_trade(trade("BTCUSDT", start + i, i))
    await recorder.flush()
    (first,) = tmp_path.rglob("*.parquet")
    assert pl.read_parquet(first).height == 10
    for i in range(10, 25):
        recorder.on_trade(trade("BTCUSDT", start + i, i))
    await recorder.flush()
    assert list(tmp_path.rglob("*.parquet")) == [first]  # the same file, rewritten whole
    assert pl.read_parquet(first)["id"].to_list() == list(range(25))
    sealed = first.read_bytes()
    recorder.on_trade(trade("BTCUSDT", start + 60_000, 25))  # the next minute: a new file
    await recorder.close()
    assert first.read_bytes() == sealed
    assert len(list(tmp_path.rglob("*.parquet"))) == 2
    assert recorder.trades_written == 26


async def test_a_flush_spanning_midnight_splits_by_date(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, PAIR)
    for i, time in enumerate((MIDNIGHT - 2, MIDNIGHT - 1, MIDNIGHT, MIDNIGHT + 1)):
        recorder.on_trade(trade("ETHUSDT", time, i))
    await recorder.close()
    dates = sorted(p.parent.name for p in tmp_path.rglob("*.parquet"))
    assert dates == ["date=2024-08-08", "date=2024-08-09"]


async def test_a_late_trade_joins_the_open_file_which_stays_sorted(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, PAIR, segment_seconds=60)
    times = [MIDNIGHT + 59_000, MIDNIGHT + 61_000, MIDNIGHT + 58_000, MIDNIGHT + 62_000]
    for i, time in enumerate(times):
        recorder.on_trade(trade("BTCUSDT", time, i))
    await recorder.close()
    frames = [pl.read_parquet(p) for p in sorted(tmp_path.rglob("*.parquet"))]
    assert [f["time"].to_list() for f in frames] == [
        [MIDNIGHT + 59_000],
        [MIDNIGHT + 58_000, MIDNIGHT + 61_000, MIDNIGHT + 62_000],
    ]


async def test_a_full_file_is_sealed_within_its_slot(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, PAIR, segment_rows=100)
    for chunk in range(3):
        for i in range(chunk * 60, chunk * 60 + 60):
            recorder.on_trade(trade("BTCUSDT", MIDNIGHT + i, i))
        await recorder.flush()
    await recorder.close()
    sizes = sorted(pl.read_parquet(p).height for p in tmp_path.rglob("*.parquet"))
    assert sizes == [60, 120]


async def test_other_symbols_are_not_recorded(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, PAIR)
    recorder.on_trade(trade("SOLUSDT", MIDNIGHT, 1))
    recorder.on_trade(trade("BTCUSDT", MIDNIGHT, 2))
    await recorder.close()
    assert [p.parent.parent.name for p in tmp_path.rglob("*.parquet")] == ["symbol=BTCUSDT"]


async def test_the_timer_flushes_while_trades_flow_and_exit_writes_the_rest(
    tmp_path: Path,
) -> None:
    recorder = Recorder(tmp_path, PAIR, flush_seconds=0.01)
    async with recorder:
        i = 0
        while recorder.flushes < 3:  # trades keep arriving until the timer has written thrice
            recorder.on_trade(trade(PAIR[i % 2], MIDNIGHT + i, i))
            i += 1
            if i % 50 == 0:
                await asyncio.sleep(0.001)
        on_disk_before_exit = recorder.trades_written
        for j in range(i, i + 500):
            recorder.on_trade(trade(PAIR[j % 2], MIDNIGHT + j, j))
    assert 0 < on_disk_before_exit < i + 500
    assert recorded_frame(tmp_path).height == recorder.trades_written == i + 500


async def test_a_failed_write_is_retried_without_losing_or_doubling_trades(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder(tmp_path, PAIR)
    real = Recorder._put
    failures = iter([True])

    def flaky(self: Recorder, frame: pl.DataFrame, path: Path) -> None:
        if next(failures, False):
            raise OSError(28, "No space left on device")
        real(self, frame, path)

    monkeypatch.setattr(Recorder, "_put", flaky)
    for i in range(10):
        recorder.on_trade(trade("BTCUSDT", MIDNIGHT + i, i))
    await recorder.flush()
    assert recorder.trades_written == 0
    for i in range(10, 20):
        recorder.on_trade(trade("BTCUSDT", MIDNIGHT + i, i))
    await recorder.close()
    assert recorded_frame(tmp_path)["id"].to_list() == list(range(20))


def test_record_folder_that_cannot_be_created_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    options = Options(settings=Settings(), symbols=PAIR, record=blocker / "rec")
    with pytest.raises(UsageError, match=f"--record {blocker / 'rec'}: cannot create it"):
        build_desk(options, ListSource([]))


def test_recorder_rejects_a_slot_that_does_not_divide_a_day(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="divide a day"):
        Recorder(tmp_path, PAIR, segment_seconds=7)


# -- crashes ---------------------------------------------------------------------------------

CRASHING = textwrap.dedent("""
    import asyncio, os, sys
    from pairs_tui import export, record
    from pairs_tui.records import Trade

    folder, mode = sys.argv[1], sys.argv[2]
    real = export.write_temporary

    def write_then_maybe_hang(frame, path, fmt, *, staging=None):
        temporary = real(frame, path, fmt, staging=staging)
        if mode == "mid-write" and recorder.flushes >= 2:
            os.truncate(temporary, os.path.getsize(temporary) // 2)  # cut short
            print("writing", temporary, flush=True)
            sys.stdin.read()  # until killed
        return temporary

    record.write_temporary = write_then_maybe_hang
    recorder = record.Recorder(folder, ["BTCUSDT", "ETHUSDT"], flush_seconds=0.05)

    async def main():
        async with recorder:
            i = 0
            while True:
                for _ in range(200):
                    symbol = ("BTCUSDT", "ETHUSDT")[i % 2]
                    recorder.on_trade(Trade(symbol, 1_723_161_600_000 + i, 100.0, 1.0, True, i))
                    i += 1
                before = recorder.flushes
                await asyncio.sleep(0.002)
                if recorder.flushes != before:
                    print("flushed", recorder.trades_written, i, flush=True)

    asyncio.run(main())
""")


@pytest.mark.parametrize("mode", ["between-writes", "mid-write"])
def test_a_crash_leaves_every_file_readable_and_loses_only_the_last_flush(
    tmp_path: Path,
    mode: str,
) -> None:
    folder = tmp_path / "rec"
    with subprocess.Popen(
        [sys.executable, "-c", CRASHING, str(folder), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        written = sent = 0
        for line in child.stdout:
            if line.startswith("writing"):
                assert not Path(line.split()[1]).is_relative_to(folder)  # staged outside
                break
            _, written_text, sent_text = line.split()
            written, sent = int(written_text), int(sent_text)
            if mode == "between-writes" and written > 1_000:
                break
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL and written > 0
    frame = recorded_frame(folder)  # the directory scan: any stray file would break it
    assert frame.height >= written  # everything reported written survived the crash
    assert frame["id"].n_unique() == frame.height
    # What was lost is what arrived since the last flush that completed.
    assert sorted(frame["id"].to_list()) == list(range(frame.height))
    for path in folder.rglob("*"):
        assert path.is_dir() or path.suffix == ".parquet"
    assert sent >= frame.height


def test_headless_record_then_replay_of_the_folder_prints_the_same_lines(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("pairs_tui.feed.replay", reason="the replay reader has not landed")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)  # no ./config.toml: defaults
    folder = tmp_path / "rec"
    assert (
        main(["--replay", str(ENVELOPES), "--headless", "--window", "30", "--record", str(folder)])
        == 0
    )
    recorded = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert recorded_frame(folder).height == len(session_b_trades())
    assert (
        main(["btcusdt", "ethusdt", "--replay", str(folder), "--headless", "--window", "30"]) == 0
    )
    replayed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(replayed) == len(recorded) > 300
    for a, b in zip(recorded, replayed, strict=True):
        assert {k: v for k, v in a.items() if k != "feed"} == {
            k: v for k, v in b.items() if k != "feed"
        }


def test_ctrl_c_in_headless_demo_writes_every_trade_before_exiting(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    with subprocess.Popen(
        [sys.executable, "-m", "pairs_tui", "--demo", "--headless", "--record", str(folder)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        assert child.stdout is not None
        lines = [json.loads(child.stdout.readline()) for _ in range(3)]
        child.send_signal(signal.SIGINT)
        lines += [json.loads(line) for line in child.stdout]
        child.wait(timeout=30)
    assert child.returncode == 0
    in_bars = sum((line["trades_a"] or 0) + (line["trades_b"] or 0) for line in lines)
    on_disk = recorded_frame(folder)
    assert in_bars > 0 and on_disk.height >= in_bars  # plus those of the bar still open
    assert not (tmp_path / ".rec.incoming").exists()
