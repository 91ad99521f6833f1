"""--demo starts warm: a z-score on the first screens at 1s, and at once after pressing 2 and 3.

How fast is measured by ``python -m benchmarks warm`` (not here: no timed tests); here the
app must get there, with the embedded exchange's hours of history, through its own feed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pairs_tui.cli import parse_options
from pairs_tui.ui.app import PairsApp
from pairs_tui.ui.run import make_app

WAIT_S = 30.0


async def until(pilot: Pilot[None], holds: Callable[[], bool]) -> None:
    """Let the app run until ``holds()`` (checked after each of its refreshes)."""
    async with asyncio.timeout(WAIT_S):
        while not holds():
            await pilot.pause(0.05)


def has_zscore(app: PairsApp, timeframe: str) -> bool:
    snap = app.snapshot()
    latest = snap.latest
    return snap.timeframe == timeframe and latest is not None and latest.stats.zscore is not None


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PairsApp:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return make_app(parse_options(["--demo"]))


async def test_the_demo_shows_a_zscore_at_every_timeframe_without_waiting_a_window(
    demo: PairsApp,
) -> None:
    async with demo.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: has_zscore(demo, "1s"))  # once the klines are in
        await until(pilot, lambda: demo.snapshot().history.state == "done")  # and the stitch
        snap = demo.snapshot()
        assert snap.history.done == snap.history.total == 6
        assert snap.window == 300 and snap.bar_count > 300  # the window came from history
        await pilot.press("2")
        assert has_zscore(demo, "1m")  # no fetch on a switch: every timeframe was loaded
        await pilot.press("3")
        assert has_zscore(demo, "5m")
        assert demo.pipeline is not None and demo.pipeline.history("5m").height >= 301


async def test_the_demo_never_writes_its_made_up_bars_into_the_history_store(
    demo: PairsApp, tmp_path: Path
) -> None:
    async with demo.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: demo.snapshot().history.state == "done")
    store = tmp_path / "cache" / "pairs-tui" / "history"
    assert not store.exists() or not any(store.rglob("*.parquet"))
