"""The alert list in an app of its own: newest first, as many as fit, one line each."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pairs_tui.snapshot import AlertEvent
from pairs_tui.ui.widgets.alert_list import AlertList

START = 1_723_161_600_000
"""2024-08-09 00:00:00 UTC."""


def event(i: int, message: str = "") -> AlertEvent:
    return AlertEvent(
        time=START + i * 1000,
        rule=f"z above {i}",
        metric="zscore",
        op=">",
        threshold=2.0,
        value=2.0 + i / 10,
        message=message or f'zscore {2.0 + i / 10:.4g} crossed above 2 (rule "z above {i}")',
    )


class AlertApp(App[None]):
    """One alert list, four lines high."""

    def compose(self) -> ComposeResult:
        yield AlertList()


async def test_no_alert_yet_says_so() -> None:
    app = AlertApp()
    async with app.run_test(size=(80, 6)) as pilot:
        alerts = app.query_one(AlertList)
        alerts.show(())
        await pilot.pause()
        assert str(alerts.render()) == "alerts: none yet"


async def test_the_newest_alerts_that_fit_come_first_with_their_time() -> None:
    app = AlertApp()
    async with app.run_test(size=(80, 6)) as pilot:
        alerts = app.query_one(AlertList)
        alerts.show([event(i) for i in range(6)])
        await pilot.pause()
        lines = str(alerts.render()).splitlines()
    assert lines == [
        '00:00:05  zscore 2.5 crossed above 2 (rule "z above 5")',
        '00:00:04  zscore 2.4 crossed above 2 (rule "z above 4")',
        '00:00:03  zscore 2.3 crossed above 2 (rule "z above 3")',
        '00:00:02  zscore 2.2 crossed above 2 (rule "z above 2")',
    ]


async def test_an_event_without_a_message_reads_as_its_rule() -> None:
    app = AlertApp()
    async with app.run_test(size=(80, 6)) as pilot:
        alerts = app.query_one(AlertList)
        silent = AlertEvent(
            time=START,
            rule="far",
            metric="zscore",
            op=">",
            threshold=2.5,
            value=2.75,
            message="",
        )
        alerts.show([silent])
        await pilot.pause()
        assert str(alerts.render()) == '00:00:00  zscore 2.75 crossed 2.5  (rule "far")'
