"""One leg's last price, its change since the session began and a sparkline of its closes."""

from __future__ import annotations

import numpy as np
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content

from pairs_tui.snapshot import LegQuote
from pairs_tui.ui import formatting, plotting
from pairs_tui.ui.widgets.text_panel import TextPanel


class QuotePanel(Horizontal):
    """``BTCUSDT  61,812.40  +0.12%  ▁▂▃▅▆▇▆▅``, one line.

    The price and the sparkline are two panels, so a new price (ten times a second) repaints a
    few cells, not the sparkline too; the sparkline changes when a bar closes. It is one run of
    block characters in one colour: a per-cell gradient costs about ten times the bytes over SSH.

    Args:
        symbol: The leg's symbol, shown until its first trade.
    """

    DEFAULT_CSS = """
    QuotePanel {
        width: 1fr;
        height: 1;
        padding: 0 1;
        & > .price { width: auto; height: 1; }
        & > .spark { width: 1fr; height: 1; padding-left: 2; color: $accent; }
    }
    """

    def __init__(self, symbol: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.symbol = symbol
        """The leg's symbol."""
        self._price = TextPanel(Content.styled(symbol, "bold"), classes="price")
        self._spark = TextPanel("", classes="spark")

    def compose(self) -> ComposeResult:
        yield self._price
        yield self._spark

    def show(self, quote: LegQuote | None) -> None:
        """Show the latest trade (ten times a second)."""
        if quote is None:
            self._price.set(
                Content.assemble((self.symbol, "bold"), "  waiting for trades…"), layout=True
            )
            return
        move = quote.price - quote.first_price
        tone = "$success" if move > 0 else "$error" if move < 0 else "$text-muted"
        # Two style runs, the spaces inside them (they look the same in any style): each run
        # is a colour escape on the wire, and this line is redrawn ten times a second.
        text = Content.assemble(
            (f"{self.symbol}  {formatting.price(quote.price)}", "bold"),
            (f"  {formatting.change(quote.price, quote.first_price)}", tone),
        )
        # Relayout only when the width changes (a price gaining a digit), not on every tick.
        self._price.set(text, layout=text.cell_length != self._price.content_size.width)

    def show_closes(self, closes: np.ndarray) -> None:
        """Draw the sparkline of the latest closes (when a bar closed, or on resize)."""
        self._spark.set(plotting.sparkline(closes, self._spark.content_size.width))
