"""The summary of a backtest: results and risk side by side, then what it ran with."""

from __future__ import annotations

from textual.content import Content

from pairs_tui.backtest.session import SessionBacktest
from pairs_tui.ui import backtest_view
from pairs_tui.ui.jobs import BacktestRequest
from pairs_tui.ui.widgets.text_panel import TextPanel

LABEL = 13
"""Cells of a label, its value starting after it."""
COLUMN = 37
"""Cells of the left column (label and value)."""


class BacktestSummary(TextPanel):
    """::

    trades       5 (4 closed, 1 open)     Sharpe       - (4 trades, 245 bars: needs 10, 1,000)
    total P&L    -61.6 bp                 max drawdown 70.2 bp
    per trade    -12.1 bp                 in market    45% of the bars
    hit rate     0% (0 of 4)              avg holding  38 s
    fees paid    19.9 bp
    levels       entry ±2  exit 0  stop none  fees 4 bp per leg per fill
    bars         245 of 345 1s bars with a z-score, 23:56:56 → 00:00:00 UTC
    units        bp of A's notional: 1 USDT of BTCUSDT against β USDT of ETHUSDT
    """

    DEFAULT_CSS = """
    BacktestSummary {
        height: auto;
        padding: 0 1;
        &.-failed { color: $error; }
        &.-waiting { color: $text-muted; padding: 1 1; }
    }
    """

    def running(self, request: BacktestRequest) -> None:
        """Say that the backtest is running."""
        self.set_classes("-waiting")
        self.set(
            Content.assemble(
                ("running the backtest", "italic"),
                f" on {request.bars.height:,} bars of {request.timeframe}…",
            ),
            layout=True,
        )

    def failed(self, why: str) -> None:
        """Say why the backtest could not run."""
        self.set_classes("-failed")
        self.set(f"backtest failed: {why}", layout=True)

    def waiting(self, why: str) -> None:
        """Say plainly that there is nothing to backtest yet, and why."""
        self.set_classes("-waiting")
        self.set(Content.assemble(("nothing to backtest yet", "bold"), "\n", why), layout=True)

    def show(self, session: SessionBacktest, *, total_bars: int) -> None:
        """Show a finished backtest."""
        self.set_classes("")
        figures = backtest_view.results(session)
        left, right = figures[:5], figures[5:]
        parts: list[str | tuple[str, str]] = []
        for row, (label, value) in enumerate(left):
            parts += [(label.ljust(LABEL), "$text-muted"), (value.ljust(COLUMN - LABEL), "bold")]
            if row < len(right):
                label, value = right[row]
                parts += [(label.ljust(LABEL), "$text-muted"), (value, "bold")]
            parts.append("\n")
        for label, text in (
            ("levels", backtest_view.levels(session)),
            ("bars", backtest_view.coverage(session, total_bars)),
            ("units", backtest_view.units(session)),
        ):
            parts += [(label.ljust(LABEL), "$text-muted"), text, "\n"]
        self.set(Content.assemble(*parts[:-1]), layout=True)
