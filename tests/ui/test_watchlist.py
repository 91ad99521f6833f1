"""The watchlist screen (``w``): a row per pair of the desk, sorted by |z|, updated in place."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.pilot import Pilot

from pairs_tui.config import AlertRule, AlertSettings, ExportSettings, Settings
from pairs_tui.feed.source import TradeSink
from pairs_tui.feed.status import FeedStatus
from pairs_tui.records import Trade
from pairs_tui.ui import formatting
from pairs_tui.ui.app import PairsApp
from pairs_tui.ui.screens.watchlist import WatchlistScreen
from pairs_tui.ui.widgets.watch_table import WatchTable
from sources import random_trades

from .conftest import AppFactory, screen_text, settle, wait_for_workers

SIZE = (100, 30)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT")
PAIRS = (
    ("BTCUSDT", "ETHUSDT"),
    ("SOLUSDT", "ETHUSDT"),
    ("BTCUSDT", "SOLUSDT"),
    ("BNBUSDT", "BTCUSDT"),
)
"""Four pairs sharing legs on one source."""
SnapCompare = Callable[..., bool]


class DeskSource:
    """Trades of four symbols; the rest waits for ``gate`` when one is given."""

    def __init__(self, trades: list[Trade], *, first: int | None = None) -> None:
        self.trades = trades
        self.first = len(trades) if first is None else first
        self.gate = asyncio.Event()
        self.delivered = 0

    @property
    def status(self) -> FeedStatus:
        return FeedStatus(state="replay", latency_ms=38.0)

    def exchange_now_ms(self) -> float | None:
        return None

    async def run(self, sink: TradeSink) -> None:
        for trade in self.trades[: self.first]:
            sink.on_trade(trade)
            self.delivered += 1
        if self.first < len(self.trades):
            await self.gate.wait()
            for trade in self.trades[self.first :]:
                sink.on_trade(trade)
                self.delivered += 1


def desk_trades() -> list[Trade]:
    return random_trades(SYMBOLS, seconds=240, seed=11)


def desk_app(app_for: AppFactory, source: DeskSource | None = None) -> PairsApp:
    return app_for(source or DeskSource(desk_trades()), symbols=PAIRS[0], watch=PAIRS, window=30)


def table(app: PairsApp) -> WatchTable:
    screen = app.screen
    assert isinstance(screen, WatchlistScreen)
    return screen.table


def shown_order(app: PairsApp) -> list[str]:
    return ["/".join(pair) for pair in table(app).order]


def by_abs_z(app: PairsApp) -> list[str]:
    zs = {"/".join(p): app.pipelines[p].glance().latest for p in PAIRS}
    known = {k: abs(v.stats.zscore) for k, v in zs.items() if v and v.stats.zscore is not None}
    return sorted(known, key=lambda k: known[k], reverse=True) + [k for k in zs if k not in known]


async def test_w_lists_every_pair_of_the_desk_sorted_by_abs_z(app_for: AppFactory) -> None:
    app = desk_app(app_for)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        await pilot.pause()
        assert shown_order(app) == by_abs_z(app)
        assert len(shown_order(app)) == len(PAIRS)
        grid = table(app)
        for pair in PAIRS:
            quotes = app.pipelines[pair].glance().quotes
            assert quotes[0] is not None and quotes[1] is not None
            assert grid.text(pair, "close_a") == formatting.price(quotes[0].price)
            assert grid.text(pair, "close_b") == formatting.price(quotes[1].price)
            assert len(grid.text(pair, "spark")) > 1  # the z-score sparkline
        await pilot.press("w")  # already open: nothing stacks
        assert len(app.screen_stack) == 2


async def test_enter_shows_the_highlighted_pair_and_escape_changes_nothing(
    app_for: AppFactory,
) -> None:
    app = desk_app(app_for)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        await pilot.pause()
        await pilot.press("escape")
        assert app.pair == PAIRS[0] and not isinstance(app.screen, WatchlistScreen)
        await pilot.press("w")
        await pilot.pause()
        order = shown_order(app)
        start = order.index("/".join(PAIRS[0]))  # the cursor starts on the monitored pair
        target = order[(start + 1) % len(order)]
        await pilot.press("down" if start + 1 < len(order) else "home")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, WatchlistScreen)
        assert "/".join(app.pair) == target
        app.refresh_now()
        await pilot.pause()
        a, b = target.split("/")
        assert f"{a} / {b}" in screen_text(app)
        assert app.snapshot().symbols == (a, b)


async def test_a_click_on_a_header_sorts_by_that_column_and_again_reverses(
    app_for: AppFactory,
) -> None:
    app = desk_app(app_for)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        await pilot.pause()
        names = sorted("/".join(p) for p in PAIRS)
        await pilot.click(WatchTable, offset=(2, 0))  # the "pair" header
        await pilot.pause()
        assert shown_order(app) == names
        await pilot.click(WatchTable, offset=(2, 0))
        await pilot.pause()
        assert shown_order(app) == names[::-1]
        await pilot.press("z")
        assert shown_order(app) == by_abs_z(app)


async def test_rows_update_in_place_as_bars_close(app_for: AppFactory) -> None:
    trades = desk_trades()
    source = DeskSource(trades, first=len(trades) // 2)
    app = desk_app(app_for, source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, WatchlistScreen)
        grid = table(app)
        before = {p: grid.text(p, "close_a") for p in PAIRS}
        full = grid.full_repaints
        source.gate.set()
        await wait_for_workers(app)
        screen.refresh_rows()
        await pilot.pause()
        after = {p: grid.text(p, "close_a") for p in PAIRS}
        assert after != before and grid.cells_repainted >= len(PAIRS)
        # New prices repaint their cells, a change of order the lines of the pairs that moved:
        # never the whole table.
        assert grid.full_repaints == full
        assert shown_order(app) == by_abs_z(app)
        for pair in PAIRS:
            quote = app.pipelines[pair].glance().quotes[0]
            assert quote is not None and after[pair] == formatting.price(quote.price)


async def test_0_shows_tick_rows_labelled_noisy(app_for: AppFactory) -> None:
    app = app_for(window=50)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("0")
        await pilot.pause()
        snap = app.snapshot()
        assert snap.timeframe == "tick"
        assert snap.latest is not None and snap.latest.stats.zscore is not None
        assert snap.bar_count > 30_000  # one row per trade of either leg
        app.refresh_now()
        await pilot.pause()
        assert "tick-level, noisy (Epps effect)" in screen_text(app)
        await pilot.resize_terminal(80, 24)
        app.refresh_now()
        await pilot.pause()
        assert "tick-level, noisy" in screen_text(app)
        await pilot.press("1")
        assert app.snapshot().timeframe == "1s"
        assert "Epps" not in screen_text(app)


def opened(app: PairsApp) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(app, pilot)
        await pilot.press("w")
        await pilot.pause()

    return run_before


def test_watchlist_100x30(snap_compare: SnapCompare, app_for: AppFactory) -> None:
    rule = AlertRule(name="z beyond 0.9", metric="zscore", op="abs>", threshold=0.9)
    settings = Settings(alerts=AlertSettings(rules=[rule]), export=ExportSettings(folder="x"))
    app = app_for(
        DeskSource(desk_trades()), symbols=PAIRS[0], watch=PAIRS, window=30, settings=settings
    )
    assert snap_compare(app, terminal_size=(100, 30), run_before=opened(app))


def test_watchlist_80x24(snap_compare: SnapCompare, app_for: AppFactory) -> None:
    app = desk_app(app_for)
    assert snap_compare(app, terminal_size=(80, 24), run_before=opened(app))


async def test_bar_keys_apply_to_every_pair_and_ticks_follow_the_monitor(
    app_for: AppFactory,
) -> None:
    app = desk_app(app_for)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        assert {p.snapshot().timeframe for p in app.pipelines.values()} == {"1m"}
        await pilot.press("plus")
        assert {p.snapshot().window for p in app.pipelines.values()} == {38}
        await pilot.press("0")
        shown = {pair: p.snapshot().timeframe for pair, p in app.pipelines.items()}
        assert shown.pop(PAIRS[0]) == "tick" and set(shown.values()) == {"1m"}
        await pilot.press("w")
        await pilot.pause()
        other = next(p for p in table(app).order if p != PAIRS[0])
        table(app).move_to(other)
        await pilot.press("enter")
        await pilot.pause()
        assert app.pair == other and app.snapshot().timeframe == "tick"
        assert app.pipelines[PAIRS[0]].snapshot().timeframe == "1m"
