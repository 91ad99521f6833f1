"""The slow things a key starts — the stationarity tests and exports — as plain functions.

They run in thread workers, off the UI's thread, and talk only in the small result records
below, so the screen does not depend on the exact shapes of the analytics and export modules.
Nothing here imports Textual.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class NotAvailable(Exception):
    """A part of the program this build does not have (yet)."""


@dataclass(frozen=True, slots=True)
class StationarityLine:
    """One test as the panel shows it.

    Attributes:
        statistic, pvalue, lags, n: The test's figures; None when it did not run.
        verdict: Plain words (or why the test did not run).
        ran: The test ran (enough data, nothing degenerate).
    """

    statistic: float | None
    pvalue: float | None
    lags: int | None
    n: int
    verdict: str
    ran: bool


@dataclass(frozen=True, slots=True)
class StationarityResult:
    """ADF on the window's residuals and Engle-Granger on its legs, for one window."""

    adf: StationarityLine
    coint: StationarityLine
    timeframe: str
    window: int
    until_ms: int
    """Start of the window's last bar, ms UTC."""

    @property
    def tone(self) -> str:
        """``good``, ``weak`` or ``bad`` by the Engle-Granger p-value (``none`` if it did not
        run): that p-value accounts for a hedge fitted on the same window; ADF's does not."""
        p = self.coint.pvalue
        if p is None:
            return "none"
        return "good" if p < 0.05 else "weak" if p < 0.10 else "bad"


def _line(outcome: Any) -> StationarityLine:
    """A :mod:`pairs_tui.analytics.stationarity` outcome as a panel line."""
    ran = hasattr(outcome, "pvalue")
    return StationarityLine(
        statistic=getattr(outcome, "statistic", None), pvalue=getattr(outcome, "pvalue", None),
        lags=getattr(outcome, "lags", None), n=int(getattr(outcome, "n", 0)),
        verdict=str(getattr(outcome, "verdict", "")), ran=ran,
    )


def stationarity(data: Any, *, timeframe: str, window: int, until_ms: int) -> StationarityResult:
    """Run ADF and Engle-Granger on one window (blocking: call it from a thread worker).

    The tests run on the analytics' own one-thread executor, whose BLAS is pinned to one thread
    so a long window does not take the cores the feed and the screen need.

    Args:
        data: The pipeline's ``window_data()``.
        timeframe, window, until_ms: What the window is, for the panel.

    Raises:
        NotAvailable: The stationarity module is not in this build.
    """
    try:
        tests = importlib.import_module("pairs_tui.analytics.stationarity")
    except ImportError as exc:
        raise NotAvailable("stationarity tests not available in this build") from exc
    report = tests.stationarity_executor().submit(tests.stationarity_report, data).result()
    return StationarityResult(_line(report.adf), _line(report.coint), timeframe, window,
                              until_ms)


def take_export(pipeline: Any) -> Any:
    """The session's frames for an export, taken on the pipeline's thread (cheap, no copy).

    Raises:
        NotAvailable: The export module is not in this build.
    """
    try:
        module = importlib.import_module("pairs_tui.export")
    except ImportError as exc:
        raise NotAvailable("export not available in this build") from exc
    return module.take_session(pipeline)


def export(frames: Any, fmt: str, folder: Path) -> list[Path]:
    """Write taken frames as ticks, bars and analytics files, all or none (blocking).

    Raises:
        pairs_tui.export.ExportError: a file could not be written; nothing is left behind.
    """
    module = importlib.import_module("pairs_tui.export")
    return [Path(p) for p in module.write_session(frames, folder, fmt)]


def describe_export(paths: list[Path]) -> str:
    """``ticks, bars, analytics → /abs/exports/BTCUSDT-ETHUSDT_1s_*_20261122T015226Z.parquet``."""
    if not paths:
        return "nothing written"
    kinds = [p.name.split("_")[2] if p.name.count("_") >= 3 else p.stem for p in paths]
    first = paths[0]
    pattern = first.name.replace(f"_{kinds[0]}_", "_*_", 1)
    return f"{', '.join(kinds)} → {first.parent.resolve() / pattern}"
