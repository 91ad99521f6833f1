"""The scanner screen (``s``): the scan over a real socket against the embedded exchange, its
progress, the ranked table, sorting by a heading, Enter handing the pair to the app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Footer, ProgressBar
from textual.widgets._footer import FooterKey
from textual.widgets.data_table import ColumnKey

from pairs_tui.cli import parse_options
from pairs_tui.config import Settings
from pairs_tui.config.settings import HistorySettings, ScanSettings, UiSettings
from pairs_tui.exchange.market import simulated_market
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.ui.app import PairsApp
from pairs_tui.ui.run import make_app
from pairs_tui.ui.screens.monitor import MonitorScreen
from pairs_tui.ui.screens.scanner import ScannerScreen

from .conftest import (
    AppFactory,
    FixtureSource,
    notifications,
    run_command,
    screen_text,
    settle,
    wait_for_workers,
)

START_MS = 1_764_892_800_000
SYMBOLS = ["ETHUSDT", "BTCUSDT", "SOLUSDT", "AVAXUSDT"]
SnapCompare = Callable[..., bool]


def scan_settings(tmp_path: Path) -> Settings:
    return Settings(
        scan=ScanSettings(symbols=SYMBOLS, bars=300),
        history=HistorySettings(folder=str(tmp_path / "history")),
    )


async def exchange() -> EmbeddedExchange:
    market = simulated_market(start_ms=START_MS, past_s=6 * 3_600, duration_s=1.0)
    ex = EmbeddedExchange(market, speed=0, wait_for_subscriber=False)
    await ex.start()
    await asyncio.wait_for(ex.finished.wait(), 20)
    return ex


def column(table: DataTable[Text], key: str) -> list[str]:
    return [str(cell) for cell in table.get_column(key)]


async def test_s_scans_sorts_and_enter_picks_the_pair(app_for: AppFactory, tmp_path: Path) -> None:
    ex = await exchange()
    try:
        app = app_for(settings=scan_settings(tmp_path), rest_url=ex.rest_url)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("s")
            screen = app.screen
            assert isinstance(screen, ScannerScreen)
            await wait_for_workers(app)
            await pilot.pause()
            table: DataTable[Text] = screen.query_one(DataTable)
            assert table.row_count == 6
            assert column(table, "symbol_a")[0] == "ETHUSDT"
            assert column(table, "symbol_b")[0] == "BTCUSDT"
            assert screen.query_one(ProgressBar).percentage == 1.0
            # A heading sorts by its column; again, the other way.
            p = table.columns[ColumnKey("coint_p")]
            for reverse in (False, True):
                table.post_message(DataTable.HeaderSelected(table, p.key, 3, p.label))
                await pilot.pause()
                shown = [float(v) for v in column(table, "coint_p")]
                assert shown == sorted(shown, reverse=reverse)
            carry = table.columns[ColumnKey("carry_bp_day")]
            table.post_message(DataTable.HeaderSelected(table, carry.key, 11, carry.label))
            await pilot.pause()
            assert column(table, "carry_bp_day") == sorted(column(table, "carry_bp_day"), key=float)
            await pilot.press("down", "enter")
            await pilot.pause()
            assert isinstance(app.screen, MonitorScreen)
            a, b = screen.records[1]["symbol_a"], screen.records[1]["symbol_b"]
            assert any(f"{a}/{b}" in n for n in notifications(app))
        assert len([c for c in ex.rest_calls if c.path == "/fapi/v1/klines"]) == 4
    finally:
        await ex.stop()


async def test_escape_goes_back_and_a_failed_scan_says_why(
    app_for: AppFactory, tmp_path: Path
) -> None:
    settings = scan_settings(tmp_path)
    settings.scan.symbols = ["ETHUSDT", "NOPEUSDT"]
    ex = await exchange()
    try:
        app = app_for(settings=settings, rest_url=ex.rest_url)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("s")
            await wait_for_workers(app)
            await pilot.pause()
            status = str(app.screen.query_one("#scan-status").render())
            assert "scan failed" in status and "NOPEUSDT" in status
            await pilot.press("escape")
            assert isinstance(app.screen, MonitorScreen)
    finally:
        await ex.stop()


def scanned(app: PairsApp) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        ex = await exchange()
        try:
            app.options.rest_url = ex.rest_url
            await settle(app, pilot)
            await pilot.press("s")
            await wait_for_workers(app)
            await pilot.pause()
        finally:
            await ex.stop()

    return run_before


def test_scanner_screen(snap_compare: SnapCompare, app_for: AppFactory, tmp_path: Path) -> None:
    app = app_for(settings=scan_settings(tmp_path))
    assert snap_compare(app, terminal_size=(100, 30), run_before=scanned(app))


def test_scanner_screen_80x24(
    snap_compare: SnapCompare, app_for: AppFactory, tmp_path: Path
) -> None:
    app = app_for(settings=scan_settings(tmp_path))
    assert snap_compare(app, terminal_size=(80, 24), run_before=scanned(app))


async def test_the_scanner_footer_lists_the_palette_key_once(
    app_for: AppFactory, tmp_path: Path
) -> None:
    # Textual's stock footer adds a palette key of its own, docked right behind a "▏": ^p twice,
    # and at 80 columns it covers the end of the row (? help, q quit). The desk's footer has not.
    app = app_for(settings=scan_settings(tmp_path), rest_url="http://127.0.0.1:9")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        await wait_for_workers(app)
        await pilot.pause()
        assert isinstance(app.screen, ScannerScreen)
        footer = app.screen.query_one(Footer)
        actions = [key.action for key in footer.query(FooterKey)]
        assert [a for a in actions if a.endswith("command_palette")] == ["command_palette"]


async def test_escape_from_the_scanner_shows_what_the_feed_did_meanwhile(
    app_for: AppFactory, tmp_path: Path
) -> None:
    settings = scan_settings(tmp_path)
    settings.ui = UiSettings(refresh_hz=0.01, plot_hz=0.01)  # the timers never draw in this test
    gate = asyncio.Event()
    source = FixtureSource(seconds=60, gate=gate)
    app = app_for(source, settings=settings, rest_url="http://127.0.0.1:9")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.refresh_now()
        await pilot.press("s")
        assert isinstance(app.screen, ScannerScreen)
        gate.set()  # the rest of the session arrives while the scanner covers the monitor
        await wait_for_workers(app)
        await pilot.pause()
        bars = f"bars {app.snapshot().bar_count:,}"
        plot = app.monitor.zscore.plot.text
        assert bars not in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MonitorScreen)
        assert bars in screen_text(app)
        assert app.monitor.zscore.plot.text != plot


async def test_the_palette_opens_the_scanner(app_for: AppFactory, tmp_path: Path) -> None:
    ex = await exchange()
    try:
        app = app_for(settings=scan_settings(tmp_path), rest_url=ex.rest_url)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await run_command(app, pilot, "Run: scan for cointegrated pairs")
            assert isinstance(app.screen, ScannerScreen)
            assert app.screen.query_one(DataTable).row_count == 6
            await pilot.press("escape")
            await run_command(app, pilot, "Run: scan the top 20 by volume")
            assert isinstance(app.screen, ScannerScreen)
            # The simulated exchange lists 13 USDT perpetuals that trade.
            assert app.screen.query_one(DataTable).row_count == 13 * 12 // 2
    finally:
        await ex.stop()


async def test_in_the_demo_the_scan_shares_the_feed_and_never_touches_the_real_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(f"[scan]\nsymbols = {SYMBOLS!r}\nbars = 300\n".replace("'", '"'))
    app = make_app(parse_options(["--demo", "--config", str(config)]))
    async with app.run_test(size=(100, 30)) as pilot:
        async with asyncio.timeout(30):
            while app.running is None or app.running.live is None:
                await pilot.pause(0.05)
        assert app.running is not None and app.running.live is not None
        rest = app.running.live.feed.rest
        before = rest.requests
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, ScannerScreen)
        async with asyncio.timeout(30):
            while screen.report is None:
                await pilot.pause(0.05)
        assert screen.query_one(DataTable).row_count == 6
        assert rest.requests >= before + 4  # the scan's klines went through the feed's client
    store = tmp_path / "cache" / "pairs-tui" / "history"
    assert not store.exists() or not any(store.rglob("*.parquet"))


async def test_the_scan_key_is_remappable(app_for: AppFactory, tmp_path: Path) -> None:
    settings = scan_settings(tmp_path)
    settings.keys = {"scan": "f5"}
    app = app_for(settings=settings, rest_url="http://127.0.0.1:9")  # nothing listens there
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        assert isinstance(app.screen, MonitorScreen)
        await pilot.press("f5")
        assert isinstance(app.screen, ScannerScreen)
        await wait_for_workers(app)
        await pilot.pause()
        assert "scan failed" in str(app.screen.query_one("#scan-status").render())
