"""Every key of the app, pressed the way a user does, on the recorded session."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Static

from pairs_tui.config import Settings
from pairs_tui.ui import jobs
from pairs_tui.ui.screens.help import HelpScreen
from pairs_tui.ui.widgets.stationarity_panel import StationarityPanel
from pairs_tui.ui.widgets.status_line import StatusLine

from .conftest import AppFactory, FixtureSource, notifications, screen_text, settle

SIZE = (100, 30)


async def test_number_keys_switch_the_timeframe(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for key, timeframe in (("2", "1m"), ("3", "5m"), ("1", "1s")):
            await pilot.press(key)
            assert app.snapshot().timeframe == timeframe
            assert f"ETHUSDT   {timeframe}   window" in screen_text(app)


async def test_plus_and_minus_change_the_window_within_bounds(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("plus")
        assert app.snapshot().window == 375
        await pilot.press("minus", "minus")
        assert app.snapshot().window == 240
        assert "window 240" in screen_text(app)
        await pilot.press(*["minus"] * 30)
        assert app.snapshot().window == 20


async def test_a_runs_the_tests_off_the_ui_thread_and_fills_the_panel(
    app_for: AppFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    real = jobs.stationarity
    threads: list[str] = []

    def held(*args: object, **kwargs: object) -> jobs.WindowTests:
        threads.append(threading.current_thread().name)
        release.wait(10)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jobs, "stationarity", held)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        panel = app.monitor.query_one(StationarityPanel)
        assert str(panel.render()).startswith("running ADF and cointegration on 300 bars")
        await pilot.press("2")  # the screen still answers while the tests run
        assert app.snapshot().timeframe == "1m"
        release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = str(panel.render())
        assert "ADF  stat" in text and "coint  stat" in text and "→" in text
        assert "lags" in text and "n 300" in text and "1s, 300 bars to 00:00:00" in text
    assert threads and threads[0] != threading.main_thread().name


async def test_a_before_the_window_is_full_says_how_many_bars_are_missing(
    app_for: AppFactory,
) -> None:
    app = app_for(FixtureSource(seconds=60))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        panel = str(app.monitor.query_one(StationarityPanel).render())
        assert "needs a full window" in panel and "more bars" in panel


async def test_p_freezes_the_plots_while_the_counters_keep_counting(app_for: AppFactory) -> None:
    gate = asyncio.Event()
    source = FixtureSource(seconds=100, gate=gate)
    app = app_for(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.refresh_now()
        frozen_bars = app.snapshot().bar_count
        await pilot.press("p")
        assert app.paused and "PAUSED" in screen_text(app)
        plot = app.monitor.zscore.plot.text
        price = str(app.monitor.leg_a.query_one(".price", Static).render())
        gate.set()
        await app.workers.wait_for_complete()
        app.refresh_numbers(force=False)
        app._counters_at = 0.0  # the counters' next redraw is due now
        app.refresh_numbers()
        app.refresh_plots()
        await pilot.pause()
        bars = app.snapshot().bar_count
        assert bars > frozen_bars
        status = str(app.monitor.query_one(StatusLine).render())
        assert f"bars {bars:,}" in status and "display paused (p)" in status
        assert app.monitor.zscore.plot.text == plot  # the market on screen stays still
        assert str(app.monitor.leg_a.query_one(".price", Static).render()) == price
        await pilot.press("p")
        assert not app.paused
        assert app.monitor.zscore.plot.text != plot
        assert f"bars {app.snapshot().bar_count:,}" in screen_text(app)


async def test_question_mark_lists_every_key(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("Static").render())
        for key, words in (
            ("1", "1-second"),
            ("2", "1-minute"),
            ("3", "5-minute"),
            ("+ =", "Widen"),
            ("-", "Narrow"),
            ("a", "ADF"),
            ("b", "Backtest"),
            ("e", "Export"),
            ("p", "Pause"),
            ("?", "This screen"),
            ("^p", "palette"),
            ("q", "Quit"),
        ):
            assert any(line.startswith(key) and words in line for line in text.splitlines()), key
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_keys_remapped_in_config_work_and_show_in_help(app_for: AppFactory) -> None:
    settings = Settings(keys={"timeframe_1m": "m", "help": "f1"})
    app = app_for(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        assert app.snapshot().timeframe == "1m"
        await pilot.press("2")
        assert app.snapshot().timeframe == "1m"
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("Static").render())
        assert any(line.startswith("m ") and "1-minute" in line for line in text.splitlines())


async def test_ctrl_p_opens_the_palette(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        assert not isinstance(app.screen, CommandPalette)


async def test_q_quits(app_for: AppFactory) -> None:
    app = app_for(FixtureSource(hang=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_e_exports_ticks_bars_and_analytics_and_says_where(
    app_for: AppFactory,
    tmp_path: Path,
) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        written = sorted(p.name for p in (tmp_path / "exports").iterdir())
        assert len(written) == 3 and all(name.endswith(".parquet") for name in written)
        assert {name.split("_")[2] for name in written} == {"ticks", "bars", "analytics"}
        assert [p.name for p in app.exports] and set(written) == {p.name for p in app.exports}
        assert any("ticks, bars, analytics → " in n for n in notifications(app))


async def test_ctrl_c_quits_as_the_product_promises(app_for: AppFactory) -> None:
    app = app_for(FixtureSource(hang=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0
