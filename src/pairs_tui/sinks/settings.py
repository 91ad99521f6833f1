"""The ``[[alerts.sinks]]`` entries of ``config.toml``: where fired alerts are delivered.

Each entry is one sink, told apart by its ``kind``::

    [[alerts.sinks]]
    kind = "webhook"
    url = "https://ntfy.sh/my-secret-topic"
    format = "ntfy"

    [[alerts.sinks]]
    kind = "command"
    argv = ["notify-send", "pairs-tui"]

    [[alerts.sinks]]
    kind = "desktop"

The model is a msgspec tagged union on ``kind``, so an unknown kind, a missing ``url`` or a key
that belongs to another kind is an error naming the key and its line, like every other key.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeAlias
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

SinkKind = Literal["webhook", "command", "desktop"]
WebhookFormat = Literal["json", "slack", "discord", "telegram", "ntfy"]
DesktopEscape = Literal["osc9", "osc777", "both"]

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
"""An HTTP header name (RFC 9110 token)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Sink(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="kind"):
    """Base of every sink: unknown keys are errors, ``kind`` picks the class."""

    timeout_seconds: Annotated[float, Meta(gt=0, le=300)] = 10.0
    """How long one delivery may take before it counts as failed (and is retried)."""


class WebhookSinkSettings(_Sink, tag="webhook"):
    """An HTTP POST per alert, in the body one service expects."""

    url: str
    """Where to POST (``http://`` or ``https://``). It often holds a secret (a Slack or Discord
    hook path, a Telegram bot token, an ntfy topic): logs and the screen show only its host."""
    format: WebhookFormat = "json"
    """``json``: the alert object (rule, metric, op, threshold, value, ts, symbol_a, symbol_b,
    timeframe, message); ``slack``: ``{"text": …}``; ``discord``: ``{"content": …}``;
    ``telegram``: the Bot API's ``sendMessage`` (url
    ``https://api.telegram.org/bot<TOKEN>/sendMessage``, with ``chat_id``); ``ntfy``: the
    message as plain text to the topic URL, with ``Title``, ``Priority`` and ``Tags`` headers."""
    chat_id: int | str | None = None
    """The Telegram chat to write to (a number, or ``@channel``); required by ``telegram``."""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    """Extra request headers, e.g. ``Authorization = "Bearer tk_…"`` for a protected ntfy topic.
    Their values are never logged."""


class CommandSinkSettings(_Sink, tag="command"):
    """A program run per alert, with the alert's JSON object on its standard input."""

    argv: list[str]
    """The program and its arguments, run without a shell. A non-zero exit status, or running
    longer than ``timeout_seconds``, is a failed delivery."""


class DesktopSinkSettings(_Sink, tag="desktop"):
    """A desktop notification through the terminal's own escape sequence (works over SSH)."""

    escape: DesktopEscape = "osc9"
    """``osc9`` (e.g. iTerm2, WezTerm, Ghostty, kitty), ``osc777`` (e.g. foot, urxvt, Ghostty)
    or ``both`` (two notifications where a terminal knows both). Inside
    tmux the sequence is wrapped for passthrough, which needs ``set -g allow-passthrough on``."""


SinkSettings: TypeAlias = WebhookSinkSettings | CommandSinkSettings | DesktopSinkSettings
"""One ``[[alerts.sinks]]`` entry."""


def sink_problems(sink: SinkSettings) -> list[tuple[str, str]]:
    """What is wrong with a sink beyond its types, as ``(key, why)`` pairs."""
    problems: list[tuple[str, str]] = []
    if isinstance(sink, WebhookSinkSettings):
        problems.extend(_webhook_problems(sink))
    elif isinstance(sink, CommandSinkSettings):
        if not sink.argv:
            problems.append(("argv", "names no program: give at least the program to run"))
        elif not sink.argv[0].strip():
            problems.append(("argv", "the program (first item) is empty"))
        if any("\x00" in arg for arg in sink.argv):
            problems.append(("argv", "an argument holds a NUL character"))
    return problems


def _webhook_problems(sink: WebhookSinkSettings) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    try:
        parts = urlsplit(sink.url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        # The url itself is not repeated: it may carry a token.
        problems.append(("url", "must be an http:// or https:// URL with a host"))
    elif _CONTROL.search(sink.url) or " " in sink.url:
        problems.append(("url", "holds spaces or control characters"))
    if sink.format == "telegram" and sink.chat_id in (None, ""):
        problems.append(("chat_id", "format telegram needs the chat to write to"))
    if sink.format != "telegram" and sink.chat_id is not None:
        problems.append(("chat_id", f"only used by format telegram, not {sink.format}"))
    for name, value in sink.headers.items():
        if not _HEADER_NAME.match(name):
            problems.append(("headers", f"{name!r} is not a header name"))
        elif _CONTROL.search(value) or not value.isascii():
            problems.append(("headers", f"the value of {name} must be printable ASCII"))
    return problems
