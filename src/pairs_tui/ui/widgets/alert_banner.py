"""The newest alert (or a failure) in one line that flashes when it arrives."""

from __future__ import annotations

from textual.content import Content
from textual.timer import Timer

from pairs_tui.ui.widgets.text_panel import TextPanel

FLASHES = 6
"""Half-periods of the flash: three blinks."""


class AlertBanner(TextPanel):
    """``⚠ 23:58:41  z-score 2.13 crossed 2.0  (rule "z above 2")``.

    Hidden until the first alert. A new alert toggles the ``-flash`` class a few times (no
    animation, so it costs a handful of repaints); with animations off it just shows.
    """

    DEFAULT_CSS = """
    AlertBanner {
        display: none;
        height: 1;
        padding: 0 1;
        background: $warning 20%;
        color: $text-warning;
        text-style: bold;
        &.-shown { display: block; }
        &.-flash { background: $warning; color: $background; }
        &.-error { background: $error 25%; color: $text-error; }
        &.-error.-flash { background: $error; color: $background; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._flasher: Timer | None = None
        self._flips = 0

    def alert(self, text: str | Content, *, error: bool = False) -> None:
        """Show ``text`` and flash.

        Args:
            text: The line.
            error: A failure rather than an alert rule firing.
        """
        mark = "✖ " if error else "⚠ "
        self.set(Content.assemble((mark, "bold"), text))
        self.set_class(error, "-error")
        self.add_class("-shown")
        if self._flasher is not None:
            self._flasher.stop()
        if self.app.animation_level == "none":
            return
        self._flips = 0
        self._flasher = self.set_interval(0.15, self._flip, repeat=FLASHES)

    def clear(self) -> None:
        """Hide the banner (its alert was of another pair)."""
        if self._flasher is not None:
            self._flasher.stop()
            self._flasher = None
        self.set("")
        self.remove_class("-shown", "-flash", "-error")

    def _flip(self) -> None:
        self._flips += 1
        self.set_class(self._flips % 2 == 1, "-flash")
