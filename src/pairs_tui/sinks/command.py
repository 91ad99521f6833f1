"""The command sink: a program run per alert, no shell, the alert's JSON object on its stdin.

The program's output goes nowhere near ours: its stdout is discarded (headless mode's stdout
carries JSON lines, the TUI's carries the screen) and its stderr is kept for the failure line.
It runs in a session of its own, so the Ctrl-C meant for pairs-tui does not cut it short while
the last alerts go out.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import msgspec

from pairs_tui.sinks.notice import AlertNotice, DeliveryFailed, alert_body
from pairs_tui.sinks.settings import CommandSinkSettings

_encode = msgspec.json.Encoder().encode
_STDERR_SHOWN = 200
"""Characters of the program's last stderr line quoted in a failure."""


class CommandSink:
    """Runs ``argv`` once per alert.

    Args:
        settings: The sink's entry in ``config.toml``.
    """

    def __init__(self, settings: CommandSinkSettings) -> None:
        self.settings = settings
        self.name = f"command {Path(settings.argv[0]).name}"
        """The program's name: its arguments may hold a token."""
        self._secrets = sorted((a for a in settings.argv[1:] if len(a) > 1), key=len, reverse=True)

    async def send(self, notice: AlertNotice) -> None:
        """Run the program with the alert on stdin.

        Raises:
            DeliveryFailed: it could not start, exited non-zero, or outlived the timeout.
        """
        argv = self.settings.argv
        timeout = self.settings.timeout_seconds
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise DeliveryFailed(f"cannot start it ({why})") from None
        try:
            async with asyncio.timeout(timeout):
                _, stderr = await process.communicate(_encode(alert_body(notice)) + b"\n")
        except TimeoutError:
            raise DeliveryFailed(f"still running after {timeout:g} s (killed)") from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                # Reaped so that no zombie is left; a killed process ends at once.
                with contextlib.suppress(Exception):
                    await asyncio.shield(process.wait())
        if process.returncode != 0:
            raise DeliveryFailed(f"exit status {process.returncode}{self._last_line(stderr)}")

    def _last_line(self, stderr: bytes) -> str:
        lines = stderr.decode(errors="replace").strip().splitlines()
        if not lines:
            return ""
        line = lines[-1]
        for secret in self._secrets:  # an argument may be a token the program echoes
            line = line.replace(secret, "…")
        return f": {line[:_STDERR_SHOWN]}"
