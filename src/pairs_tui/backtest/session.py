"""``--backtest``: replay a session through the live pipeline, backtest it, report it.

The bars and analytics come from the same :class:`~pairs_tui.pipeline.Pipeline` the screen runs,
so the backtest trades the z-score the user would have seen. The summary is one JSON object on
stdout; with ``analytics.backtest_export`` the trades and the equity curve are also written as
Parquet and CSV into the export folder, atomically like every export (:mod:`pairs_tui.export`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import msgspec
import polars as pl

from pairs_tui.backtest.engine import backtest_history
from pairs_tui.backtest.history import ResearchBars, analyse, load_history, replayed
from pairs_tui.backtest.results import BacktestMetrics, BacktestResult, BacktestTrade
from pairs_tui.config import NotWritten, Options, UsageError
from pairs_tui.export import (
    ExportError,
    ExportFormat,
    prepare_folder,
    with_datetimes,
    write_all,
)
from pairs_tui.feed.source import TradeSource
from pairs_tui.launcher import build_pipeline, open_source
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import TICK, HedgeMethod, PriceMode, Timeframe

log = logging.getLogger("pairs_tui.backtest")

UNITS = {"log": "USDT per 1 USDT of A", "raw": "USDT per 1 unit of A"}
"""What one unit of P&L means in each price mode."""


class BacktestReport(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON summary ``--backtest`` prints: the run, its metrics, its trades."""

    symbol_a: str
    symbol_b: str
    timeframe: str
    window: int
    price: str
    hedge: str
    entry_z: float
    exit_z: float
    stop_z: float | None
    fee_bps: float
    units: str
    """What a P&L figure is measured in."""
    hedge_source: str
    """The history column whose value sized each trade (``hedge_beta`` on the signal bar, or
    ``beta`` on the bar before it)."""
    history_bars: int
    """Bars the backtest read (the evaluation period is in ``metrics``)."""
    metrics: BacktestMetrics
    trades: list[BacktestTrade]
    equity: list[tuple[int, float]]
    """``[ts, equity]`` at every fill bar and at the last bar: the curve's corners at trade
    resolution; the export holds one row per bar."""
    exports: list[str] = msgspec.field(default_factory=list)
    """Files written, when exports were asked for."""
    source: str = "replay"
    """Where the bars came from: ``replay`` (recorded trades) or ``history`` (klines)."""
    funding_events: int = 0
    """Fundings of either leg over the bars (``GET /fapi/v1/fundingRate``), each charged to the
    position held at its time if any (``metrics.funding`` is the total, each trade's
    ``funding`` its share); 0 for a replay, whose recordings carry no funding."""


@dataclass(frozen=True, slots=True)
class BacktestBars:
    """The bars a backtest reads and what they are."""

    symbols: tuple[str, str]
    """The pair, target leg first."""
    timeframe: Timeframe
    """The timeframe of the bars."""
    window: int
    """The analytics window the z-score was computed on."""
    price: PriceMode
    """Log or raw prices, as the analytics used them."""
    hedge: HedgeMethod
    """The hedge method of the analytics."""
    bars: pl.DataFrame
    """The pipeline's history of ``timeframe``: the bars and the very z-score it computed."""


@dataclass(frozen=True, slots=True)
class SessionBacktest(BacktestBars):
    """A backtest of one session and what it ran on."""

    result: BacktestResult
    """The trades, the equity curve and the metrics."""
    source: str = "replay"
    """``replay`` or ``history``."""
    funding_events: int = 0
    """Fundings given to the engine."""


def backtest_bars(options: Options, research: ResearchBars) -> SessionBacktest:
    """Analyse ``research``'s bars under the options' analytics and backtest them.

    Raises:
        UsageError: backtest levels that do not make a strategy.
    """
    analytics = options.settings.analytics
    bars = analyse(
        research.bars, research.timeframe, options.window, analytics.price, analytics.hedge
    )
    try:
        result = backtest_history(bars, options.settings, research.timeframe, research.funding)
    except ValueError as exc:
        raise UsageError(f"backtest: {exc}") from None
    return SessionBacktest(
        research.symbols,
        research.timeframe,
        options.window,
        analytics.price,
        analytics.hedge,
        bars,
        result,
        research.source,
        len(research.funding),
    )


async def research_bars(options: Options) -> ResearchBars:
    """The bars ``--backtest`` runs on: history with ``--from``, else the replayed session's.

    Raises:
        UsageError: no replay and no ``--from``, an unreadable file, an empty range.
    """
    if options.backtest_from is not None:
        now_ms = int(time.time() * 1000)
        to_ms = options.backtest_to if options.backtest_to is not None else now_ms
        return await load_history(options, options.backtest_from, to_ms)
    if not options.replay:
        raise UsageError("--backtest needs --replay FILE... or --from TIME")
    async with open_source(options) as source:
        pipeline = build_pipeline(options, source)
        await pipeline.run()
    if pipeline.timeframe == TICK:
        raise UsageError("--sweep needs bars: --timeframe 1s, 1m or 5m")
    return replayed(pipeline.symbols, pipeline.timeframe, _session_bars(pipeline, "sweep"))


