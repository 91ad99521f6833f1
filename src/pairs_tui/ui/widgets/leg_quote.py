"""One leg's last price, its change since the session began and a sparkline of its closes."""

from __future__ import annotations

import numpy as np
from textual.content import Content

from pairs_tui.pipeline import LegQuote as Quote
from pairs_tui.ui import formatting, plotting
from pairs_tui.ui.widgets.text_panel import TextPanel


class LegQuote(TextPanel):
    """``BTCUSDT  61,812.40  +0.12%  ▁▂▃▅▆▇▆▅``, one line.

    The sparkline is one run of block characters in one colour: a per-cell gradient costs
    about ten times the bytes over SSH for the same information.
    """

    DEFAULT_CSS = """
    LegQuote {
        width: 1fr;
        height: 1;
        padding: 0 1;
    }
    """

    def __init__(self, symbol: str, **kwargs: object) -> None:
        super().__init__(symbol, **kwargs)
        self.symbol = symbol
        """The leg's symbol, shown until its first trade."""

    def show(self, quote: Quote | None, closes: np.ndarray) -> None:
        """Show the latest trade and the closes of the latest bars.

        Args:
            quote: The leg's latest trade, or None before it.
            closes: Closes of the latest bars, oldest first.
        """
        if quote is None:
            self.set(Content.assemble((self.symbol, "bold"), "  waiting for trades…"))
            return
        price = formatting.price(quote.price)
        change = formatting.change(quote.price, quote.first_price)
        move = quote.price - quote.first_price
        tone = "$success" if move > 0 else "$error" if move < 0 else "$text-muted"
        used = len(self.symbol) + len(price) + len(change) + 6
        spark = plotting.sparkline(closes, max(0, self.content_size.width - used))
        self.set(Content.assemble(
            (self.symbol, "bold"), "  ", (price, "bold"), "  ", (change, tone), "  ",
            (spark, "$accent"),
        ))
