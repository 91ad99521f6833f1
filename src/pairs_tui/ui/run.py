"""Running the TUI: the app built as the CLI and the tests build it, run until it ends."""

from __future__ import annotations

import contextlib
import io
import logging

from rich.console import Console

from pairs_tui.config import Options, UsageError
from pairs_tui.sinks.delivery import check_delivered
from pairs_tui.ui.app import PairsApp, SourceFactory

log = logging.getLogger("pairs_tui.ui")


class ScreenFailed(Exception):
    """The screen stopped on an unhandled error; its traceback is in the log."""


def make_app(options: Options, *, source_factory: SourceFactory | None = None) -> PairsApp:
    """The app for a session; the CLI and the tests build it the same way."""
    return PairsApp(options, source_factory=source_factory)


def run_app(options: Options) -> None:
    """Run the TUI until the user quits, ``--duration`` passes or the source fails to open.

    Raises:
        UsageError: The source could not be opened because of a bad argument.
        ScreenFailed: An unhandled error stopped the screen (the traceback is in the log).
    """
    app = make_app(options)
    # Textual prints an unhandled error's traceback on the terminal once the screen is gone:
    # it goes to the log instead, and the run ends with one line and exit code 1.
    report = io.StringIO()
    app.error_console = Console(file=report, width=120, color_system=None, highlight=False)
    with contextlib.suppress(KeyboardInterrupt):
        app.run()
    if app.usage_error:
        raise UsageError(app.usage_error)
    if app.return_code:
        log.error("the screen stopped on an error:\n%s", report.getvalue().rstrip())
        raise ScreenFailed("the screen stopped on an error of its own")
    check_delivered(app.delivery)
