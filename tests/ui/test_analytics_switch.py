"""``Hedge:`` and ``Prices:`` in the palette switch live: the bars held are analysed again, and
every bar and number then equals a run started with that setting over the same bars."""

from __future__ import annotations

import pytest
from polars.testing import assert_frame_equal

from pairs_tui.config import ExportSettings, Settings
from pairs_tui.config.settings import AnalyticsSettings
from pairs_tui.records import HedgeMethod, PriceMode
from pairs_tui.ui.app import PairsApp
from pairs_tui.ui.widgets.header_bar import HeaderBar

from .conftest import AppFactory, run_command, settle

SIZE = (100, 30)

SWITCHES: list[tuple[str, PriceMode, HedgeMethod, str]] = [
    ("Hedge: OLS no intercept", "log", "ols0", "OLS (no intercept) on log prices"),
    ("Hedge: Huber", "log", "huber", "Huber on log prices"),
    ("Hedge: Kalman", "log", "kalman", "Kalman on log prices"),
    ("Prices: raw", "raw", "ols", "OLS on raw prices"),
]


def settings(price: PriceMode = "log", hedge: HedgeMethod = "ols") -> Settings:
    return Settings(
        export=ExportSettings(folder="exports"),
        analytics=AnalyticsSettings(price=price, hedge=hedge),
    )


async def finished(app: PairsApp) -> dict[str, object]:
    """Every timeframe's bars and analytics, and the latest bar's, of a whole fixture run."""
    assert app.pipeline is not None
    latest = app.snapshot().latest
    assert latest is not None
    return {
        "frames": {tf: app.pipeline.history(tf) for tf in ("1s", "1m")},
        "latest": latest,
    }


@pytest.mark.parametrize(
    ("title", "price", "hedge", "header"), SWITCHES, ids=[s[0] for s in SWITCHES]
)
async def test_a_live_switch_equals_a_run_started_with_that_setting(
    app_for: AppFactory, title: str, price: PriceMode, hedge: HedgeMethod, header: str
) -> None:
    switched = app_for(window=120)
    async with switched.run_test(size=(140, 30)) as pilot:
        await settle(switched, pilot)
        await run_command(switched, pilot, title)
        got = await finished(switched)
        shown = str(switched.monitor.query_one(HeaderBar).query_one("#title").render())
        assert shown.endswith(header)
    started = app_for(window=120, settings=settings(price, hedge))
    async with started.run_test(size=SIZE) as pilot:
        await settle(started, pilot)
        want = await finished(started)
    assert isinstance(got["frames"], dict) and isinstance(want["frames"], dict)
    for tf, frame in want["frames"].items():
        assert frame.height > 0
        assert_frame_equal(got["frames"][tf], frame, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
    assert got["latest"] == want["latest"]


async def test_switching_back_restores_what_was_shown(app_for: AppFactory) -> None:
    app = app_for(window=120)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.pipeline is not None
        before = app.pipeline.history("1s")
        await run_command(app, pilot, "Hedge: Huber")
        await run_command(app, pilot, "Prices: raw")
        snap = app.snapshot()
        assert (snap.price, snap.hedge) == ("raw", "huber")
        await run_command(app, pilot, "Hedge: OLS", "Hedge: OLS")
        await run_command(app, pilot, "Prices: log")
        assert_frame_equal(app.pipeline.history("1s"), before, check_exact=False, rel_tol=1e-9)
