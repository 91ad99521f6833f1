"""``--sweep`` and ``--oos`` on crafted series whose best setting is known by hand, on a replayed
session through the command line, in parallel and not; bad grids exit 2 naming what is wrong."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np
import pytest

from pairs_tui.backtest.grid import parse_grid
from pairs_tui.backtest.history import ResearchBars, analyse, closes_of, engine_bars
from pairs_tui.backtest.session import backtest_bars, report
from pairs_tui.backtest.sweep import run_sweep
from pairs_tui.cli import main
from pairs_tui.config import AnalyticsSettings, Options, Settings, UsageError
from pairs_tui.records import Bar, PairBar

PAIR = ("AUSDT", "BUSDT")
SESSION_B = (
    Path(__file__).parent.parent
    / "fixtures"
    / "sessionB_2024-08-08T2354Z_2024-08-09T0000Z_trade_envelopes.ndjson.gz"
)


def sine_pair(n: int, amplitude: Callable[[int], float], period: int = 100) -> ResearchBars:
    """1m bars of a pair whose log spread is a sine of ``period`` bars: log A = log B + s + c,
    B a quiet seeded random walk."""
    rng = np.random.default_rng(1)
    log_b = math.log(100.0) + np.cumsum(rng.normal(0.0, 0.0005, n))
    i = np.arange(n)
    spread = np.array([amplitude(k) for k in range(n)]) * np.sin(2.0 * math.pi * i / period)
    log_a = log_b + spread + math.log(0.5)
    bars = [
        PairBar(k * 60_000, Bar.flat(math.exp(a)), Bar.flat(math.exp(b)))
        for k, (a, b) in enumerate(zip(log_a.tolist(), log_b.tolist(), strict=True))
    ]
    return ResearchBars(PAIR, "1m", bars)


def options(**analytics: object) -> Options:
    settings = Settings(analytics=AnalyticsSettings(**analytics))  # type: ignore[arg-type]
    return Options(settings=settings, symbols=PAIR, window=settings.analytics.window)


OPTIONS = options(window=100, hedge="ols0", fee_bps=12.0)
"""A window of one period; a hedge through the origin (stable on these prices); 12 bp a leg a
fill, so 48 bp a round trip."""


def test_the_entry_level_that_clears_the_fees_is_the_best_and_the_only_profitable_one() -> None:
    # By hand: over a window of one period, the z-score of a sine is the sine over its standard
    # deviation, amplitude/sqrt(2): |z| peaks at sqrt(2) = 1.41, so entry 2 never trades. A round
    # trip from z = e back to 0 earns about e * 1% / sqrt(2) of log spread: 18 bp at 0.25,
    # 71 bp at 1, against 48 bp of fees. Only entry 1 makes money.
    research = sine_pair(2_000, lambda _: 0.01)
    out = io.StringIO()
    outcome = run_sweep(research, OPTIONS, parse_grid(["entry_z=0.25,1,2"]), out=out)
    by_entry = {r.params["entry_z"]: r.metrics for r in outcome.results}
    assert by_entry[2.0].trades == 0 and by_entry[2.0].total_pnl == 0.0
    assert by_entry[0.25].trades > 30 and by_entry[0.25].total_pnl < 0.0
    assert by_entry[1.0].trades > 30 and by_entry[1.0].total_pnl > 0.0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["params"] for line in lines] == [
        {"entry_z": 0.25},
        {"entry_z": 1.0},
        {"entry_z": 2.0},
    ]
    # Each line is the single backtest's object of that setting, plus its params.
    single = backtest_bars(options(window=100, hedge="ols0", fee_bps=12.0, entry_z=1.0), research)
    want = json.loads(msgspec.json.encode(report(single)))
    assert {k: v for k, v in lines[1].items() if k != "params"} == want


def test_oos_picks_on_the_first_part_and_reports_the_held_out_rest() -> None:
    # The spread shrinks to 0.3% for the last 30% of the bars: a round trip from z = 1 then
    # earns about 21 bp, less than its 48 bp of fees, so the in-sample best (entry 1) loses
    # out of sample, where not trading at all (entry 2) is best.
    research = sine_pair(2_000, lambda k: 0.01 if k < 1_400 else 0.003)
    out = io.StringIO()
    outcome = run_sweep(research, OPTIONS, parse_grid(["entry_z=0.5,1,2"]), oos=0.3, out=out)
    *lines, last = (json.loads(line) for line in out.getvalue().splitlines())
    assert len(lines) == 3
    oos = last["oos"]
    assert oos == outcome.oos
    assert (oos["metric"], oos["fraction"], oos["combinations"]) == ("total_pnl", 0.3, 3)
    assert (oos["in_sample_bars"], oos["out_of_sample_bars"]) == (1_400, 600)
    assert oos["split_ts"] == 1_400 * 60_000
    assert oos["params"] == {"entry_z": 1.0}
    in_sample = {line["params"]["entry_z"]: line["metrics"]["total_pnl"] for line in lines}
    assert max(in_sample, key=lambda e: in_sample[e]) == 1.0
    assert oos["in_sample"]["total_pnl"] == in_sample[1.0] > 0.0
    assert oos["in_sample"]["end_ts"] < oos["split_ts"] <= oos["out_of_sample"]["start_ts"]
    assert oos["out_of_sample"]["total_pnl"] < 0.0
    assert oos["out_of_sample_best"] == {"params": {"entry_z": 2.0}, "index": 2, "total_pnl": 0.0}
    assert oos["out_of_sample_rank"] > 1


@pytest.mark.parametrize(("hedge", "price"), [("ols", "log"), ("kalman", "raw"), ("ols0", "log")])
def test_a_sweeps_analysis_is_the_timeframes_own(hedge: str, price: str) -> None:
    research = sine_pair(800, lambda _: 0.01)
    research.bars[:5] = [PairBar(bar.ts, None, bar.b) for bar in research.bars[:5]]  # A late
    full = analyse(research.bars, "1m", 50, price, hedge)  # type: ignore[arg-type]
    slim = engine_bars(closes_of(research.bars), "1m", 50, price, hedge)  # type: ignore[arg-type]
    assert slim.equals(full.select(slim.columns))
    assert slim["zscore"].drop_nulls().len() > 600


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_sweep_is_a_table_ranked_by_total_pnl() -> None:
    research = sine_pair(2_000, lambda k: 0.01 if k < 1_400 else 0.003)
    out = Terminal()
    run_sweep(research, OPTIONS, parse_grid(["entry_z=0.5,1,2"]), oos=0.3, out=out)
    head, first, second, third, blank, *notes = out.getvalue().splitlines()
    assert head.split() == [
        "rank",
        "entry_z",
        "trades",
        "total",
        "P&L",
        "hit",
        "rate",
        "max",
        "dd",
        "Sharpe",
    ]
    assert first.split()[:2] == ["1", "1"] and second.split()[:2] == ["2", "0.5"]
    assert third.split()[:4] == ["3", "2", "0", "+0.0"]
    assert blank == ""
    assert notes[1].startswith("in-sample best entry_z=1: held-out total P&L -")
    assert notes[2] == "held-out best entry_z=2: total P&L +0.0 bp"


def test_workers_give_the_same_lines_as_one_process() -> None:
    research = sine_pair(1_500, lambda _: 0.01)
    grid = parse_grid(["window=50,100", "entry_z=0.5,1", "exit_z=0,0.25"])
    alone, pooled = io.StringIO(), io.StringIO()
    one = run_sweep(research, OPTIONS, grid, out=alone, processes=1)
    two = run_sweep(research, OPTIONS, grid, out=pooled, processes=2)
    assert (one.processes, two.processes) == (1, 2)
    assert pooled.getvalue() == alone.getvalue()
    assert len(alone.getvalue().splitlines()) == 8


def test_combinations_that_make_no_strategy_are_skipped_and_counted() -> None:
    research = sine_pair(600, lambda _: 0.01)
    grid = parse_grid(["entry_z=0.5,1", "exit_z=0,0.75"])  # exit 0.75 >= entry 0.5: skipped
    outcome = run_sweep(research, OPTIONS, grid, out=io.StringIO())
    assert outcome.skipped == 1
    assert [r.params for r in outcome.results] == [
        {"entry_z": 0.5, "exit_z": 0.0},
        {"entry_z": 1.0, "exit_z": 0.0},
        {"entry_z": 1.0, "exit_z": 0.75},
    ]
    with pytest.raises(UsageError, match="no combination makes a strategy"):
        run_sweep(research, OPTIONS, parse_grid(["exit_z=3,4"]), out=io.StringIO())


def test_a_sweep_over_a_replay_prints_one_line_per_combination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["btcusdt", "ethusdt", "--backtest", "--replay", str(SESSION_B), "--window", "60"]
    grid = ["--sweep", "entry_z=1.5,2", "stop_z=none,3"]
    assert main([*args, *grid]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["params"] for line in lines] == [
        {"entry_z": 1.5, "stop_z": None},
        {"entry_z": 1.5, "stop_z": 3.0},
        {"entry_z": 2.0, "stop_z": None},
        {"entry_z": 2.0, "stop_z": 3.0},
    ]
    # The default setting's line is the single backtest of the replay.
    assert main(args) == 0
    single = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in lines[2].items() if k != "params"} == single


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sweep", "foo=1,2"], "--sweep 'foo=1,2': unknown key 'foo'"),
        (["--sweep", "window=60,abc"], "--sweep 'window=60,abc': window value 'abc' is not"),
        (["--sweep", "window=2"], "window value '2' must be 3 to 1,000,000"),
        (["--sweep", "hedge=ols,tls"], "hedge value 'tls' is not one of"),
        (["--sweep", "entry_z"], "give KEY=V1,V2,..."),
        (["--sweep", "entry_z=1", "entry_z=2"], "entry_z is given twice"),
        (["--sweep", "fee_bps=nan"], "fee_bps value 'nan' must be finite"),
        (["--sweep", "entry_z=1,2", "--oos", "1.5"], "--oos 1.5: give the held-out share"),
        (["--oos", "0.3"], "--oos needs --sweep"),
    ],
)
def test_bad_sweeps_exit_2_naming_what_is_wrong(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["btcusdt", "ethusdt", "--backtest", "--replay", str(SESSION_B)]
    assert main([*base, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "--from 'yesterday': not an ISO 8601 date or time"),
        (["--from", "2026-12-02", "--to", "2026-12-01"], "must be after --from"),
        (["--to", "2026-12-01"], "--to needs --from"),
    ],
)
def test_bad_history_ranges_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["btcusdt", "ethusdt", "--backtest", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sweep", "entry_z=1,2"], "--sweep needs --backtest"),
        (["--from", "2026-12-01"], "--from needs --backtest"),
        (["--backtest", "--from", "2026-12-01", "--demo"], "--from and --demo exclude each other"),
        (["--backtest"], "--backtest needs --replay FILE... or --from TIME"),
    ],
)
def test_research_options_without_what_they_need_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["btcusdt", "ethusdt", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_the_grid_varies_the_analytics_keys_slowest_whatever_the_order_given() -> None:
    research = sine_pair(400, lambda _: 0.01)
    grid = parse_grid(["entry_z=0.5,1", "window=50,60"])
    out = io.StringIO()
    run_sweep(research, OPTIONS, grid, out=out, processes=1)
    assert [json.loads(line)["params"] for line in out.getvalue().splitlines()] == [
        {"window": 50, "entry_z": 0.5},
        {"window": 50, "entry_z": 1.0},
        {"window": 60, "entry_z": 0.5},
        {"window": 60, "entry_z": 1.0},
    ]