async def backtest_source(options: Options, source: TradeSource) -> SessionBacktest:
    """Run ``source`` to its end through the pipeline the options build, then backtest the
    history of the active timeframe.

    Raises:
        UsageError: backtest levels that do not make a strategy.
    """
    pipeline = build_pipeline(options, source)
    await pipeline.run()
    # A bar file can move the pipeline to a longer timeframe than asked: use what it built.
    timeframe = pipeline.timeframe
    bars = _session_bars(pipeline, "backtest")
    try:
        result = backtest_history(bars, options.settings, timeframe)
    except ValueError as exc:
        raise UsageError(f"backtest: {exc}") from None
    return SessionBacktest(
        pipeline.symbols, timeframe, pipeline.window, pipeline.price, pipeline.hedge, bars, result
    )


def _session_bars(pipeline: Pipeline, what: str) -> pl.DataFrame:
    """The bars a finished replay holds on its timeframe, saying when they are not all of it."""
    bars = pipeline.history(pipeline.timeframe)
    total = pipeline.snapshot().bar_count
    if total > bars.height:
        log.warning(
            "the %s covers the last %d of %d bars; raise bars.history to cover the whole session",
            what,
            bars.height,
            total,
        )
    return bars


def report(session: SessionBacktest, exports: list[Path] | None = None) -> BacktestReport:
    """The JSON summary of a session's backtest."""
    result = session.result
    params = result.params
    curve = result.equity
    corners = curve.filter(
        (pl.col("position") != pl.col("position").shift(1, fill_value=0))
        | (pl.int_range(pl.len()) == pl.len() - 1)
    )
    return BacktestReport(
        symbol_a=session.symbols[0],
        symbol_b=session.symbols[1],
        timeframe=session.timeframe,
        window=session.window,
        price=session.price,
        hedge=session.hedge,
        entry_z=params.entry,
        exit_z=params.exit,
        stop_z=params.stop,
        fee_bps=params.fee_bps,
        units=UNITS[params.price_mode],
        hedge_source=params.hedge_column,
        history_bars=session.bars.height,
        metrics=result.metrics,
        trades=result.trades,
        equity=list(zip(corners["ts"].to_list(), corners["equity"].to_list(), strict=True)),
        exports=[str(p) for p in exports or []],
        source=session.source,
        funding_events=session.funding_events,
    )


def export_backtest(
    session: SessionBacktest,
    folder: str | os.PathLike[str],
    *,
    now: datetime | None = None,
) -> list[Path]:
    """Write the trades and the equity curve as Parquet and CSV: four files, all or none.

    Named like every export (:func:`pairs_tui.export.export_name`): pair, timeframe, what, UTC
    time, e.g. ``BTCUSDT-ETHUSDT_1s_backtest-trades_20261122T101500Z.parquet``; a second export
    in the same second gets a ``-2`` suffix instead of replacing the first.

    Args:
        session: The backtest to write.
        folder: Export folder; created when needed.
        now: Time in the file names (default: now, UTC).

    Returns:
        The files written: trades then equity, Parquet then CSV.

    Raises:
        ExportError: a file could not be written; nothing of this export is left behind.
    """
    folder = prepare_folder(folder)
    frames = {
        "trades": with_datetimes(session.result.trades_frame()),
        "equity": with_datetimes(session.result.equity),
    }
    paths = _free_paths(session, folder, now or datetime.now(UTC))
    return write_all({path: (frames[kind], fmt) for (kind, fmt), path in paths.items()})


def _free_paths(
    session: SessionBacktest,
    folder: Path,
    now: datetime,
) -> dict[tuple[str, ExportFormat], Path]:
    """The four file names, with the first ``-n`` suffix under which none exists yet."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    head = f"{session.symbols[0]}-{session.symbols[1]}_{session.timeframe}_backtest"
    formats: tuple[ExportFormat, ...] = ("parquet", "csv")
    for n in range(1, 1000):
        suffix = f"-{n}" if n > 1 else ""
        paths = {
            (kind, fmt): folder / f"{head}-{kind}_{stamp}{suffix}.{fmt}"
            for kind in ("trades", "equity")
            for fmt in formats
        }
        if not any(path.exists() for path in paths.values()):
            return paths
    raise ExportError(f"export folder {folder}: too many exports in one second")


async def run_backtest(options: Options, out: TextIO | None = None) -> SessionBacktest:
    """Replay or load history, backtest, print the JSON summary on ``out`` (stdout), export
    when configured (``--sweep`` is :func:`pairs_tui.backtest.sweep.run_sweep_command`).

    Raises:
        UsageError: no replay nor ``--from``, an unreadable file, or bad backtest levels.
        NotWritten: the export failed; the summary was printed before.
    """
    if options.backtest_from is not None:
        session = backtest_bars(options, await research_bars(options))
    else:
        if not options.replay:
            raise UsageError("--backtest needs --replay FILE... or --from TIME")
        async with open_source(options) as source:
            session = await backtest_source(options, source)
    exports: list[Path] = []
    failed: ExportError | None = None
    if options.settings.analytics.backtest_export:
        try:
            exports = export_backtest(session, options.settings.export.folder)
        except ExportError as exc:
            failed = exc  # the summary is printed all the same: the result is not lost
        for path in exports:
            log.info("wrote %s", path)
    stream = out if out is not None else sys.stdout
    stream.write(msgspec.json.encode(report(session, exports)).decode() + "\n")
    stream.flush()
    if failed is not None:
        raise NotWritten(f"backtest export: {failed} (the summary is on stdout)") from failed
    return session
