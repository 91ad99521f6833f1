"""The slow things a key starts — stationarity tests, backtests, exports — as plain functions.

They run in thread workers, off the UI's thread, and talk only in the small result records
below, so the screen does not depend on the exact shapes of the analytics and export modules.
Nothing here imports Textual.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from pairs_tui.records import HedgeMethod, PriceMode, Timeframe
from pairs_tui.ui import view

if TYPE_CHECKING:
    from pairs_tui.backtest.session import SessionBacktest
    from pairs_tui.config import Settings
    from pairs_tui.pipeline import Pipeline


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
        statistic=getattr(outcome, "statistic", None),
        pvalue=getattr(outcome, "pvalue", None),
        lags=getattr(outcome, "lags", None),
        n=int(getattr(outcome, "n", 0)),
        verdict=str(getattr(outcome, "verdict", "")),
        ran=ran,
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
    return StationarityResult(_line(report.adf), _line(report.coint), timeframe, window, until_ms)


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
    """``ticks, bars, analytics → /abs/exports/BTCUSDT-ETHUSDT_1s_*_20261122T015226Z.parquet``,
    or ``….{parquet,csv}`` when one export wrote both formats."""
    if not paths:
        return "nothing written"
    kinds = list(
        dict.fromkeys(p.name.split("_")[2] if p.name.count("_") >= 3 else p.stem for p in paths)
    )
    suffixes = list(dict.fromkeys(p.suffix for p in paths))
    first = paths[0]
    pattern = first.name.replace(f"_{kinds[0]}_", "_*_", 1)
    if len(suffixes) > 1:
        pattern = pattern.removesuffix(first.suffix) + f".{{{','.join(x[1:] for x in suffixes)}}}"
    return f"{', '.join(kinds)} → {first.parent.resolve() / pattern}"


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    """What a backtest of the running session reads, taken on the pipeline's thread."""

    symbols: tuple[str, str]
    """The pair, target leg first."""
    timeframe: Timeframe
    """The active timeframe."""
    window: int
    """The analytics window."""
    price: PriceMode
    """Log or raw prices."""
    hedge: HedgeMethod
    """The hedge method."""
    bars: pl.DataFrame
    """The active timeframe's history: the bars and the very z-score the screen showed."""
    total_bars: int
    """Bars the session closed on that timeframe: more than ``bars.height`` once the history
    (``bars.history``) is full."""
    waiting: str
    """Why there is no z-score yet (the warm-up), or ``""`` once there is one."""


def take_backtest(pipeline: Pipeline) -> BacktestRequest:
    """The active timeframe's history and what it is, for :func:`backtest`. Cheap: no copy."""
    snapshot = pipeline.snapshot()
    warm = view.warm_up(snapshot)
    return BacktestRequest(
        symbols=pipeline.symbols,
        timeframe=pipeline.timeframe,
        window=pipeline.window,
        price=pipeline.price,
        hedge=pipeline.hedge,
        bars=pipeline.history(),
        total_bars=snapshot.bar_count,
        waiting="" if warm.warm else warm.message("the z-score"),
    )


def backtest(request: BacktestRequest, settings: Settings) -> SessionBacktest:
    """Run the backtest ``--backtest`` runs, with the config's levels and fees (blocking).

    Raises:
        ValueError: levels in the config that do not make a strategy.
    """
    from pairs_tui.backtest.engine import backtest_history
    from pairs_tui.backtest.session import SessionBacktest

    result = backtest_history(request.bars, settings, request.timeframe)
    return SessionBacktest(
        request.symbols,
        request.timeframe,
        request.window,
        request.price,
        request.hedge,
        request.bars,
        result,
    )


def export_backtest(session: SessionBacktest, folder: Path) -> list[Path]:
    """Write the trades and the equity curve as Parquet and CSV, four files, all or none,
    exactly as ``--backtest`` does (blocking).

    Raises:
        pairs_tui.export.ExportError: a file could not be written; nothing is left behind.
    """
    from pairs_tui.backtest.session import export_backtest as write

    return write(session, folder)


def why(exc: BaseException) -> str:
    """An error in one line: our own errors speak for themselves, others get their type."""
    if isinstance(exc, NotAvailable) or type(exc).__name__ == "ExportError":
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
