"""The backtest of the running session (key ``b``): summary, equity curve, trades, export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen

from pairs_tui.backtest.session import SessionBacktest
from pairs_tui.config import Settings
from pairs_tui.ui import backtest_view
from pairs_tui.ui.jobs import BacktestRequest
from pairs_tui.ui.widgets.backtest_summary import BacktestSummary
from pairs_tui.ui.widgets.plot_panel import PlotPanel
from pairs_tui.ui.widgets.text_panel import TextPanel
from pairs_tui.ui.widgets.trade_table import MAX_ROWS, TradeTable


class BacktestScreen(ModalScreen[None]):
    """The z-score signal traded over the active timeframe's history, with the config's entry,
    exit, stop and fees, by the engine ``--backtest`` uses.

    Once mounted, the screen asks the app to run the backtest (:class:`RunAsked`); the app runs
    it in a thread worker and hands the result to :meth:`show`, or the error to :meth:`failed`.
    Until then, or when there is nothing to backtest yet, the summary says so in words.

    Args:
        request: The history and what it is, taken on the pipeline's thread.
        settings: Where the levels, the fees and the export folder come from.
    """

    DEFAULT_CSS = """
    BacktestScreen {
        align: center middle;
        & > Vertical {
            width: 100%;
            max-width: 110;
            height: 100%;
            max-height: 40;
            border: round $accent;
            border-title-color: $accent;
            border-subtitle-color: $text-muted;
            background: $surface;
        }
        & #equity { height: 1fr; min-height: 5; }
        & #note { height: auto; padding: 0 1; color: $text-muted; display: none; }
        &.-waiting > Vertical, &.-no-trades > Vertical { height: auto; }
        &.-waiting #equity, &.-waiting TradeTable { display: none; }
        &.-no-trades #equity, &.-no-trades TradeTable { display: none; }
        &.-noted #note { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "e",
            "export",
            "export",
            id="backtest_export",
            tooltip="Export the backtest's trades and equity curve as Parquet and CSV",
        ),
        Binding("escape,q", "dismiss", "close", show=False),
    ]

    @dataclass
    class RunAsked(Message):
        """The screen is up: the app runs the backtest off the UI thread."""

        request: BacktestRequest
        """The history to backtest."""

    @dataclass
    class ExportAsked(Message):
        """The user asked to export the backtest; the app writes it, as it does every export,
        so it says where the files went even when this screen was closed meanwhile."""

        session: SessionBacktest
        """The backtest to write."""

    def __init__(self, request: BacktestRequest, settings: Settings) -> None:
        super().__init__(classes="-waiting")
        self.request = request
        self.settings = settings
        self.session: SessionBacktest | None = None
        """The finished backtest, once the worker is done."""
        self.summary = BacktestSummary()
        self.equity = PlotPanel("equity", id="equity")
        self.trades = TradeTable()
        self.note = TextPanel(id="note")

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = backtest_view.title(self.request)
            yield self.summary
            yield self.equity
            yield self.trades
            yield self.note

    def on_mount(self) -> None:
        self.query_one(Vertical).border_subtitle = "escape close"
        self.summary.running(self.request)
        self.post_message(self.RunAsked(self.request))

    def _offer_export(self) -> None:
        """``e export Parquet + CSV · escape close`` under the box, the key as the keymap has
        it, once there is something to export."""
        export = next(
            (
                self.app.get_key_display(active.binding)
                for active in self.active_bindings.values()
                if active.binding.id == "backtest_export"
            ),
            "e",
        )
        self.query_one(Vertical).border_subtitle = f"{export} export Parquet + CSV · escape close"

    def failed(self, why: str) -> None:
        """The backtest could not run: say why."""
        self.summary.failed(why)

    def show(self, session: SessionBacktest) -> None:
        """Show a finished backtest: summary, equity curve, trades."""
        self.session = session
        if session.result.metrics.bars == 0:
            self.summary.waiting(
                self.request.waiting or "no z-score on these bars: a leg did not move"
            )
            return
        self.set_class(False, "-waiting")
        self._offer_export()
        self.summary.show(session, total_bars=self.request.total_bars)
        mode = session.result.params.price_mode
        self.equity.show_value(backtest_view.pnl(session.result.metrics.total_pnl, mode))
        if not session.result.trades:
            self.add_class("-no-trades", "-noted")
            self.note.set(backtest_view.no_trades(session))
            return
        self.equity.show_plot(backtest_view.equity_series(session))
        self.trades.show(session)
        count = len(session.result.trades)
        if count > MAX_ROWS:
            self.add_class("-noted")
            self.note.set(f"the latest {MAX_ROWS:,} of {count:,} trades; the export has all")
        self.trades.focus()

    def action_export(self) -> None:
        """Write the trades and the equity curve into the export folder, off the UI thread."""
        session = self.session
        if session is None or session.result.metrics.bars == 0:
            self.notify("nothing to export yet: no backtest", severity="warning")
            return
        self.notify("exporting the backtest…", timeout=2)
        self.post_message(self.ExportAsked(session))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
