"""The stationarity tests on the current window, run on demand (key ``a``)."""

from __future__ import annotations

from textual.content import Content

from pairs_tui.ui import formatting
from pairs_tui.ui.jobs import StationarityResult
from pairs_tui.ui.widgets.text_panel import TextPanel

IDLE = "ADF and cointegration: press a to test the current window"


class StationarityPanel(TextPanel):
    """``ADF  stat -3.41  p 0.011  lags 2  n 300   coint p 0.034  → likely cointegrated``."""

    DEFAULT_CSS = """
    StationarityPanel {
        height: auto;
        max-height: 2;
        padding: 0 1;
        color: $text-muted;
        &.-done { color: $foreground; }
        &.-failed { color: $error; }
    }
    """

    def on_mount(self) -> None:
        self.set(IDLE)

    def running(self, bars: int, timeframe: str) -> None:
        """Say that the tests are running."""
        self.set_classes("")
        self.set(Content.assemble(("running ADF and cointegration", "italic"),
                                  f" on {bars:,} bars of {timeframe}…"), layout=True)

    def failed(self, why: str) -> None:
        """Say why the tests could not run."""
        self.set_classes("-failed")
        self.set(f"ADF and cointegration: {why}", layout=True)

    def show(self, result: StationarityResult) -> None:
        """Show a finished run."""
        self.set_classes("-done")
        tone = "$success" if result.cointegrated else "$warning" if result.weak else "$error"
        self.set(Content.assemble(
            ("ADF", "bold"), f"  stat {formatting.number(result.adf_stat, 2)}",
            "  p ", (formatting.p_value(result.adf_p), "bold"),
            f"  lags {result.adf_lags if result.adf_lags is not None else formatting.DASH}",
            f"  n {result.n:,}   ",
            ("coint", "bold"), " p ", (formatting.p_value(result.coint_p), "bold"),
            "  → ", (result.verdict, f"bold {tone}"),
            f"   {result.timeframe} · {result.window:,} bars to "
            f"{formatting.clock(result.until_ms)}",
        ), layout=True)
