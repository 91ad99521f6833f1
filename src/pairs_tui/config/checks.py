"""Checks of single values that the command line and ``config.toml`` share: a symbol, a URL,
a window, a duration.

Each returns what is wrong in words (``""`` when nothing is), so the caller can say where: the
CLI names the option, the config file the key and its line.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

SYMBOL_PATTERN = re.compile(r"[A-Z0-9]{2,30}")
"""A symbol after upper-casing: what Binance lists, and nothing that could change a URL."""
PAIR_PATTERN = re.compile(r"^[A-Z0-9]{2,30}/[A-Z0-9]{2,30}$")
"""A pair as the watchlist writes it: ``BTCUSDT/ETHUSDT`` (target, then hedge), upper case."""
MAX_WINDOW = 100_000
"""The widest analytics window: more than a day of 1s bars, a year of 5m bars."""
MAX_DURATION_S = 10 * 365 * 86_400.0
"""The longest ``--duration``: ten years; more is a typing slip."""
MAX_SPEED = 1_000_000.0
"""The fastest timed replay; ``--speed 0`` is as fast as possible."""


def symbol_problem(text: str) -> str:
    """What is wrong with a symbol as typed (``""`` when nothing is)."""
    if SYMBOL_PATTERN.fullmatch(text.upper()):
        return ""
    # repr: a newline or a control character shows as an escape, and the message stays a line.
    return f"symbol {text!r}: a symbol is 2 to 30 letters and digits (e.g. BTCUSDT)"


def url_problem(text: str, schemes: tuple[str, ...]) -> str:
    """What is wrong with a base URL (``""`` when nothing is).

    Args:
        text: The URL as given.
        schemes: The schemes allowed, e.g. ``("ws", "wss")``.
    """
    want = " or ".join(f"{s}://" for s in schemes)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return f"{text!r} is not a URL ({exc})"
    if parts.scheme.lower() not in schemes:
        return f"{text!r} is not a {want} URL"
    if not parts.hostname:
        return f"{text!r} has no host"
    if port == 0:
        return f"{text!r}: port 0"
    if parts.query or parts.fragment or any(c.isspace() for c in text):
        return f"{text!r} is not a base URL (no spaces, query or fragment)"
    return ""


def window_problem(window: int) -> str:
    """What is wrong with an analytics window (``""`` when nothing is)."""
    if window < 3:
        return f"must be at least 3, got {window}"
    if window > MAX_WINDOW:
        return f"must be at most {MAX_WINDOW:,}, got {window:,}"
    return ""


def duration_problem(seconds: float) -> str:
    """What is wrong with a ``--duration`` (``""`` when nothing is)."""
    if not math.isfinite(seconds) or seconds <= 0:
        return f"must be a positive number of seconds, got {seconds}"
    if seconds > MAX_DURATION_S:
        return f"must be at most {MAX_DURATION_S:,.0f} s (ten years), got {seconds:g}"
    return ""


def speed_problem(speed: float) -> str:
    """What is wrong with a replay ``--speed`` (``""`` when nothing is)."""
    if not math.isfinite(speed) or speed < 0 or speed > MAX_SPEED:
        return f"must be between 0 and {MAX_SPEED:,.0f}, got {speed}"
    return ""


def argument_problems(
    *,
    symbols: list[str],
    url: str | None,
    rest_url: str | None,
    window: int | None,
    duration: float | None,
    speed: float | None,
) -> str:
    """The first problem of the command line's values, naming the option (``""`` if none).

    Values left out (None) are not checked.
    """
    for symbol in symbols:
        problem = symbol_problem(symbol)
        if problem:
            return problem
    found: list[tuple[str, str]] = [
        ("--url", "" if url is None else url_problem(url, ("ws", "wss"))),
        ("--rest-url", "" if rest_url is None else url_problem(rest_url, ("http", "https"))),
        ("--window", "" if window is None else window_problem(window)),
        ("--duration", "" if duration is None else duration_problem(duration)),
        ("--speed", "" if speed is None else speed_problem(speed)),
    ]
    for option, problem in found:
        if problem:
            return f"{option} {problem}" if problem.startswith("'") else f"{option}: {problem}"
    return ""


def parse_pair(text: str) -> tuple[str, str]:
    """``btcusdt/ethusdt`` → ``("BTCUSDT", "ETHUSDT")``.

    Raises:
        ValueError: not ``TARGET/HEDGE`` with two different symbols; the message says why.
    """
    problem = pair_problem(text)
    if problem:
        raise ValueError(problem)
    a, b = text.upper().split("/")
    return a, b


def pair_problem(text: str) -> str:
    """What is wrong with a pair as written (``""`` when nothing is)."""
    shown = repr(text)
    if not PAIR_PATTERN.match(text.upper()):
        return f"{shown} is not TARGET/HEDGE with symbols of 2 to 30 letters and digits"
    a, b = text.upper().split("/")
    if a == b:
        return f"{shown}: the two legs must differ"
    return ""
