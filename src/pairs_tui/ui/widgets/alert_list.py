"""Every alert of the session, newest first, as many as fit."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from pairs_tui.snapshot import AlertEvent
from pairs_tui.ui import formatting, view
from pairs_tui.ui.widgets.text_panel import TextPanel


class AlertList(TextPanel):
    """``23:58:41  z-score 2.13 crossed 2.0  (rule "z above 2")``, one line each."""

    DEFAULT_CSS = """
    AlertList {
        height: 4;
        padding: 0 1;
        color: $text-muted;
    }
    """

    def show(self, events: Sequence[AlertEvent]) -> None:
        """Show the newest events that fit."""
        rows = max(1, self.content_size.height or 3)
        if not events:
            self.set(Content.styled("alerts: none yet", "italic"))
            return
        lines: list[str | tuple[str, str]] = []
        for event in list(events)[-rows:][::-1]:
            lines += [
                (formatting.clock(view.alert_time(event)), "bold"),
                f"  {view.alert_text(event)}\n",
            ]
        self.set(Content.assemble(*lines).rstrip())
