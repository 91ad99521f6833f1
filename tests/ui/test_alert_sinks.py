"""Alert sinks in the TUI: desktop notifications through the driver, lost alerts shown."""

from __future__ import annotations

import pytest
from textual.drivers.headless_driver import HeadlessDriver
from textual.pilot import Pilot

from pairs_tui.config import AlertRule, AlertSettings, ExportSettings, Settings
from pairs_tui.sinks import delivery
from pairs_tui.sinks.settings import CommandSinkSettings, DesktopSinkSettings, SinkSettings
from pairs_tui.ui.app import PairsApp
from pairs_tui.ui.widgets.status_line import StatusLine

from .conftest import AppFactory


async def settle(app: PairsApp, pilot: Pilot[None]) -> None:
    """Wait for the replay to end and the sinks to take every alert, then draw."""
    feed = [w for w in app.workers if w.group == "feed"]
    if feed:  # an empty list would mean every worker, the sinks' too, which never ends
        await app.workers.wait_for_complete(feed)
    assert app.delivery is not None
    await app.delivery.flush()  # the sinks' worker runs as long as the app
    app.refresh_now()
    await pilot.pause()


RULE = AlertRule(name="z wide", metric="zscore", op="abs>", threshold=1.5, hysteresis=0.5)


def settings(*sinks: SinkSettings) -> Settings:
    return Settings(
        export=ExportSettings(folder="exports"),
        alerts=AlertSettings(rules=[RULE], sinks=list(sinks)),
    )


async def test_each_alert_is_a_desktop_notification_written_through_the_driver(
    app_for: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    monkeypatch.setattr(HeadlessDriver, "write", lambda self, data: written.append(data))
    monkeypatch.delenv("TMUX", raising=False)
    app = app_for(settings=settings(DesktopSinkSettings()), window=30)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        fired = app.snapshot().alerts
        status = str(app.monitor.query_one(StatusLine).render())
    notes = [w for w in written if w.startswith("\x1b]9;")]
    assert len(fired) >= 5
    assert notes == [
        f"\x1b]9;pairs-tui BTCUSDT/ETHUSDT 1s: {event.message}\x1b\\" for event in fired
    ]
    assert app.delivery is not None and app.delivery.unsent_at_exit == 0
    assert "undelivered" not in status


async def test_alerts_a_sink_gave_up_on_show_on_the_status_line(
    app_for: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    app = app_for(settings=settings(CommandSinkSettings(argv=["false"])), window=30)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        fired = len(app.snapshot().alerts)
        status = str(app.monitor.query_one(StatusLine).render())
    assert fired >= 5
    assert app.delivery is not None
    assert app.delivery.stats.sinks[0].failed == fired
    assert f"alerts: {fired} undelivered" in status
