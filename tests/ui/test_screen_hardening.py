"""What a new user found on the screen (issue 15, items 17 to 21), each fixed and held here."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static
from textual.widgets._footer import FooterKey

from pairs_tui.config import AlertRule, AlertSettings, ExportSettings, Settings
from pairs_tui.ui.screens.help import HelpScreen
from pairs_tui.ui.widgets.alert_banner import AlertBanner
from pairs_tui.ui.widgets.alert_list import AlertList
from pairs_tui.ui.widgets.stationarity_panel import StationarityPanel

from .conftest import AppFactory, FixtureSource, notifications, run_command, settle

SMALL = (80, 24)
EVERY_BAR = AlertRule(name="any z", metric="zscore", op="abs>", threshold=0.0, hysteresis=0.0)
"""Fires on every bar with a z-score (never re-arms on the same side: it needs the cross)."""
OFTEN = AlertRule(name="z beyond 0.5", metric="zscore", op="abs>", threshold=0.5, hysteresis=0.4)


def alert_settings(keep: int = 200, rules: list[AlertRule] | None = None) -> Settings:
    return Settings(
        alerts=AlertSettings(rules=rules or [OFTEN], keep=keep, log=""),
        export=ExportSettings(folder="exports"),
    )


# -- 17: the palette finds, lists, mutes and removes alert rules; help names every group ----


async def test_typing_alert_finds_the_alerts_commands(app_for: AppFactory) -> None:
    app = app_for(settings=alert_settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await run_command(app, pilot, "alert", "Alerts: add rule…")
        assert any("type the rule after it" in n for n in notifications(app))
        await run_command(app, pilot, "alerts list", "Alerts: list rules")
        assert any(n == "z beyond 0.5" for n in notifications(app)), notifications(app)


async def test_a_muted_rule_fires_nothing_until_unmuted(app_for: AppFactory) -> None:
    import asyncio

    gate = asyncio.Event()
    app = app_for(FixtureSource(seconds=150, gate=gate), settings=alert_settings(), window=60)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await run_command_live(app, pilot, 'Alerts: mute rule "z beyond 0.5"')
        assert app.alerts is not None and app.alerts.muted == {"z beyond 0.5"}
        before = len(app.snapshot().alerts)
        gate.set()
        await settle(app, pilot)
        assert len(app.snapshot().alerts) == before  # muted: nothing fired
        await run_command(app, pilot, "alerts list", "Alerts: list rules")
        assert "z beyond 0.5 (muted)" in notifications(app)
        await run_command(app, pilot, 'Alerts: unmute rule "z beyond 0.5"')
        assert app.alerts.muted == frozenset()
        await run_command(app, pilot, 'Alerts: remove rule "z beyond 0.5"')
        assert app.alerts.rules == ()


async def run_command_live(app: object, pilot: object, title: str) -> None:
    """The palette while the feed still waits at its gate (``run_command`` would wait for it)."""
    from textual.command import CommandList, CommandPalette
    from textual.pilot import Pilot
    from textual.widgets import Input

    from pairs_tui.ui.app import PairsApp

    assert isinstance(app, PairsApp) and isinstance(pilot, Pilot)
    await pilot.press("ctrl+p")
    await pilot.pause()
    palette = app.screen
    assert isinstance(palette, CommandPalette)
    palette.query_one(Input).value = title
    results = palette.query_one(CommandList)
    for _ in range(100):
        await pilot.pause(0.02)
        index = results.highlighted
        if index is not None and title in str(results.get_option_at_index(index).prompt):
            break
    await pilot.press("enter")
    await pilot.pause()


async def test_help_names_every_palette_group(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(app.screen.query_one(Static).render()).split())
        for group in ("Export", "Timeframe", "Window", "Pair", "Hedge", "Prices", "Run"):
            assert group in text, group
        for group in ("Alerts", "Display", "Theme"):
            assert group in text, group


# -- 18: b in the footer at 80 columns; Screenshot into the export folder, saying where ------


async def test_b_is_in_the_footer_at_80_columns(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        shown = [
            key for key in app.monitor.query(FooterKey) if key.display and key.region.width > 0
        ]
        actions = {key.action for key in shown}
        assert "app.backtest" in actions and "quit" in actions
        right = max(key.region.right for key in shown)
        assert right <= SMALL[0]  # nothing pushed off the edge


async def test_screenshot_goes_to_the_export_folder_and_says_where(
    app_for: AppFactory, tmp_path: Path
) -> None:
    app = app_for()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await run_command(app, pilot, "Screenshot")
        for _ in range(100):
            await pilot.pause(0.02)
            if any(Path("exports").glob("*.svg")):
                break
        await pilot.pause(0.1)
    saved = list((tmp_path / "exports").glob("*.svg"))
    assert len(saved) == 1
    assert any(str(saved[0]) in n for n in notifications(app)), notifications(app)


# -- 19: at 80x24 nothing is cut mid-word, and the alert list keeps a row --------------------


async def test_at_80x24_the_adf_line_breaks_between_tests_not_inside_one(
    app_for: AppFactory,
) -> None:
    app = app_for(window=100)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        panel = app.monitor.query_one(StationarityPanel)
        lines = str(panel.render()).splitlines()
        assert len(lines) == 2 and panel.region.height == 2
        assert lines[0].startswith("ADF") and lines[0].rstrip().endswith("n 100")
        assert lines[1].startswith("coint") and "→" in lines[1]
        assert all(len(line) <= panel.content_size.width for line in lines)


async def test_at_80x24_the_warm_up_lines_are_whole(app_for: AppFactory) -> None:
    app = app_for(window=1000)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        spread = app.monitor.spread.plot.text
        assert "…" not in spread and "(≈" in spread
        assert any(line.strip().startswith("(≈") for line in spread.splitlines())
        panel = app.monitor.query_one(StationarityPanel)
        text = str(panel.render())
        assert len(text.splitlines()) == 1 and text.endswith("more bars")


async def test_at_80x24_the_alert_list_keeps_a_row(app_for: AppFactory) -> None:
    app = app_for(settings=alert_settings())
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        alert_list = app.monitor.query_one(AlertList)
        assert alert_list.region.height == 1
        newest = app.snapshot().alerts[-1]
        assert newest.message in str(alert_list.render())


# -- 21: alerts.keep is what the screen keeps -------------------------------------------------


async def test_the_screen_keeps_alerts_keep_events_and_still_flashes_new_ones(
    app_for: AppFactory,
) -> None:
    import asyncio

    gate = asyncio.Event()
    app = app_for(FixtureSource(seconds=150, gate=gate), settings=alert_settings(keep=2), window=60)
    async with app.run_test(size=(100, 36)) as pilot:
        await pilot.pause()
        app.refresh_now()
        await pilot.pause()
        assert len(app.snapshot().alerts) == 2  # full before the rest of the session
        first = app.snapshot().alerts[-1]
        gate.set()
        await settle(app, pilot)
        events = app.snapshot().alerts
        assert len(events) == 2 and events[-1] != first  # alerts.keep, not 500
        banner = str(app.monitor.query_one(AlertBanner).render())
        assert events[-1].message in banner  # the newest, though the list was full before


async def test_trades_waiting_for_a_refusing_disk_show_on_the_status_line(
    app_for: AppFactory, tmp_path: Path
) -> None:
    import asyncio
    import shutil

    folder = tmp_path / "rec"
    gate = asyncio.Event()  # the source keeps running (a finished run has no recorder left)
    app = app_for(FixtureSource(seconds=150, gate=gate), record=folder)
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(200):  # until the worker has opened the source and built the desk
            if app.running is not None:
                break
            await pilot.pause()
        assert app.running is not None and app.running.recorder is not None
        shutil.rmtree(folder, ignore_errors=True)
        folder.write_text("a file where the recording's folder was\n")  # the disk refuses
        recorder = app.running.recorder
        await recorder.flush()
        assert recorder.failing and recorder.waiting > 0
        app.refresh_numbers(force=True)
        await pilot.pause()
        status = str(app.screen.query_one("StatusLine", Static).render())
        assert f"record: {recorder.waiting:,} trades waiting for the disk" in status
        folder.unlink()  # the disk takes writes again: the line says nothing more
        await recorder.flush()
        app.refresh_numbers(force=True)
        await pilot.pause()
        assert "record:" not in str(app.screen.query_one("StatusLine", Static).render())
        gate.set()
