"""SVG snapshots of the screens on the recorded session: fixed data, no wall clock, no blink.

Update after a deliberate change with ``pytest tests/ui --snapshot-update`` and look at the
report before committing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from pairs_tui.config import AlertRule, AlertSettings, ExportSettings, Settings
from pairs_tui.ui.app import PairsApp

from .conftest import AppFactory, FixtureSource, settle, wait_for_workers

SnapCompare = Callable[..., bool]
"""pytest-textual-snapshot's ``snap_compare`` fixture."""


def settled(app: PairsApp, *keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """A ``run_before`` that lets the feed finish, presses ``keys`` and waits for workers."""

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
        await wait_for_workers(app)
        app.refresh_now()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(100, 30), (80, 24), (160, 50)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare: SnapCompare, app_for: AppFactory, size: tuple[int, int]) -> None:
    app = app_for()
    assert snap_compare(app, terminal_size=size, run_before=settled(app))


def test_warm_up(snap_compare: SnapCompare, app_for: AppFactory) -> None:
    app = app_for(FixtureSource(seconds=120))
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled(app))


def test_help(snap_compare: SnapCompare, app_for: AppFactory) -> None:
    app = app_for()
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled(app, "question_mark"))


def test_stationarity_panel(snap_compare: SnapCompare, app_for: AppFactory) -> None:
    app = app_for()
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled(app, "a"))


def test_alert(snap_compare: SnapCompare, app_for: AppFactory) -> None:
    rules = [
        AlertRule(name="z beyond 1", metric="zscore", op="abs>", threshold=1.0, hysteresis=0.5)
    ]
    settings = Settings(alerts=AlertSettings(rules=rules), export=ExportSettings(folder="exports"))
    app = app_for(settings=settings)
    assert snap_compare(app, terminal_size=(100, 36), run_before=settled(app))


def test_no_color_ansi_dark_80x24(
    snap_compare: SnapCompare,
    app_for: AppFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    settings = Settings(export=ExportSettings(folder="exports"), alerts=AlertSettings(rules=[]))
    settings.ui.theme = "ansi-dark"
    app = app_for(settings=settings)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled(app))


def test_backtest(snap_compare: SnapCompare, app_for: AppFactory) -> None:
    app = app_for(window=100)  # a window that trades five times on the recorded session
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled(app, "b"))


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_legs_panel(snap_compare: SnapCompare, app_for: AppFactory, size: tuple[int, int]) -> None:
    app = app_for()
    assert snap_compare(app, terminal_size=size, run_before=settled(app, "v"))
