"""The hedge ratio: OLS beta with its standard error and R², Kalman beta, half-life, correlation."""

from __future__ import annotations

from textual.content import Content

from pairs_tui.analytics import PairStats
from pairs_tui.ui import formatting
from pairs_tui.ui.view import WarmUp
from pairs_tui.ui.widgets.text_panel import TextPanel


class HedgePanel(TextPanel):
    """Six lines under the heading ``hedge ratio``, on the window in the header::

    OLS β     0.8123 ± 0.0042
    R²        0.93
    Kalman β  0.8097
    half-life 41 bars (41 s)
    corr      0.87 of log returns
    """

    DEFAULT_CSS = """
    HedgePanel {
        width: 44;
        height: 100%;
        padding: 0 1;
        border-left: vkey $panel-lighten-2;
    }
    """

    def show(self, stats: PairStats | None, warm: WarmUp, *, bar_seconds: int) -> None:
        """Show the latest bar's statistics, or how many bars they still need."""
        if stats is None or stats.beta is None:
            waiting = warm.message(short=True)
            self.set(Content.assemble(("hedge ratio", "bold"), "\n", (waiting, "italic")))
            return
        half = stats.half_life
        half_text = (
            formatting.DASH
            if half is None or not formatting.known(half)
            else f"{half:,.0f} bars ({formatting.duration(half * bar_seconds)})"
        )
        lines: list[str | tuple[str, str]] = [
            ("hedge ratio", "bold"),
            "\n",
            "OLS β     ",
            (formatting.number(stats.beta), "bold"),
            f" ± {formatting.number(stats.beta_se)}\n",
            f"R²        {formatting.number(stats.r2, 2)}\n",
            "Kalman β  ",
            (formatting.number(stats.kalman_beta), "bold"),
            "\n",
            f"half-life {half_text}\n",
            f"corr      {formatting.number(stats.corr, 2)} of log returns",
        ]
        self.set(Content.assemble(*lines))
