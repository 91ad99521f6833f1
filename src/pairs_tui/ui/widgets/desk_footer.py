"""The footer of every full screen of the desk (the monitor, the watchlist, the scanner)."""

from __future__ import annotations

from textual.widgets import Footer


class DeskFooter(Footer):
    """Textual's footer, compact, without its own command-palette key: ``^p`` is one of the
    app's keys already, and Textual's (docked right behind a "▏") would list it twice."""

    DEFAULT_CSS = """
    DeskFooter.-compact FooterLabel { margin: 0 1 0 0; }
    """

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)
