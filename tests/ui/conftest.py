"""Deterministic data for the UI tests: the recorded session fed straight into the pipeline.

The fixture's trades (real BTCUSDT/ETHUSDT, 2024-08-08 23:54:16 to 2024-08-09 00:00:00 UTC) are
parsed once. :class:`FixtureSource` hands them to the pipeline without awaiting, so the whole
session is in before the pipeline's own clock task ever runs: the message rate stays 0 and no
number on screen depends on the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import AsyncIterator, Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from pairs_tui.config import AlertSettings, ExportSettings, Options, Settings
from pairs_tui.feed.source import TradeSink, TradeSource
from pairs_tui.feed.status import FeedStatus
from pairs_tui.records import Trade
from pairs_tui.ui.app import PairsApp, SourceFactory
from pairs_tui.ui.run import make_app

FIXTURE = (
    Path(__file__).resolve().parent.parent
    / "fixtures"
    / "sessionB_2024-08-08T2354Z_2024-08-09T0000Z_trade_envelopes.ndjson.gz"
)
"""Combined-stream envelopes of both legs, in arrival order."""

START_MS = 1723161256000
"""2024-08-08 23:54:16 UTC, the first trade's second."""


@cache
def fixture_trades() -> tuple[Trade, ...]:
    """Every trade of the fixture, in arrival order."""
    trades = []
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as lines:
        for line in lines:
            data = json.loads(line)["data"]
            trades.append(
                Trade(
                    data["s"], data["T"], float(data["p"]), float(data["q"]), data["m"], data["t"]
                )
            )
    return tuple(trades)


class FixtureSource:
    """A :class:`~pairs_tui.feed.source.TradeSource` over the fixture's trades.

    Args:
        seconds: Deliver only the first ``seconds`` of the session (None: all of it).
        fail: Raise this after delivering, instead of ending.
        hang: After delivering, wait forever like a live feed (until cancelled).
        gate: Deliver the first ``seconds``, wait for this event, then deliver the rest.
        status: What the source reports about itself.
    """

    def __init__(
        self,
        *,
        seconds: float | None = None,
        fail: Exception | None = None,
        hang: bool = False,
        gate: asyncio.Event | None = None,
        status: FeedStatus | None = None,
    ) -> None:
        self.seconds = seconds
        self.fail = fail
        self.hang = hang
        self.gate = gate
        self.delivered = 0
        """Trades handed to the sink so far."""
        self._status = status or FeedStatus(state="replay", latency_ms=38.0)

    @property
    def status(self) -> FeedStatus:
        return self._status

    def exchange_now_ms(self) -> float | None:
        return None

    async def run(self, sink: TradeSink) -> None:
        limit = None if self.seconds is None else START_MS + self.seconds * 1000
        trades = fixture_trades()
        for trade in trades:
            if limit is not None and trade.time >= limit:
                break
            sink.on_trade(trade)
            self.delivered += 1
        if self.gate is not None:
            await self.gate.wait()
            for trade in trades[self.delivered :]:
                sink.on_trade(trade)
                self.delivered += 1
        if self.fail is not None:
            raise self.fail
        if self.hang:
            await asyncio.Event().wait()


def source_factory(source: TradeSource) -> SourceFactory:
    """An ``open_source`` stand-in that yields ``source``."""

    @contextlib.asynccontextmanager
    async def open_it(options: Options) -> AsyncIterator[TradeSource]:
        yield source

    return open_it


def options(**changes: object) -> Options:
    """Options for the recorded pair on default settings (without the default alert rules, so
    that a test's rules are the only ones), with ``changes`` applied."""
    settings = changes.pop("settings", None) or Settings(
        export=ExportSettings(folder="exports"), alerts=AlertSettings(rules=[])
    )
    assert isinstance(settings, Settings)
    base = Options(settings=settings, symbols=("BTCUSDT", "ETHUSDT"), timeframe="1s", window=300)
    for name, value in changes.items():
        setattr(base, name, value)
    return base


AppFactory = Callable[..., PairsApp]


@pytest.fixture
def app_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppFactory:
    """``app_for(source=None, **option_changes)``: the app on a fixture source, animations off,
    in a temporary working directory (exports and the alert log land there)."""
    monkeypatch.chdir(tmp_path)

    def build(source: TradeSource | None = None, **changes: object) -> PairsApp:
        app = make_app(options(**changes), source_factory=source_factory(source or FixtureSource()))
        app.animation_level = "none"
        shown: list[str] = []
        notify = app.notify

        def recording_notify(message: str, *args: Any, **kwargs: Any) -> None:
            shown.append(str(message))
            notify(message, *args, **kwargs)

        app.notify = recording_notify  # type: ignore[method-assign]
        NOTIFIED[id(app)] = shown
        return app

    return build


NOTIFIED: dict[int, list[str]] = {}
"""Notifications each app built by ``app_for`` showed, by ``id(app)``."""


def notifications(app: PairsApp) -> list[str]:
    """The notifications ``app`` showed so far."""
    return NOTIFIED[id(app)]


async def wait_for_workers(app: PairsApp) -> None:
    """Wait for every worker to finish but the one we may be running in (a snapshot's pilot)."""
    from textual.worker import NoActiveWorker, get_current_worker

    try:
        me = get_current_worker()
    except NoActiveWorker:
        me = None
    await app.workers.wait_for_complete([w for w in app.workers if w is not me])


async def settle(app: PairsApp, pilot: Pilot[None]) -> None:
    """Wait for the feed to deliver everything, then draw it."""
    await wait_for_workers(app)
    app.refresh_now()
    await pilot.pause()


async def run_command(
    app: PairsApp,
    pilot: Pilot[None],
    title: str,
    picked: str | None = None,
) -> None:
    """Run the palette command called ``title`` the way a user does: ctrl+p, type, enter.

    Args:
        picked: The title the palette should highlight, when it differs from what was typed.
    """
    from textual.command import CommandList, CommandPalette
    from textual.widgets import Input

    await pilot.press("ctrl+p")
    await pilot.pause()
    palette = app.screen
    assert isinstance(palette, CommandPalette)
    palette.query_one(Input).value = title
    await pilot.pause()
    await wait_for_workers(app)
    await pilot.pause()
    results = palette.query_one(CommandList)
    assert results.highlighted is not None, f"no palette hit for {title!r}"
    prompt = str(results.get_option_at_index(results.highlighted).prompt)
    assert (picked or title) in prompt, f"palette picked {prompt!r} for {title!r}"
    await pilot.press("enter")
    await pilot.pause()
    await wait_for_workers(app)
    await pilot.pause()


def screen_text(app: PairsApp) -> str:
    """What the main screen shows, as plain text."""
    from textual.widgets import Static

    from pairs_tui.ui.widgets.line_plot import LinePlot

    texts = [str(w.render()) for w in app.monitor.query(Static)]
    return "\n".join(texts + [plot.text for plot in app.monitor.query(LinePlot)])
