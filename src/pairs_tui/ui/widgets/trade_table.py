"""The trades of a backtest, one row each, newest at the bottom."""

from __future__ import annotations

from rich.console import JustifyMethod
from rich.text import Text
from textual.widgets import DataTable

from pairs_tui.backtest.session import SessionBacktest
from pairs_tui.ui import backtest_view

MAX_ROWS = 1_000
"""Trades listed at most (the latest); the export holds them all."""
_RIGHT = frozenset({"#", "z in", "z out", "held", "P&L"})
"""Columns of numbers, aligned on the right."""
_JUSTIFY: tuple[JustifyMethod, ...] = tuple(
    "right" if name in _RIGHT else "left" for name in backtest_view.TRADE_COLUMNS
)


class TradeTable(DataTable[Text]):
    """``#  side  entry  z in  exit  z out  why  held  P&L`` per round trip."""

    DEFAULT_CSS = """
    TradeTable {
        height: auto;
        max-height: 9;
        padding: 0 1;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id=id, classes=classes)
        self.shown = 0
        """Trades listed."""

    def on_mount(self) -> None:
        for name, side in zip(backtest_view.TRADE_COLUMNS, _JUSTIFY, strict=True):
            self.add_column(Text(name, justify=side), key=name)

    def show(self, session: SessionBacktest) -> None:
        """List the latest :data:`MAX_ROWS` trades and put the cursor on the newest."""
        mode = session.result.params.price_mode
        trades = session.result.trades
        first = max(0, len(trades) - MAX_ROWS)
        self.clear()
        self.add_rows(
            [
                Text(cell, justify=side)
                for cell, side in zip(
                    backtest_view.trade_row(n, trade, mode), _JUSTIFY, strict=True
                )
            ]
            for n, trade in enumerate(trades[first:], start=first + 1)
        )
        self.shown = len(trades) - first
        if self.shown:
            self.move_cursor(row=self.shown - 1)
