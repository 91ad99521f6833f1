"""``--sweep KEY=V1,V2,...``: the backtest of every combination of settings, in parallel, and
``--oos FRACTION``: the best one chosen on the first part of the bars, reported on the rest.

The bars are loaded once (a replay or history, :mod:`pairs_tui.backtest.history`). Analytics
depend on ``window``, ``hedge`` and ``price`` only, so each of their combinations is analysed
once; the levels (``entry_z``, ``exit_z``, ``stop_z``, ``fee_bps``) then run on those analysed
bars. Both stages run on a pool of processes, one per core this process may use (spawned, not
forked: Polars' thread pool does not survive a fork), or in this process when there is one core
or the grid is small (fewer than :data:`SMALL_WORK` bar-combinations), where starting workers
would cost more than it saves.

Output: one JSON object a line per combination, in grid order (``window``, ``hedge``, ``price``
vary slowest, then ``entry_z``, ``exit_z``, ``stop_z``, ``fee_bps``, the last fastest), each
written as soon as it and those before it are done: the object a single ``--backtest`` prints,
plus ``params``, the combination's swept settings. On
a terminal, a table ranked by total P&L instead. A combination whose levels do not make a
strategy (``exit_z >= entry_z``, ``stop_z <= entry_z``) is skipped and counted in a warning.

``--oos FRACTION``: the bars are split at ``floor(n * (1 - FRACTION))``. The analytics still run
over all the bars, oldest first: they look back only, so the in-sample part's values are those
of a run over it alone, and the held-out part's z-scores start warm (as a trader going live
would). Every combination is backtested on the in-sample part (its lines then carry those
figures), the one with the highest **total P&L** (net of fees and funding; ties go to the first
in grid order) is chosen, and every combination is backtested on the held-out part too. A last
line ``{"oos": {...}}`` gives the choice, its in-sample and out-of-sample metrics, the rank of
its out-of-sample total P&L among all combinations, and the out-of-sample best. Total P&L
rather than Sharpe, because Sharpe is withheld on short samples (:mod:`.metrics`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar

import msgspec
import numpy as np
import polars as pl

from pairs_tui.backtest.engine import run
from pairs_tui.backtest.grid import ANALYTICS_KEYS, Grid, Value, check_fraction, parse_grid
from pairs_tui.backtest.history import ResearchBars, closes_of, engine_bars
from pairs_tui.backtest.results import BacktestMetrics, BacktestParams, FundingEvent
from pairs_tui.backtest.session import SessionBacktest, report, research_bars
from pairs_tui.config import Options, UsageError
from pairs_tui.records import TIMEFRAMES, BarTimeframe, HedgeMethod, PriceMode

log = logging.getLogger("pairs_tui.backtest")

RANK_METRIC = "total_pnl"
"""What the table is ranked by and ``--oos`` chooses on."""
SMALL_WORK = 1_000_000
"""Bars times combinations under which the sweep runs in this process: about 1.5 to 3 s of
work on one core (``benchmarks/bench_sweep.py``), where spawning workers (0.5 to 1 s) would not
pay."""

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class ComboResult:
    """One combination's backtest."""

    index: int
    """Its place in grid order."""
    params: dict[str, Value]
    """The swept settings."""
    line: str
    """The JSON object printed for it (over the in-sample part with ``--oos``); emptied once
    written."""
    metrics: BacktestMetrics
    """Its metrics (in-sample with ``--oos``)."""
    held_out: BacktestMetrics | None = None
    """Its metrics on the held-out part; None without ``--oos``."""
    price: PriceMode = "log"
    """Its price mode, which says what a P&L figure is measured in."""


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did."""

    results: list[ComboResult]
    """Every combination run, in grid order."""
    skipped: int
    """Combinations whose levels do not make a strategy."""
    oos: dict[str, Any] | None
    """The ``--oos`` report; None without it."""
    processes: int
    """Processes the work ran on (1: this one)."""
    seconds: float
    """Wall time of the backtests (the bars' loading excluded)."""


@dataclass(frozen=True)
class _Analysis:
    """One analytics setting to compute over the bars (a worker's job)."""

    closes: tuple[np.ndarray, np.ndarray, np.ndarray]
    timeframe: BarTimeframe
    window: int
    price: PriceMode
    hedge: HedgeMethod


@dataclass(frozen=True)
class _Levels:
    """Some level combinations to backtest on analysed bars (a worker's job)."""

    symbols: tuple[str, str]
    timeframe: BarTimeframe
    window: int
    price: PriceMode
    hedge: HedgeMethod
    bars: pl.DataFrame
    combos: list[tuple[int, dict[str, Value], dict[str, Value]]]
    funding: list[FundingEvent]
    split: int | None
    source: str


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_sweep_command(options: Options, out: TextIO | None = None) -> SweepOutcome:
    """``--backtest --sweep``: load the bars (replay or history), then run the grid.

    Raises:
        UsageError: a bad grid, no replay nor ``--from``, an unreadable file, an empty range.
    """
    grid = parse_grid(options.sweep)
    research = asyncio.run(research_bars(options))
    return run_sweep(research, options, grid, oos=options.oos, out=out or sys.stdout)


def run_sweep(
    research: ResearchBars,
    options: Options,
    grid: Grid,
    *,
    oos: float | None = None,
    out: TextIO,
    processes: int | None = None,
) -> SweepOutcome:
    """Backtest every combination of ``grid`` over ``research``'s bars and print the results.

    Args:
        research: The bars (and fundings).
        options: The run's settings: the unswept keys keep their values.
        grid: The swept keys' values.
        oos: Held-out share of the bars for ``--oos``; None for none.
        out: Where the lines (or, on a terminal, the table) go.
        processes: Worker processes; None uses every core (and this process for small grids).

    Raises:
        UsageError: no combination makes a strategy, or too few bars to split.
    """
    analytics = options.settings.analytics
    base: dict[str, Value] = {
        "window": options.window,
        "entry_z": analytics.entry_z,
        "exit_z": analytics.exit_z,
        "stop_z": analytics.stop_z,
        "fee_bps": analytics.fee_bps,
        "hedge": analytics.hedge,
        "price": analytics.price,
    }
    combos: list[tuple[int, dict[str, Value], dict[str, Value]]] = []
    skipped, why = 0, ""
    for settings in grid.combinations(base):
        try:
            _params(settings).check()
        except ValueError as exc:
            skipped, why = skipped + 1, why or str(exc)
            continue
        swept = {k: settings[k] for k in grid.values}
        combos.append((len(combos), settings, swept))
    if not combos:
        raise UsageError(f"--sweep: no combination makes a strategy ({why})")
    if skipped:
        log.warning("--sweep: %d of %d combinations skipped (%s)", skipped, grid.size, why)
    n = len(research.bars)
    split = None
    if oos is not None:
        split = math.floor(n * (1.0 - check_fraction(oos)))
        if split < 2 or n - split < 2:
            raise UsageError(f"--oos {oos:g}: {n} bars are too few to split")
    groups: dict[tuple[Value, ...], list[tuple[int, dict[str, Value], dict[str, Value]]]] = {}
    for combo in combos:
        groups.setdefault(tuple(combo[1][k] for k in ANALYTICS_KEYS), []).append(combo)
    cores = available_cores() if processes is None else processes
    if processes is None and n * len(combos) < SMALL_WORK:
        cores = 1
    workers = max(1, min(cores, len(combos)))
    started = time.perf_counter()
    closes = closes_of(research.bars)
    with _executor(workers) as pool:
        jobs = [
            _Analysis(closes, research.timeframe, int(w), _price(p), _hedge(h))  # type: ignore[arg-type]
            for w, h, p in groups
        ]
        analysed = list(_map(pool, _analyse_job, jobs))
        level_jobs: list[_Levels] = []
        chunks = max(1, 4 * workers // len(groups))
        for job, frame, members in zip(jobs, analysed, groups.values(), strict=True):
            size = max(1, math.ceil(len(members) / chunks))
            for at in range(0, len(members), size):
                level_jobs.append(
                    _Levels(
                        research.symbols,
                        research.timeframe,
                        job.window,
                        job.price,
                        job.hedge,
                        frame,
                        members[at : at + size],
                        research.funding,
                        split,
                        research.source,
                    )
                )
        # Jobs are in grid order (the analytics keys vary slowest), and so are their answers:
        # each line is written as its batch comes in, and only the metrics are kept.
        results: list[ComboResult] = []
        lines = not out.isatty()
        for batch in _map(pool, _levels_job, level_jobs):
            for result in batch:
                assert result.index == len(results), "a sweep's answers out of grid order"
                if lines:
                    out.write(result.line + "\n")
                results.append(dataclasses.replace(result, line=""))
            out.flush()
    seconds = time.perf_counter() - started
    log.info(
        "swept %d combinations on %d bars in %.2f s on %d process(es)",
        len(results),
        n,
        seconds,
        workers,
    )
    first_held_out = analysed[0]["ts"][split] if split is not None and analysed else None
    summary = _oos(results, oos, split, n, first_held_out) if oos is not None else None
    if not lines:
        out.write(table(results, summary))
    elif summary is not None:
        out.write(msgspec.json.encode({"oos": summary}).decode() + "\n")
    out.flush()
    return SweepOutcome(results, skipped, summary, workers if workers > 1 else 1, seconds)


def _price(value: Value) -> PriceMode:
    return "raw" if value == "raw" else "log"


def _hedge(value: Value) -> HedgeMethod:
    hedges: dict[Value, HedgeMethod] = {"ols0": "ols0", "huber": "huber", "kalman": "kalman"}
    return hedges.get(value, "ols")


def _params(settings: dict[str, Value]) -> BacktestParams:
    stop = settings["stop_z"]
    return BacktestParams(
        entry=float(settings["entry_z"]),  # type: ignore[arg-type]
        exit=float(settings["exit_z"]),  # type: ignore[arg-type]
        stop=None if stop is None else float(stop),
        fee_bps=float(settings["fee_bps"]),  # type: ignore[arg-type]
        price_mode=_price(settings["price"]),
    )


class _InProcess(Executor):
    """Runs every job here, in order: a sweep too small for workers."""


def _executor(workers: int) -> Executor:
    if workers <= 1:
        return _InProcess()
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _map(pool: Executor, fn: Callable[[_T], _R], jobs: Sequence[_T]) -> Iterator[_R]:
    """``fn`` of each job, in the jobs' order, as each is ready."""
    if isinstance(pool, _InProcess) or len(jobs) <= 1:
        return (fn(job) for job in jobs)
    return pool.map(fn, jobs)


def _analyse_job(job: _Analysis) -> pl.DataFrame:
    """The engine's columns of the bars analysed under one setting."""
    return engine_bars(job.closes, job.timeframe, job.window, job.price, job.hedge)


def _levels_job(job: _Levels) -> list[ComboResult]:
    """Each combination's backtest on the job's analysed bars (the in-sample part with
    ``--oos``, then the held-out part)."""
    out = []
    bars = job.bars if job.split is None else job.bars[: job.split]
    for index, settings, swept in job.combos:
        params = _params(settings)
        kwargs: dict[str, Any] = {
            "entry": params.entry,
            "exit": params.exit,
            "stop": params.stop,
            "fee_bps": params.fee_bps,
            "price_mode": job.price,
            "bar_ms": TIMEFRAMES[job.timeframe],
            "funding": job.funding,
        }
        result = run(bars, **kwargs)
        session = SessionBacktest(
            job.symbols,
            job.timeframe,
            job.window,
            job.price,
            job.hedge,
            bars,
            result,
            job.source,
            len(job.funding),
        )
        body = msgspec.to_builtins(report(session))
        body["params"] = swept
        held_out = None
        if job.split is not None:
            held_out = run(job.bars[job.split :], **kwargs).metrics
        line = msgspec.json.encode(body).decode()
        out.append(ComboResult(index, swept, line, result.metrics, held_out, job.price))
    return out


def _oos(
    results: list[ComboResult], fraction: float, split: int | None, n: int, first: int | None
) -> dict[str, Any]:
    """The ``--oos`` report: the in-sample best, and how it did on the held-out bars."""
    best = max(results, key=lambda r: (r.metrics.total_pnl, -r.index))
    assert best.held_out is not None and split is not None
    held_out = best.held_out.total_pnl
    rank = 1 + sum(1 for r in results if r.held_out is not None and r.held_out.total_pnl > held_out)
    top = max(
        results,
        key=lambda r: (r.held_out.total_pnl if r.held_out is not None else -math.inf, -r.index),
    )
    return {
        "metric": RANK_METRIC,
        "fraction": fraction,
        "combinations": len(results),
        "in_sample_bars": split,
        "out_of_sample_bars": n - split,
        "split_ts": first,
        "params": best.params,
        "index": best.index,
        "in_sample": msgspec.to_builtins(best.metrics),
        "out_of_sample": msgspec.to_builtins(best.held_out),
        "out_of_sample_rank": rank,
        "out_of_sample_best": {
            "params": top.params,
            "index": top.index,
            "total_pnl": None if top.held_out is None else top.held_out.total_pnl,
        },
    }


def table(results: list[ComboResult], oos: dict[str, Any] | None = None) -> str:
    """The results ranked by total P&L, for a terminal (in-sample figures with ``--oos``)."""
    ranked = sorted(results, key=lambda r: (-r.metrics.total_pnl, r.index))
    keys = list(results[0].params) if results else []
    head = ["rank", *keys, "trades", "total P&L", "hit rate", "max dd", "Sharpe"]
    rows = []
    for rank, r in enumerate(ranked, 1):
        m = r.metrics
        log_units = r.price == "log"
        rows.append(
            [
                str(rank),
                *(_value_text(r.params[k]) for k in keys),
                f"{m.trades:,}",
                _pnl(m.total_pnl, log_units),
                "-" if m.hit_rate is None else f"{m.hit_rate:.0%}",
                _pnl(m.max_drawdown, log_units, signed=False),
                "-" if m.sharpe is None else f"{m.sharpe:+.3f}/bar",
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    if oos is not None:
        units = {r.index: r.price == "log" for r in results}
        held = oos["out_of_sample"]
        chosen = " ".join(f"{k}={_value_text(v)}" for k, v in oos["params"].items())
        top = oos["out_of_sample_best"]
        best = " ".join(f"{k}={_value_text(v)}" for k, v in top["params"].items())
        since = datetime.fromtimestamp(oos["split_ts"] / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        lines += [
            "",
            f"ranked on the first {oos['in_sample_bars']:,} bars; held out: the last "
            f"{oos['out_of_sample_bars']:,} bars, from {since} UTC",
            f"in-sample best {chosen}: held-out total P&L "
            f"{_pnl(held['total_pnl'], units[oos['index']])} "
            f"(rank {oos['out_of_sample_rank']} of {oos['combinations']})",
            f"held-out best {best}: total P&L {_pnl(top['total_pnl'], units[top['index']])}",
        ]
    return "\n".join(lines) + "\n"


def _value_text(value: Value) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _pnl(value: float, log_units: bool, *, signed: bool = True) -> str:
    sign = "+" if signed else ""
    return f"{value * 1e4:{sign}.1f} bp" if log_units else f"{value:{sign}.2f} USDT"
