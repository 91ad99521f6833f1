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

COINTEGRATED_P = 0.05
"""Both tests below this p-value: the pair is called cointegrated."""
WEAK_P = 0.10
"""Below this: weak evidence."""


class NotAvailable(Exception):
    """A part of the program this build does not have (yet)."""


@dataclass(frozen=True, slots=True)
class StationarityResult:
    """ADF on the window's residuals and Engle-Granger on its prices, with a verdict."""

    adf_stat: float | None
    adf_p: float | None
    adf_lags: int | None
    n: int
    coint_stat: float | None
    coint_p: float | None
    verdict: str
    """Plain words, e.g. ``likely cointegrated``."""
    cointegrated: bool
    weak: bool
    timeframe: str
    window: int
    until_ms: int
    """Start of the window's last bar, ms UTC."""


def _field(result: Any, *names: str) -> Any:
    """The first of ``names`` that ``result`` has (attribute or key), else None."""
    for name in names:
        if isinstance(result, dict) and name in result:
            return result[name]
        if hasattr(result, name):
            return getattr(result, name)
    return None


def verdict(adf_p: float | None, coint_p: float | None) -> tuple[str, bool, bool]:
    """Plain words for two p-values: (verdict, cointegrated, weak evidence)."""
    if adf_p is None or coint_p is None:
        return "no verdict", False, False
    worst = max(adf_p, coint_p)
    if worst < COINTEGRATED_P:
        return "likely cointegrated", True, False
    if worst < WEAK_P:
        return "weak evidence of cointegration", False, True
    return "not cointegrated on this window", False, False


def stationarity(data: Any, *, timeframe: str, window: int, until_ms: int) -> StationarityResult:
    """Run ADF and Engle-Granger on one window (blocking: call it from a thread worker).

    Args:
        data: The pipeline's ``window_data()``: ``y``, ``x`` and ``residuals`` arrays.
        timeframe, window, until_ms: What the window is, for the panel.

    Raises:
        NotAvailable: The stationarity module is not in this build.
    """
    try:
        tests = importlib.import_module("pairs_tui.analytics.stationarity")
    except ImportError as exc:
        raise NotAvailable("stationarity tests not available in this build") from exc
    adf = tests.adf_test(data.residuals)
    coint = tests.coint_test(data.y, data.x)
    adf_p = _field(adf, "pvalue", "p_value", "p")
    coint_p = _field(coint, "pvalue", "p_value", "p")
    words, yes, weak = verdict(adf_p, coint_p)
    words = _field(coint, "verdict") or words
    lags = _field(adf, "lags", "usedlag", "used_lag")
    return StationarityResult(
        adf_stat=_field(adf, "stat", "statistic", "adf"), adf_p=adf_p,
        adf_lags=None if lags is None else int(lags),
        n=int(_field(adf, "nobs", "n") or len(data.residuals)),
        coint_stat=_field(coint, "stat", "statistic"), coint_p=coint_p,
        verdict=str(words), cointegrated=yes, weak=weak,
        timeframe=timeframe, window=window, until_ms=until_ms,
    )


def export(kind: str, fmt: str, frames: dict[str, Any], *, folder: Path, stem: str) -> list[Path]:
    """Write a snapshot of the session through :mod:`pairs_tui.export` (blocking).

    Args:
        kind: What the caller asked for (``snapshot``).
        fmt: ``parquet`` or ``csv``.
        frames: ``ticks``, ``bars`` and ``analytics`` as Polars frames.
        folder: The export folder.
        stem: Pair, timeframe and time, for the file names.

    Returns:
        The files written.

    Raises:
        NotAvailable: The export module is not in this build.
    """
    try:
        module = importlib.import_module("pairs_tui.export")
    except ImportError as exc:
        raise NotAvailable("export not available in this build") from exc
    written = module.export_snapshot(frames, folder=folder, stem=stem, fmt=fmt)
    return [Path(p) for p in written]
