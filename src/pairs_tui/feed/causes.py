"""Why a connection ended or could not start, in words short enough for the status line."""

from __future__ import annotations

import errno
import socket
import ssl

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus


def close_sentence(code: int | None, reason: str | None) -> str:
    """Why a connection ended, in words, from its close code."""
    if not code or code == 1006:  # 1006: websockets' code for "no close frame received"
        return "connection lost (no close frame: the network or the exchange cut it)"
    why = f"{code} {reason or ''}".strip()
    if code == 1008:
        return (
            f"closed by the exchange for too many messages ({why}); Binance allows 10 a "
            "second and bans addresses it closes repeatedly, so the retry backs off"
        )
    if code == 1000:
        return f"closed by the exchange ({why}), as Binance does at a connection's 24-hour limit"
    return f"connection lost ({why})"


def connect_cause(exc: BaseException) -> str:
    """Why a connection attempt failed, in words that fit 80 columns: ``no network (DNS)``,
    ``refused``, ``HTTP 503``, ``timed out``..."""
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, socket.gaierror):
        return "no network (DNS)"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return "TLS failed"
    if isinstance(exc, ConnectionResetError):
        return "reset by the server"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "no network (unreachable)"
    if isinstance(exc, ConnectionClosed):
        return "closed during the handshake"
    if isinstance(exc, InvalidHandshake):
        return "bad handshake"
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 40 else f"{text[:39]}…"
