"""What the screen says about the feed: cold start, live counters, a crash, the end of a replay."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from pairs_tui.config import Options, UsageError
from pairs_tui.feed.source import TradeSource
from pairs_tui.feed.status import FeedStatus
from pairs_tui.ui.run import make_app
from pairs_tui.ui.widgets.alert_banner import AlertBanner
from pairs_tui.ui.widgets.status_line import StatusLine

from .conftest import AppFactory, FixtureSource, options, screen_text, settle

SIZE = (100, 30)


async def test_a_crashing_feed_shows_the_error_and_the_screen_lives_on(
    app_for: AppFactory,
) -> None:
    app = app_for(FixtureSource(seconds=120, fail=RuntimeError("socket exploded")))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        status = str(app.monitor.query_one(StatusLine).render())
        assert "feed stopped: RuntimeError: socket exploded" in status
        banner = app.monitor.query_one(AlertBanner)
        assert banner.display and "socket exploded" in str(banner.render())
        await pilot.press("2")
        assert app.snapshot().timeframe == "1m" and app.is_running


async def test_a_finished_replay_keeps_its_final_state(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "replay finished" in text and "bars 345" in text
        assert "61,659.80" in text and "Kalman β" in text


async def test_before_the_first_bar_the_screen_says_what_it_waits_for(
    app_for: AppFactory,
) -> None:
    app = app_for(FixtureSource(seconds=0, hang=True, status=FeedStatus(state="connecting")))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.refresh_now()
        await pilot.pause()
        text = screen_text(app)
        assert "connecting" in text and "waiting for trades" in text
        plot = app.monitor.zscore.plot.text
        assert "waiting for the first bar of both legs" in plot


class Reconnecting(FixtureSource):
    """Reconnecting, its next try always 4.2 s after the moment its status is read: the test
    does not depend on how long the app took to start."""

    @property
    def status(self) -> FeedStatus:
        return FeedStatus(
            state="reconnecting", attempt=3, next_try_at=time.monotonic() + 4.2, reconnects=2
        )


async def test_reconnecting_shows_the_attempt_and_the_next_try(app_for: AppFactory) -> None:
    app = app_for(Reconnecting(seconds=30, hang=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.refresh_now()
        line = str(app.monitor.query_one(StatusLine).render())
        assert "reconnecting (attempt 3, next try in 4 s)" in line and "reconnects 2" in line


async def test_warm_up_says_how_many_bars_are_still_needed(app_for: AppFactory) -> None:
    app = app_for(FixtureSource(seconds=120))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        needed = app.snapshot().latest.stats.bars_needed  # type: ignore[union-attr]
        assert needed and f"warming up: {needed} more bars" in text


async def test_duration_stops_the_app_cleanly(
    app_for: AppFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = app_for(FixtureSource(hang=True), duration=0.2)
    exited = asyncio.Event()
    exit_ = app.exit

    def exit_and_tell(*args: object, **kwargs: object) -> None:
        exit_(*args, **kwargs)  # type: ignore[arg-type]
        exited.set()

    monkeypatch.setattr(app, "exit", exit_and_tell)
    async with app.run_test(size=SIZE):
        await asyncio.wait_for(exited.wait(), 10)
    assert app.return_code == 0


async def test_a_bad_argument_found_at_open_exits_with_code_2() -> None:
    @contextlib.asynccontextmanager
    async def bad_replay(opts: Options) -> AsyncIterator[TradeSource]:
        raise UsageError("--replay x.bin: not a format pairs-tui reads")
        yield  # pragma: no cover

    app = make_app(options(), source_factory=bad_replay)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert app.return_code == 2 and app.usage_error is not None
    assert "not a format" in app.usage_error
