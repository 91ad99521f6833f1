"""The stationarity tests on the current window, run on demand (key ``a``)."""

from __future__ import annotations

from textual.content import Content

from pairs_tui.analytics import InsufficientData
from pairs_tui.analytics.stationarity import TestOutcome
from pairs_tui.ui import formatting
from pairs_tui.ui.jobs import WindowTests
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

    def clear(self) -> None:
        """Back to the invitation to test (the results were of another pair)."""
        self.set_classes("")
        self.set(IDLE, layout=True)

    def running(self, bars: int, timeframe: str) -> None:
        """Say that the tests are running."""
        self.set_classes("")
        self.set(
            Content.assemble(
                ("running ADF and cointegration", "italic"), f" on {bars:,} bars of {timeframe}…"
            ),
            layout=True,
        )

    def failed(self, why: str, *shorter: str) -> None:
        """Say why the tests could not run: ``why``, or the first of ``shorter`` that fits on
        one line when ``why`` does not."""
        self.set_classes("-failed")
        width = self.content_size.width
        forms = [f"ADF and cointegration: {text}" for text in (why, *shorter)]
        text = next((f for f in forms if not width or len(f) <= width), forms[-1])
        self.set(text, layout=True)

    def show(self, result: WindowTests) -> None:
        """Show a finished run: both tests, then the verdict of Engle-Granger."""
        self.set_classes("-done")
        tone = {"good": "$success", "weak": "$warning", "bad": "$error"}.get(
            result.tone, "$text-muted"
        )
        verdict = (
            f"coint not run: {result.coint.verdict}"
            if isinstance(result.coint, InsufficientData)
            else result.coint.verdict
        )
        segments = [
            ("", Content.assemble(*_test("ADF", result.adf))),
            ("  ·  ", Content.assemble(*_test("coint", result.coint))),
            ("  ", Content.assemble("→ ", (verdict, f"bold {tone}"))),
            (
                "   ",
                Content.styled(
                    f"{result.timeframe}, {result.window:,} bars to "
                    f"{formatting.clock(result.until_ms)}",
                    "$text-muted",
                ),
            ),
        ]
        self.set(pack(segments, self.content_size.width, MAX_LINES), layout=True)


MAX_LINES = 2
"""The panel's height at most."""


def pack(segments: list[tuple[str, Content]], width: int, lines: int) -> Content:
    """Segments on at most ``lines`` lines of ``width`` cells, each whole: a segment that does
    not fit after the last goes on the next line (without its separator), or is left out
    when no line is left. ``width`` 0 puts everything on one line.

    Args:
        segments: ``(separator before it, segment)``, in order.
        width: Cells per line.
        lines: Lines available.
    """
    rows: list[Content] = []
    for separator, segment in segments:
        if rows and (
            not width or rows[-1].cell_length + len(separator) + segment.cell_length <= width
        ):
            rows[-1] = rows[-1] + separator + segment
        elif len(rows) < lines:
            rows.append(segment)
    return Content("\n").join(rows)


def _test(name: str, outcome: TestOutcome) -> list[str | tuple[str, str]]:
    """``ADF  stat -3.41  p 0.011  lags 2  n 300`` (or why it did not run)."""
    if isinstance(outcome, InsufficientData):
        return [(name, "bold"), f"  {outcome.verdict}"]
    return [
        (name, "bold"),
        f"  stat {formatting.number(outcome.statistic, 2)}",
        "  p ",
        (formatting.p_value(outcome.pvalue), "bold"),
        f"  lags {outcome.lags}  n {outcome.n:,}",
    ]
