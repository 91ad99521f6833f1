"""Every palette command, run the way a user does: ctrl+p, type its title, enter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.screen import Screen

from pairs_tui.alerts import rule_name
from pairs_tui.config import AlertRule
from pairs_tui.ui.app import PairsApp
from pairs_tui.ui.screens.backtest import BacktestScreen
from pairs_tui.ui.screens.help import HelpScreen
from pairs_tui.ui.widgets.stationarity_panel import StationarityPanel

from .conftest import AppFactory, notifications, run_command, settle

SIZE = (100, 30)


def exported(suffix: str) -> Callable[[PairsApp], bool]:
    def check(app: PairsApp) -> bool:
        files = sorted(Path("exports").glob(f"*{suffix}"))
        return len(files) == 3 and set(files) == set(app.exports)

    return check


COMMANDS: list[tuple[str, Callable[[PairsApp], bool]]] = [
    ("Export: Parquet", exported(".parquet")),
    ("Export: CSV", exported(".csv")),
    ("Timeframe: 1m", lambda app: app.snapshot().timeframe == "1m"),
    ("Timeframe: 5m", lambda app: app.snapshot().timeframe == "5m"),
    ("Window: wider", lambda app: app.snapshot().window == 375),
    ("Window: narrower", lambda app: app.snapshot().window == 240),
    ("Window: 1000 bars", lambda app: app.snapshot().window == 1000),
    (
        "Run: ADF and cointegration",
        lambda app: "coint  stat" in str(app.monitor.query_one(StationarityPanel).render()),
    ),
    (
        "Run: backtest on this session",
        lambda app: (
            isinstance(app.screen, BacktestScreen)
            and app.screen.session is not None
            and "total P&L" in str(app.screen.summary.render())
        ),
    ),
    ("Display: pause or resume", lambda app: app.paused),
    ("Help: keys", lambda app: isinstance(app.screen, HelpScreen)),
    ("Theme: ansi-dark", lambda app: app.theme == "ansi-dark"),
    (
        "Alerts: add zscore abs> 1.5 cooldown=60",
        lambda app: "zscore abs> 1.5" in [rule_title(r) for r in rules(app)],
    ),
]


def rule_title(rule: AlertRule) -> str:
    return rule_name(rule)


def rules(app: PairsApp) -> tuple[AlertRule, ...]:
    """The rules the running pipeline evaluates (the palette edits the app's alert book)."""
    assert app.pipeline is not None and app.alerts is not None
    assert app.pipeline.alerts is app.alerts
    return app.alerts.rules


@pytest.mark.parametrize(("title", "done"), COMMANDS, ids=[t for t, _ in COMMANDS])
async def test_palette_command(
    app_for: AppFactory,
    title: str,
    done: Callable[[PairsApp], bool],
) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await run_command(app, pilot, title, title.replace(": add ", ": add rule "))
        assert done(app)


async def test_palette_keeps_textual_commands_and_adds_ours(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SIZE):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in (
            "Theme",
            "Quit",
            "Keys",
            "Screenshot",
            "Export: Parquet",
            "Export: CSV",
            "Timeframe: 1s",
            "Timeframe: 1m",
            "Timeframe: 5m",
            "Window: wider",
            "Run: ADF and cointegration",
            "Run: backtest on this session",
            "Theme: textual-dark",
            "Theme: ansi-dark",
        ):
            assert title in titles, title


async def test_a_removed_alert_rule_is_gone(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await run_command(
            app,
            pilot,
            "Alerts: add spread > 0.01 name=wide",
            "Alerts: add rule spread > 0.01 name=wide",
        )
        assert [rule_title(r) for r in rules(app)] == ["wide"]
        await run_command(app, pilot, 'Alerts: remove rule "wide"')
        assert rules(app) == ()
        assert isinstance(app.screen, Screen)


async def test_a_bad_alert_rule_says_what_is_wrong(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await run_command(app, pilot, "Alerts: add zscore >> 2", "Alerts: add rule zscore >> 2")
        assert rules(app) == ()
        assert any("unknown operator" in n for n in notifications(app))
