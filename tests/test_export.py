"""Exports: ticks, bars and analytics of the session, named by pair, timeframe and UTC time,
written all or nothing — an export that fails or is killed halfway leaves no file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pairs_tui import export
from pairs_tui.config import Settings
from pairs_tui.export import (
    ANALYTICS_COLUMNS,
    BAR_COLUMNS,
    ExportError,
    export_session,
    take_session,
    with_datetimes,
    write_session,
)
from pairs_tui.pipeline import Pipeline
from sources import PAIR, ListSource, session_b_trades

NOW = datetime(2026, 11, 22, 10, 15, 0, tzinfo=UTC)
STAMP = "20261122T101500Z"


@pytest.fixture(scope="module")
def session() -> Pipeline:
    """Session B run through the real pipeline, once for the module."""
    pipeline = Pipeline(Settings(), ListSource(session_b_trades()), PAIR, window=30)
    asyncio.run(pipeline.run())
    return pipeline


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_parquet_export_holds_ticks_bars_and_analytics(
    session: Pipeline,
    tmp_path: Path,
) -> None:
    paths = export_session(session, tmp_path, "parquet", now=NOW)
    assert [p.name for p in paths] == [
        f"BTCUSDT-ETHUSDT_1s_{kind}_{STAMP}.parquet" for kind in ("ticks", "bars", "analytics")
    ]
    assert files(tmp_path) == sorted(p.name for p in paths)
    ticks, bars, analytics = (pl.read_parquet(p) for p in paths)
    assert_frame_equal(ticks, with_datetimes(session.ticks()))
    assert ticks.height == len(session_b_trades())
    history = session.history()
    assert bars.columns == list(BAR_COLUMNS) and analytics.columns == list(ANALYTICS_COLUMNS)
    assert bars.columns[:7] == [
        "ts",
        "open_a",
        "high_a",
        "low_a",
        "close_a",
        "volume_a",
        "trades_a",
    ]
    assert_frame_equal(bars, with_datetimes(history.select(BAR_COLUMNS)))
    assert_frame_equal(analytics, with_datetimes(history.select(ANALYTICS_COLUMNS)))


def test_exported_times_are_utc_datetimes_not_integers(session: Pipeline, tmp_path: Path) -> None:
    ticks, bars, analytics = (pl.read_parquet(p) for p in export_session(session, tmp_path))
    utc_ms = pl.Datetime("ms", "UTC")
    assert bars.schema["ts"] == utc_ms and analytics.schema["ts"] == utc_ms
    assert ticks.schema["time"] == utc_ms
    first = session.history()["ts"][0]
    assert bars["ts"][0] == datetime.fromtimestamp(first / 1000, UTC)


def test_csv_export_reads_back_the_same_values(session: Pipeline, tmp_path: Path) -> None:
    ticks, bars, analytics = export_session(session, tmp_path, "csv", now=NOW)
    assert bars.name == f"BTCUSDT-ETHUSDT_1s_bars_{STAMP}.csv"
    expected_bars = with_datetimes(session.history().select(BAR_COLUMNS))
    assert_frame_equal(pl.read_csv(bars, schema=expected_bars.schema), expected_bars)
    expected_ticks = with_datetimes(session.ticks())
    assert_frame_equal(pl.read_csv(ticks, schema=expected_ticks.schema), expected_ticks)
    assert pl.read_csv(analytics).columns == list(ANALYTICS_COLUMNS)


def test_export_follows_the_active_timeframe(session: Pipeline, tmp_path: Path) -> None:
    session.set_timeframe("1m")
    try:
        _, bars, _ = export_session(session, tmp_path, "parquet", now=NOW)
    finally:
        session.set_timeframe("1s")
    assert bars.name == f"BTCUSDT-ETHUSDT_1m_bars_{STAMP}.parquet"
    frame = pl.read_parquet(bars)
    assert frame.height == session.history("1m").height
    assert (frame["ts"].dt.epoch("ms") % 60_000 == 0).all()


def test_a_second_export_in_the_same_second_does_not_replace_the_first(
    session: Pipeline,
    tmp_path: Path,
) -> None:
    first = export_session(session, tmp_path, "csv", now=NOW)
    second = export_session(session, tmp_path, "csv", now=NOW)
    assert second[1].name == f"BTCUSDT-ETHUSDT_1s_bars_{STAMP}-2.csv"
    assert len(files(tmp_path)) == 6 and all(p.exists() for p in first)


def test_export_into_a_new_nested_folder_creates_it(
    session: Pipeline,
    tmp_path: Path,
) -> None:
    paths = export_session(session, tmp_path / "a" / "b", "parquet", now=NOW)
    assert all(p.parent == tmp_path / "a" / "b" for p in paths)


def test_failure_inside_the_writer_leaves_nothing_and_names_the_path(
    session: Pipeline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = export._write_frame

    def fail_on_bars(frame: pl.DataFrame, out: IO[bytes], fmt: export.ExportFormat) -> None:
        real(frame, out, fmt)
        if "_bars_" in str(out.name):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "_write_frame", fail_on_bars)
    with pytest.raises(ExportError) as caught:
        export_session(session, tmp_path, "parquet", now=NOW)
    bars = tmp_path / f"BTCUSDT-ETHUSDT_1s_bars_{STAMP}.parquet"
    assert str(caught.value).startswith(f"export to {bars} failed:")
    assert "No space left on device" in str(caught.value)
    assert files(tmp_path) == []  # not the ticks file either, nor a temporary file


def test_folder_that_cannot_be_made_is_an_export_error(
    session: Pipeline,
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "exports"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ExportError, match=f"export folder {blocker / 'x'}: cannot create it"):
        export_session(session, blocker / "x", "csv", now=NOW)


KILLED_HALFWAY = textwrap.dedent("""
    import os, sys
    from datetime import UTC, datetime
    from pathlib import Path

    from pairs_tui import export
    from pairs_tui.config import Settings
    from pairs_tui.feed.status import FeedStatus
    from pairs_tui.pipeline import Pipeline
    from pairs_tui.records import Trade

    class Quiet:
        status = FeedStatus(state="replay")
        def exchange_now_ms(self):
            return None

    pipeline = Pipeline(Settings(), Quiet(), ("BTCUSDT", "ETHUSDT"))
    for i in range(50_000):
        symbol = ("BTCUSDT", "ETHUSDT")[i % 2]
        time = 1_723_161_256_000 + i * 7
        pipeline.on_trade(Trade(symbol, time, 100.0 + i % 13, 0.5, i % 3 == 0, i))
    real = export._write_frame

    def stuck(frame, out, fmt):
        real(frame, out, fmt)
        if "_bars_" in out.name:
            out.flush()
            os.truncate(out.fileno(), out.tell() // 2)  # half of it on disk
            print(out.name, flush=True)
            sys.stdin.read()  # until killed

    export._write_frame = stuck
    export.export_session(pipeline, Path(sys.argv[1]), sys.argv[2],
                          now=datetime(2026, 11, 22, 10, 15, tzinfo=UTC))
    print("finished", flush=True)
""")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_killed_halfway_leaves_no_partial_file(
    session: Pipeline,
    tmp_path: Path,
    fmt: str,
) -> None:
    folder = tmp_path / "exports"
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_HALFWAY, str(folder), fmt],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        stuck = Path(child.stdout.readline().strip())  # the bars file is half-written now
        assert stuck.parent == folder and stuck.stat().st_size > 0
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    left = files(folder)
    # The ticks file was complete and the bars file half-written; neither has a final name.
    assert left and all(name.startswith(".") and name.endswith(".tmp") for name in left)
    assert f".BTCUSDT-ETHUSDT_1s_bars_{STAMP}.{fmt}.{child.pid}-" in " ".join(left)
    # The next export into the folder removes what the killed process left, and succeeds.
    paths = export_session(session, folder, fmt, now=NOW)  # type: ignore[arg-type]
    assert files(folder) == sorted(p.name for p in paths)


async def test_frames_can_be_written_in_a_worker_thread(
    session: Pipeline,
    tmp_path: Path,
) -> None:
    frames = take_session(session)
    paths = await asyncio.to_thread(write_session, frames, tmp_path, "parquet", now=NOW)
    assert all(p.exists() for p in paths)
    assert os.listdir(tmp_path) and pl.read_parquet(paths[0]).height == frames.ticks.height
