"""What a sink is given and how it says it failed: one fired alert with its pair and timeframe,
its JSON body, its title and its one-line text."""

from __future__ import annotations

from typing import Protocol

import msgspec

from pairs_tui.snapshot import AlertEvent


class AlertNotice(msgspec.Struct, frozen=True):
    """A fired alert on its way out: the event, with the pair and the timeframe it fired on."""

    event: AlertEvent
    symbol_a: str
    """The target leg."""
    symbol_b: str
    """The hedge leg."""
    timeframe: str | None
    """The bars' timeframe; None for an alert that is not about bars (``stale``)."""


class AlertBody(msgspec.Struct, frozen=True):
    """The alert as JSON: the ``json`` webhook's body and a command's standard input."""

    rule: str
    metric: str
    op: str
    threshold: float
    value: float
    ts: int
    """The event's time, ms UTC."""
    symbol_a: str
    symbol_b: str
    timeframe: str | None
    message: str


def alert_body(notice: AlertNotice) -> AlertBody:
    """The JSON object of one alert, fields in the documented order."""
    event = notice.event
    return AlertBody(
        rule=event.rule,
        metric=event.metric,
        op=event.op,
        threshold=event.threshold,
        value=event.value,
        ts=event.time,
        symbol_a=notice.symbol_a,
        symbol_b=notice.symbol_b,
        timeframe=notice.timeframe,
        message=event.message,
    )


def alert_title(notice: AlertNotice) -> str:
    """A short ASCII title: ``pairs-tui BTCUSDT/ETHUSDT 1s``."""
    title = f"pairs-tui {notice.symbol_a}/{notice.symbol_b}"
    return f"{title} {notice.timeframe}" if notice.timeframe else title


def alert_text(notice: AlertNotice) -> str:
    """One line for a chat: ``BTCUSDT/ETHUSDT 1s: zscore 2.13 crossed above 2 (rule "z")``."""
    pair = f"{notice.symbol_a}/{notice.symbol_b}"
    where = f"{pair} {notice.timeframe}" if notice.timeframe else pair
    return f"{where}: {notice.event.message}"


class DeliveryFailed(Exception):
    """One delivery attempt failed; the message is safe to log (it holds no secret)."""


class Sink(Protocol):
    """Somewhere alerts go."""

    name: str
    """How logs and the screen call it: kind, format and host, never a secret."""

    async def send(self, notice: AlertNotice) -> None:
        """Deliver one alert.

        Raises:
            DeliveryFailed: it did not arrive (the service retries).
        """
