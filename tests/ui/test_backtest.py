"""Key ``b``: the backtest of the running session in a modal, and its export."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest
from textual.pilot import Pilot

from pairs_tui.backtest.engine import backtest_history
from pairs_tui.config import AnalyticsSettings, ExportSettings, Settings
from pairs_tui.export import with_datetimes
from pairs_tui.ui import backtest_view, formatting, jobs
from pairs_tui.ui.app import PairsApp
from pairs_tui.ui.screens.backtest import BacktestScreen
from pairs_tui.ui.widgets.backtest_summary import BacktestSummary
from pairs_tui.ui.widgets.trade_table import TradeTable

from .conftest import AppFactory, FixtureSource, notifications, settle

SIZE = (100, 30)


async def open_backtest(app: PairsApp, pilot: Pilot[None]) -> BacktestScreen:
    """Press ``b`` once the feed is in, and wait for the backtest to finish."""
    await settle(app, pilot)
    await pilot.press("b")
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, BacktestScreen)
    return screen


def summary_text(screen: BacktestScreen) -> str:
    return str(screen.query_one(BacktestSummary).render())


async def test_b_shows_the_backtest_of_the_session_history(
    app_for: AppFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    real = jobs.backtest

    def watched(*args: object) -> object:
        threads.append(threading.current_thread().name)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(jobs, "backtest", watched)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        assert app.pipeline is not None
        expected = backtest_history(app.pipeline.history(), app.settings, "1s")
        assert screen.session is not None
        shown = screen.session.result
        assert shown.metrics == expected.metrics
        assert shown.trades == expected.trades
        assert shown.equity.equals(expected.equity)

        m = expected.metrics
        text = summary_text(screen)
        for figure in (
            f"trades       {m.trades} ({m.closed_trades} closed, 1 open)",
            f"total P&L    {backtest_view.pnl(m.total_pnl, 'log')}",
            f"max drawdown {backtest_view.pnl(m.max_drawdown, 'log', signed=False)}",
            f"in market    {m.time_in_market:.0%} of the bars",
            "entry ±2  exit 0  stop none  fees 4 bp per leg per fill",
            f"{m.bars} of 345 1s bars with a z-score",
            "bp of A's notional: 1 USDT of BTCUSDT against β USDT of ETHUSDT",
        ):
            assert figure in text, figure
        # One trade on 345 bars: no Sharpe, and the summary says why.
        assert m.sharpe is None
        assert (
            f"Sharpe       {formatting.DASH} ({m.closed_trades} trades, {m.bars} bars: "
            "needs 10, 1,000)" in text
        )
        table = screen.query_one(TradeTable)
        assert table.row_count == len(expected.trades) == 1
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[1] == "long" and row[6] == "open"
        assert row[-1] == backtest_view.pnl(expected.trades[0].pnl, "log")
        assert screen.equity.plot.builds == 1 and screen.equity.plot.text.count("\n") > 5
    assert threads and threads[0] != threading.main_thread().name


async def test_escape_and_q_close_the_backtest(app_for: AppFactory) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await open_backtest(app, pilot)
        await pilot.press("escape")
        assert not isinstance(app.screen, BacktestScreen)
        await pilot.press("b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, BacktestScreen)
        await pilot.press("q")
        assert not isinstance(app.screen, BacktestScreen)
        assert app.return_code is None  # q closed the backtest, not the app


async def test_e_in_the_backtest_exports_trades_and_equity_and_says_where(
    app_for: AppFactory,
    tmp_path: Path,
) -> None:
    app = app_for(window=100)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        assert screen.session is not None
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, BacktestScreen)  # still open; the export did not close it
    folder = tmp_path / "exports"
    written = sorted(p.name for p in folder.iterdir())
    assert len(written) == 4 and not any(name.startswith(".") for name in written)
    assert {p.name for p in app.exports} == set(written)
    result = screen.session.result
    # Exported times are Datetime(ms, UTC), not integers.
    for kind, frame in (
        ("trades", with_datetimes(result.trades_frame())),
        ("equity", with_datetimes(result.equity)),
    ):
        (parquet,) = folder.glob(f"BTCUSDT-ETHUSDT_1s_backtest-{kind}_*.parquet")
        (csv,) = folder.glob(f"BTCUSDT-ETHUSDT_1s_backtest-{kind}_*.csv")
        assert pl.read_parquet(parquet).equals(frame)
        assert pl.read_csv(csv, schema=frame.schema).equals(frame)
    assert result.metrics.trades == 5
    said = [n for n in notifications(app) if "backtest-trades, backtest-equity → " in n]
    assert said and said[0].endswith(".{parquet,csv}") and str(folder) in said[0]


async def test_b_before_the_window_is_full_says_there_is_nothing_yet(
    app_for: AppFactory,
    tmp_path: Path,
) -> None:
    app = app_for(FixtureSource(seconds=60))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        text = summary_text(screen)
        assert "nothing to backtest yet" in text
        assert "warming up" in text and "more bars for the z-score" in text
        assert not screen.equity.display and not screen.trades.display
        await pilot.press("e")
        await pilot.pause()
        assert any("nothing to export yet" in n for n in notifications(app))
    assert not (tmp_path / "exports").exists()


async def test_no_trades_says_so_plainly(app_for: AppFactory) -> None:
    settings = Settings(
        analytics=AnalyticsSettings(entry_z=4.0), export=ExportSettings(folder="exports")
    )
    app = app_for(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        assert screen.session is not None and screen.session.result.trades == []
        assert "trades       0 (0 closed)" in summary_text(screen)
        note = str(screen.note.render())
        assert note.startswith("no trades: |z| never went beyond the entry level 4 on these 45")
        assert not screen.equity.display and not screen.trades.display


async def test_levels_that_make_no_strategy_say_what_to_fix(app_for: AppFactory) -> None:
    settings = Settings(
        analytics=AnalyticsSettings(entry_z=2.0, exit_z=2.5),
        export=ExportSettings(folder="exports"),
    )
    app = app_for(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        text = summary_text(screen)
        assert text.startswith("backtest failed: check [analytics] in config.toml:")
        assert "exit_z (2.5) must be below entry_z (2.0)" in text
