"""The desktop sink: a notification through the terminal's own escape sequence.

The terminal, not this machine, shows it, so it works over SSH. Two sequences exist:

- OSC 9 (iTerm2's, also read by WezTerm, Ghostty, kitty): ``ESC ] 9 ; body ESC \\``;
- OSC 777 (urxvt's, also read by foot, Ghostty, some VTE terminals):
  ``ESC ] 777 ; notify ; title ; body ESC \\``.

Inside tmux (``$TMUX`` set) the sequence is wrapped for passthrough, ``ESC P tmux; … ESC \\``
with every inner ESC doubled; tmux forwards it when ``allow-passthrough`` is on.

Title and body are cleaned first: no control character (ESC, BEL, C1) and no ``;`` can end the
sequence early or start another. In the TUI the sequence goes through Textual's driver, between
two frames; in headless mode to ``/dev/tty``, never to stdout, which carries the JSON lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Callable

from pairs_tui.sinks.notice import AlertNotice, DeliveryFailed, alert_title
from pairs_tui.sinks.settings import DesktopEscape, DesktopSinkSettings

ESC = "\x1b"
ST = ESC + "\\"
"""String terminator, which every terminal that reads OSC also reads (BEL is not universal)."""
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
"""C0 controls, DEL and C1 controls (U+0080..U+009F: 8-bit CSI, OSC and ST among them)."""
TITLE_LIMIT = 80
BODY_LIMIT = 240


def clean(text: str, limit: int) -> str:
    """``text`` made safe inside an OSC string: one line, no control character, no ``;``."""
    text = _UNSAFE.sub(" ", text).replace(";", ",")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def osc9(body: str) -> str:
    """``ESC ] 9 ; body ESC \\`` (``body`` already cleaned)."""
    return f"{ESC}]9;{body}{ST}"


def osc777(title: str, body: str) -> str:
    """``ESC ] 777 ; notify ; title ; body ESC \\`` (both already cleaned)."""
    return f"{ESC}]777;notify;{title};{body}{ST}"


def tmux_passthrough(sequence: str) -> str:
    """``sequence`` wrapped so that tmux hands it to the outer terminal."""
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ST}"


def notification(
    title: str, body: str, escape: DesktopEscape = "osc9", *, tmux: bool = False
) -> str:
    """The escape sequence(s) that show ``title`` and ``body`` as a desktop notification."""
    title, body = clean(title, TITLE_LIMIT), clean(body, BODY_LIMIT)
    sequences: list[str] = []
    if escape in ("osc9", "both"):
        # OSC 9 has no title. "pairs-tui" in front also keeps the body from starting with a
        # digit (1000PEPEUSDT), which ConEmu-style terminals would read as a sub-command.
        sequences.append(osc9(f"{title}: {body}"))
    if escape in ("osc777", "both"):
        sequences.append(osc777(title, body))
    if tmux:
        sequences = [tmux_passthrough(s) for s in sequences]
    return "".join(sequences)


def notice_body(notice: AlertNotice) -> str:
    """The notification's text: the alert's message."""
    return notice.event.message


class DesktopSink:
    """Writes a notification escape per alert.

    Args:
        settings: The sink's entry in ``config.toml``.
        write: Writes to the user's terminal.
        tmux: Wrap for tmux passthrough.
        blocking: ``write`` may block (a plain file descriptor: a terminal stopped by Ctrl-S
            blocks its writer), so it runs in a thread, bounded by the sink's timeout.
    """

    def __init__(
        self,
        settings: DesktopSinkSettings,
        write: Callable[[str], None],
        *,
        tmux: bool = False,
        blocking: bool = False,
    ) -> None:
        self.settings = settings
        self.name = f"desktop {settings.escape}"
        """What logs and the screen call it."""
        self._write = write
        self._tmux = tmux
        self._blocking = blocking

    async def send(self, notice: AlertNotice) -> None:
        """Write one notification.

        Raises:
            DeliveryFailed: the terminal cannot be written to, or a blocking write timed out.
        """
        data = notification(
            alert_title(notice), notice_body(notice), self.settings.escape, tmux=self._tmux
        )
        try:
            if self._blocking:
                async with asyncio.timeout(self.settings.timeout_seconds):
                    await asyncio.to_thread(self._write, data)
            else:
                self._write(data)
        except TimeoutError:
            raise DeliveryFailed("the terminal takes no output") from None
        except OSError as exc:
            raise DeliveryFailed(f"cannot write to the terminal ({exc.strerror or exc})") from None


class Tty:
    """``/dev/tty`` open for writing: the controlling terminal, whatever stdout is."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def write(self, data: str) -> None:
        """Write all of ``data`` (blocking).

        Raises:
            OSError: the terminal is gone or closed.
        """
        if self._fd is None:
            raise OSError(9, "closed")
        view = memoryview(data.encode())
        while view:
            view = view[os.write(self._fd, view) :]

    async def aclose(self) -> None:
        """Close it (the delivery service's closer)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def open_tty(path: str = "/dev/tty") -> Tty | None:
    """The controlling terminal, or None when there is none (a service, a pipe from cron)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    return Tty(fd)
