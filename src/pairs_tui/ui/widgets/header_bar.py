"""The top line: the pair, the timeframe, the window and the model; the feed's state."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content

from pairs_tui.records import TICK
from pairs_tui.snapshot import Snapshot
from pairs_tui.ui import formatting, view
from pairs_tui.ui.widgets.text_panel import TextPanel

STATE_MARKS = {
    "live": ("●", "$success"),
    "replay": ("●", "$accent"),
    "connecting": ("◌", "$text-muted"),
    "stale": ("●", "$warning"),
    "reconnecting": ("◌", "$warning"),
    "done": ("■", "$accent"),
    "stopped": ("■", "$error"),
}
"""The mark and colour of each feed state."""


def state_mark(state: str) -> tuple[str, str]:
    """The mark and colour that stand for a feed state."""
    return STATE_MARKS.get(state, ("●", "$text-muted"))


class HeaderBar(Horizontal):
    """`` pairs-tui  BTCUSDT / ETHUSDT   1s   window 300   OLS on log prices   ● live  38 ms``."""

    DEFAULT_CSS = """
    HeaderBar {
        height: 1;
        background: $panel;
        & > #title { width: 1fr; height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: clip; }
        & > #feed { width: auto; height: 1; padding: 0 1; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._title = TextPanel("pairs-tui", id="title")
        self._feed = TextPanel("", id="feed")

    def compose(self) -> ComposeResult:
        yield self._title
        yield self._feed

    def show(self, snapshot: Snapshot, *, paused: bool, stopped: str | None) -> None:
        """Show the pair and the state of the feed and of the display."""
        feed = snapshot.feed
        if stopped:
            mark, tone, words = "■", "$error", "stopped"
        elif snapshot.finished:
            mark, tone, words = "■", "$accent", "replay finished"
        else:
            mark, tone = state_mark(feed.state)
            words = feed.state
            if feed.latency_ms is not None:
                words += f"  {formatting.latency(feed.latency_ms)}"
        parts: list[str | tuple[str, str]] = [(mark, tone), " ", words]
        if paused:
            parts = [("PAUSED", "bold reverse $warning"), "  ", *parts]
        right = Content.assemble(*parts)
        self._feed.set(right, layout=True)
        self._title.set(_title(snapshot, self.size.width - right.cell_length - 4))


def _title(snapshot: Snapshot, width: int) -> Content:
    """The longest form of the title that fits in ``width`` cells."""
    a, b = snapshot.symbols
    tf: tuple[str, str] = (snapshot.timeframe, "bold")
    window = (f"{snapshot.window:,}", "bold")
    if snapshot.timeframe == TICK:
        # A z-score per trade mixes the legs' asynchronous prints: correlation shrinks
        # towards zero at this scale (the Epps effect), so the screen says so.
        tf = ("tick-level", "bold $warning")
        noisy = Content.styled(", noisy (Epps effect)", "$warning")
        short_noisy = Content.styled(", noisy", "$warning")
    else:
        noisy = short_noisy = Content("")
    forms = [
        Content.assemble(
            ("pairs-tui", "bold $accent"),
            "  ",
            (f"{a} / {b}", "bold"),
            "   ",
            tf,
            noisy,
            "   window ",
            window,
            "   ",
            view.model_text(snapshot),
        ),
        Content.assemble(
            (f"{a} / {b}", "bold"),
            "  ",
            tf,
            short_noisy,
            "  window ",
            window,
            "  ",
            view.model_text(snapshot, short=True),
        ),
        Content.assemble(
            (f"{a}/{b}", "bold"),
            " ",
            tf,
            short_noisy,
            " w ",
            window,
            " ",
            view.model_text(snapshot, short=True),
        ),
        Content.assemble((f"{a}/{b}", "bold"), " ", tf, short_noisy, " w ", window),
    ]
    return next((form for form in forms if form.cell_length <= width), forms[-1])
