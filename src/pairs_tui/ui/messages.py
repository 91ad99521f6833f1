"""Messages the thread workers post back to the app (``post_message`` is thread-safe)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from pairs_tui.backtest.session import SessionBacktest
from pairs_tui.ui.jobs import StationarityResult


@dataclass
class StationarityDone(Message):
    """The stationarity tests finished, or failed with ``error``."""

    result: StationarityResult | None
    error: str | None = None


@dataclass
class ExportDone(Message):
    """An export finished (``paths`` written), or failed with ``error``."""

    paths: list[Path]
    error: str | None = None


@dataclass
class BacktestDone(Message):
    """The backtest of the session finished, or failed with ``error``."""

    session: SessionBacktest | None
    error: str | None = None
