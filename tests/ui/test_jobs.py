"""Slow work in thread workers: what the app shows when a job fails, and what it runs on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pairs_tui.config import AlertRule, AlertSettings, ExportSettings, Settings
from pairs_tui.ui import formatting, jobs
from pairs_tui.ui.screens.backtest import BacktestScreen
from pairs_tui.ui.widgets.stationarity_panel import StationarityPanel

from .conftest import AppFactory, notifications, settle

SIZE = (100, 30)


async def test_a_failed_export_says_why_and_lists_no_file(
    app_for: AppFactory,
    tmp_path: Path,
) -> None:
    (tmp_path / "taken").write_text("a file where the export folder should be")
    settings = Settings(export=ExportSettings(folder="taken/exports"))
    app = app_for(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        failed = [n for n in notifications(app) if n.startswith("export failed: ")]
    assert len(failed) == 1 and "export folder taken/exports: cannot create it" in failed[0]
    assert app.exports == []


async def test_a_failed_backtest_export_says_why_and_leaves_the_backtest_open(
    app_for: AppFactory,
    tmp_path: Path,
) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        (tmp_path / "exports").write_text("a file where the export folder should be")
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, BacktestScreen)
        failed = [n for n in notifications(app) if n.startswith("export failed: ")]
    assert len(failed) == 1 and "export folder exports: cannot create it" in failed[0]
    assert app.exports == []


async def test_stationarity_tests_that_raise_say_so_in_the_panel(
    app_for: AppFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []

    def broken(*args: object, **kwargs: object) -> jobs.WindowTests:
        threads.append(threading.current_thread().name)
        raise RuntimeError("LinAlgError in the lag search")

    monkeypatch.setattr(jobs, "stationarity", broken)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
        panel = str(app.monitor.query_one(StationarityPanel).render())
        assert app.return_code is None  # a failed job does not take the app down
    assert panel == "ADF and cointegration: RuntimeError: LinAlgError in the lag search"
    assert threads and threads[0] != threading.main_thread().name


async def test_a_backtest_closed_before_it_finished_is_not_shown(
    app_for: AppFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    real = jobs.backtest

    def held(request: jobs.BacktestRequest, settings: Settings) -> object:
        release.wait(10)
        return real(request, settings)

    monkeypatch.setattr(jobs, "backtest", held)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BacktestScreen)
        await pilot.press("escape")
        release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, BacktestScreen)
        assert not any(isinstance(s, BacktestScreen) for s in app.screen_stack)
        assert app.return_code is None  # the late result was dropped, not drawn on a gone screen


async def test_the_adf_p_rules_see_the_on_demand_test(app_for: AppFactory) -> None:
    rule = AlertRule(name="tested", metric="adf_p", op="<=", threshold=1.0)
    settings = Settings(alerts=AlertSettings(rules=[rule]), export=ExportSettings(folder="exports"))
    app = app_for(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        latest = app.snapshot().latest
        assert latest is not None and app.snapshot().alerts == ()
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
        fired = app.snapshot().alerts
        panel = str(app.monitor.query_one(StationarityPanel).render())
    assert [event.rule for event in fired] == ["tested"]
    assert fired[0].time == latest.bar.ts  # the window's last bar
    assert f"p {formatting.p_value(fired[0].value)}" in panel  # the p-value the panel shows
