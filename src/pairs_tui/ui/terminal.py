"""Raw writes to the user's terminal from inside the app: the desktop notifications' way out.

Textual 8.2.8 has no public call for it; ``App.bell`` and ``App.copy_to_clipboard`` write their
escapes through the driver (``self._driver.write``), whose writer thread puts them between two
frames, never inside one. The desktop sink does the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App


def terminal_writer(app: App[Any]) -> Callable[[str], None]:
    """A writer of escape sequences to ``app``'s terminal; call it on the app's event loop.

    In a headless app (the tests, ``run_test``) the driver drops what it is given.

    Raises:
        OSError: (from the writer) the app has no driver: not running, or gone.
    """

    def write(data: str) -> None:
        driver = app._driver
        if driver is None:
            raise OSError("the app is not running")
        driver.write(data)

    return write
