"""The slow things a key starts — stationarity tests, backtests, exports — as blocking functions.

The app runs each in a thread worker, off the UI's thread, and takes what it returns (or raises)
in one ``Worker.StateChanged`` handler. Nothing here imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pairs_tui.analytics import InsufficientData, StationarityReport, WindowData
from pairs_tui.analytics.stationarity import TestOutcome, stationarity_executor, stationarity_report
from pairs_tui.backtest.engine import backtest_history
from pairs_tui.backtest.session import BacktestBars, SessionBacktest
from pairs_tui.config import Settings
from pairs_tui.export import ExportError
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import Timeframe
from pairs_tui.ui import view


@dataclass(frozen=True, slots=True)
class WindowTests:
    """ADF on the window's residuals and Engle-Granger on its legs, for one window."""

    report: StationarityReport
    """Both tests, as the analytics ran them."""
    timeframe: Timeframe
    """The window's timeframe."""
    window: int
    """Bars in the window."""
    until_ms: int
    """Start of the window's last bar, ms UTC."""

    @property
    def adf(self) -> TestOutcome:
        """ADF on the in-sample residuals."""
        return self.report.adf

    @property
    def coint(self) -> TestOutcome:
        """Engle-Granger on the two legs."""
        return self.report.coint

    @property
    def adf_pvalue(self) -> float | None:
        """ADF's p-value, what the ``adf_p`` alert rules watch; None when it did not run."""
        return None if isinstance(self.adf, InsufficientData) else self.adf.pvalue

    @property
    def tone(self) -> str:
        """``good``, ``weak`` or ``bad`` by the Engle-Granger p-value (``none`` if it did not
        run): that p-value accounts for a hedge fitted on the same window; ADF's does not."""
        if isinstance(self.coint, InsufficientData):
            return "none"
        p = self.coint.pvalue
        return "good" if p < 0.05 else "weak" if p < 0.10 else "bad"


def stationarity(
    data: WindowData, *, timeframe: Timeframe, window: int, until_ms: int
) -> WindowTests:
    """Run ADF and Engle-Granger on one window (blocking: call it from a thread worker).

    The tests run on the analytics' own one-thread executor, whose BLAS is pinned to one thread
    so a long window does not take the cores the feed and the screen need.

    Args:
        data: The pipeline's ``window_data()``.
        timeframe: The window's timeframe, for the panel.
        window: Bars in the window, for the panel.
        until_ms: Start of the window's last bar, for the panel.

    Returns:
        Both tests and what window they ran on.
    """
    report = stationarity_executor().submit(stationarity_report, data).result()
    return WindowTests(report, timeframe, window, until_ms)


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
class BacktestRequest(BacktestBars):
    """What a backtest of the running session reads (the active timeframe's), taken on the
    pipeline's thread."""

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

    Args:
        request: The history and what it is.
        settings: Where the levels and the fees come from.

    Returns:
        The backtest and what it ran on.

    Raises:
        ValueError: levels in the config that do not make a strategy.
    """
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


def why(exc: BaseException) -> str:
    """An error in one line: our own export errors speak for themselves, others get their type."""
    if isinstance(exc, ExportError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
