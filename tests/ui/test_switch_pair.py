"""``Pair: A/B`` in the palette: the monitor moves to another pair on the running connection.

Over a real socket with the demo's embedded exchange: the new pair's symbols are subscribed on
the connection, it starts warm, keeps the timeframe and window, and none of the old pair's
trades reach its bars. A symbol the exchange does not list, or one that is not a symbol, leaves
the monitor as it was and says why.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from pairs_tui.cli import parse_options
from pairs_tui.feed.source import LiveSource
from pairs_tui.ui.app import PairsApp
from pairs_tui.ui.run import make_app

from .conftest import AppFactory, notifications, run_command, settle
from .test_warm_demo import until

NEW = ("SOLUSDT", "AVAXUSDT")


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PairsApp:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    app = make_app(parse_options(["--demo", "--window", "120"]))
    app.animation_level = "none"
    return app


async def type_command(app: PairsApp, pilot: Pilot[None], typed: str, picked: str) -> None:
    """ctrl+p, type, enter, on an app whose feed runs forever (``run_command`` waits for every
    worker to finish)."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    palette = app.screen
    assert isinstance(palette, CommandPalette)
    palette.query_one(Input).value = typed
    results = palette.query_one(CommandList)

    def offered() -> bool:
        index = results.highlighted
        return index is not None and picked in str(results.get_option_at_index(index).prompt)

    await until(pilot, offered)
    await pilot.press("enter")
    await pilot.pause()


def feed_symbols(app: PairsApp) -> set[str]:
    assert app.running is not None
    source = app.running.desk.source
    assert isinstance(source, LiveSource)
    return set(source.symbols)


async def test_a_pair_switch_resubscribes_warm_starts_and_keeps_the_view(demo: PairsApp) -> None:
    async with demo.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: demo.snapshot().history.state == "done")
        old = demo.pipeline
        assert old is not None
        await pilot.press("2", "plus")  # 1m bars, window 150
        await type_command(demo, pilot, "Pair: solusdt/avaxusdt", "Pair: SOLUSDT/AVAXUSDT")
        await until(pilot, lambda: demo.pair == NEW)
        new = demo.pipeline
        assert new is not None and new is not old and new.symbols == NEW
        snap = demo.snapshot()
        assert (snap.timeframe, snap.window) == ("1m", 150)
        assert demo.running is not None and old not in demo.running.desk.members
        assert feed_symbols(demo) == set(NEW)  # the old legs left the connection
        await until(pilot, lambda: demo.snapshot().history.state == "done")
        await until(pilot, lambda: new.history("1s").height > 5)
        await until(
            pilot,
            lambda: (
                (latest := demo.snapshot().latest) is not None and latest.stats.zscore is not None
            ),
        )
        assert demo.monitor.leg_a.symbol == "SOLUSDT"
        # No trade of the old pair in the new pair's bars: every trade it kept is of its
        # legs, and every live 1s bar's close is the price of one of its target's trades.
        ticks = new.ticks()
        assert set(ticks["symbol"].unique()) <= set(NEW)
        live = new.history("1s").filter(pl.col("trades_a") > 0)
        first_trade = ticks.filter(pl.col("symbol") == "SOLUSDT")["time"].min()
        assert isinstance(first_trade, int)
        live = live.filter(pl.col("ts") >= first_trade - first_trade % 1000)
        assert live.height > 0
        prices = set(ticks.filter(pl.col("symbol") == "SOLUSDT")["price"].to_list())
        assert set(live["close_a"].to_list()) <= prices


async def test_an_unknown_symbol_leaves_the_monitor_as_it_was(demo: PairsApp) -> None:
    async with demo.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: demo.running is not None)
        before = demo.pipeline
        await type_command(demo, pilot, "Pair: BTCUSDT/NOPEUSDT", "Pair: BTCUSDT/NOPEUSDT")
        await until(pilot, lambda: not any(w.group == "pair" for w in demo.workers))
        assert demo.pipeline is before and demo.pair == ("BTCUSDT", "ETHUSDT")
        assert "NOPEUSDT" not in feed_symbols(demo)
        shown = [str(n.message) for n in demo._notifications]
        assert any("unknown symbol NOPEUSDT" in text for text in shown), shown


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("Pair: BTC-USDT/ETHUSDT", "symbol 'BTC-USDT': a symbol is 2 to 30 letters and digits"),
        ("Pair: BTCUSDT/BTCUSDT", "the two legs must differ"),
        ("Pair: BTCUSDT/SOLUSDT", "a replay holds only its own pair"),
    ],
)
async def test_a_pair_that_cannot_be_shown_is_said(
    app_for: AppFactory, typed: str, said: str
) -> None:
    app = app_for()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        before = app.pipeline
        await run_command(app, pilot, typed)
        assert app.pipeline is before and app.pair == ("BTCUSDT", "ETHUSDT")
        assert any(said in text for text in notifications(app)), notifications(app)


async def test_a_pair_of_the_watchlist_is_offered_and_shown_keeping_the_others(
    app_for: AppFactory,
) -> None:
    watched = (("BTCUSDT", "ETHUSDT"), ("ETHUSDT", "BTCUSDT"))
    app = app_for(watch=watched)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await run_command(app, pilot, "Pair: ETHUSDT/BTCUSDT")
        assert app.pair == ("ETHUSDT", "BTCUSDT")
        assert app.running is not None
        assert [p.symbols for p in app.running.pipelines] == list(watched)  # none dropped
        assert app.monitor.leg_a.symbol == "ETHUSDT"
        assert app.snapshot().symbols == ("ETHUSDT", "BTCUSDT")
