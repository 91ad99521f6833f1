"""The backtest through the real pipeline on session B, against an independent straightforward
loop; the JSON summary and the exports."""

from __future__ import annotations

import io
import json
import math
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest

from pairs_tui.backtest.session import (
    BacktestReport,
    SessionBacktest,
    backtest_source,
    export_backtest,
    report,
)
from pairs_tui.config import AnalyticsSettings, ExportSettings, Options, Settings
from pairs_tui.export import ExportError, with_datetimes
from sources import PAIR, ListSource, session_b_trades

FIXTURES = Path(__file__).parent.parent / "fixtures"
SESSION_B = FIXTURES / "sessionB_2024-08-08T2354Z_2024-08-09T0000Z_trade_envelopes.ndjson.gz"


def options_for(analytics: AnalyticsSettings, folder: Path | None = None) -> Options:
    settings = Settings(analytics=analytics, export=ExportSettings(folder=str(folder or "exports")))
    return Options(
        settings=settings,
        symbols=PAIR,
        replay=[SESSION_B],
        backtest=True,
        timeframe="1s",
        window=analytics.window,
    )


def reference_backtest(
    rows: list[dict[str, Any]],
    entry: float,
    exit_z: float,
    stop: float | None,
    fee_bps: float,
    log_prices: bool,
) -> dict[str, Any]:
    """The strategy written out the obvious way, bar by bar: orders decided at a close are
    executed at the next close; cash plus market value is equity."""
    rate = fee_bps / 1e4
    orders: list[tuple[str, Any]] = []
    cash = qa = qb = 0.0
    side = 0
    locked = 0
    trade: dict[str, Any] = {}
    trades: list[dict[str, Any]] = []
    equity: list[float] = []
    held: list[int] = []
    for r in rows:
        pa, pb, z = r["close_a"], r["close_b"], r["zscore"]
        for kind, arg in orders:
            if kind == "close":
                fee = rate * (abs(qa) * pa + abs(qb) * pb)
                cash += qa * pa + qb * pb - fee
                trade.update(
                    exit_ts=r["ts"],
                    reason=arg,
                    pnl=qa * (pa - trade["pa"]) + qb * (pb - trade["pb"]) - trade["fee"] - fee,
                )
                trades.append(trade)
                qa = qb = 0.0
                side = 0
            else:
                side, hedge, signal = arg
                qa = side / pa if log_prices else float(side)
                qb = -side * hedge / pb if log_prices else -side * hedge
                fee = rate * (abs(qa) * pa + abs(qb) * pb)
                cash -= qa * pa + qb * pb + fee
                trade = {
                    "side": side,
                    "signal_ts": signal,
                    "entry_ts": r["ts"],
                    "pa": pa,
                    "pb": pb,
                    "fee": fee,
                    "hedge": hedge,
                }
        orders = []
        equity.append(cash + qa * pa + qb * pb)
        held.append(side)
        if z is None:
            continue
        if (locked == -1 and z <= entry) or (locked == 1 and z >= -entry):
            locked = 0
        stopped = False
        if side == -1 and stop is not None and z >= stop:
            orders.append(("close", "stop"))
            locked, stopped = -1, True
        elif side == 1 and stop is not None and z <= -stop:
            orders.append(("close", "stop"))
            locked, stopped = 1, True
        elif (side == -1 and z <= exit_z) or (side == 1 and z >= -exit_z):
            orders.append(("close", "exit"))
        flat = side == 0 or bool(orders)
        hedge = r["hedge_beta"]
        if flat and not stopped and hedge is not None and (stop is None or abs(z) < stop):
            if z > entry and locked != -1:
                orders.append(("open", (-1, hedge, r["ts"])))
            elif z < -entry and locked != 1:
                orders.append(("open", (1, hedge, r["ts"])))
    if side:
        last = rows[-1]
        trade.update(
            exit_ts=None,
            reason="open",
            pnl=qa * (last["close_a"] - trade["pa"])
            + qb * (last["close_b"] - trade["pb"])
            - trade["fee"],
        )
        trades.append(trade)
    start = next(i for i, r in enumerate(rows) if r["zscore"] is not None)
    steps = [b - a for a, b in zip(equity[start:], equity[start + 1 :], strict=False)]
    mean = sum(steps) / len(steps)
    sd = math.sqrt(sum((s - mean) ** 2 for s in steps) / (len(steps) - 1))
    peak, drawdown = 0.0, 0.0
    for e in equity[start:]:
        peak = max(peak, e)
        drawdown = max(drawdown, peak - e)
    closed = [t for t in trades if t["reason"] != "open"]
    return {
        "trades": trades,
        "equity": equity,
        "total": equity[-1],
        "sharpe": mean / sd,
        "max_drawdown": drawdown,
        "hit_rate": sum(t["pnl"] > 0 for t in closed) / len(closed) if closed else None,
        "time_in_market": sum(1 for h in held[start:-1] if h) / len(steps),
    }


@pytest.mark.parametrize(
    "analytics",
    [
        AnalyticsSettings(window=60, stop_z=3.0),
        AnalyticsSettings(window=30, price="raw"),
        AnalyticsSettings(window=300),
    ],
    ids=["log-w60-stop3", "raw-w30", "log-w300-defaults"],
)
async def test_session_b_matches_an_independent_loop(analytics: AnalyticsSettings) -> None:
    source = ListSource(session_b_trades())
    started = time.perf_counter()
    session = await backtest_source(options_for(analytics), source)
    elapsed = time.perf_counter() - started
    # Measured and printed (pytest -s), not asserted: timings belong to BENCHMARKS.md.
    print(f"session B pipeline + backtest, window {analytics.window}: {elapsed:.3f} s")
    result = session.result
    rows = session.bars.to_dicts()
    assert session.bars.height == 345
    assert result.trades, "the parameters were chosen to trade on session B"
    ref = reference_backtest(
        rows,
        analytics.entry_z,
        analytics.exit_z,
        analytics.stop_z,
        analytics.fee_bps,
        analytics.price == "log",
    )
    sides = {"long": 1, "short": -1}
    assert [
        (sides[t.side], t.signal_ts, t.entry_ts, t.exit_ts, t.exit_reason) for t in result.trades
    ] == [
        (t["side"], t["signal_ts"], t["entry_ts"], t["exit_ts"], t["reason"]) for t in ref["trades"]
    ]
    assert [t.hedge for t in result.trades] == [t["hedge"] for t in ref["trades"]]
    assert [t.pnl for t in result.trades] == pytest.approx(
        [t["pnl"] for t in ref["trades"]], rel=1e-9, abs=1e-12
    )
    assert result.equity["equity"].to_list() == pytest.approx(ref["equity"], rel=1e-9, abs=1e-12)
    m = result.metrics
    assert m.total_pnl == pytest.approx(ref["total"], rel=1e-9, abs=1e-12)
    # Under 1,000 bars are too few for a Sharpe ratio that means something: hidden, and said why.
    assert m.sharpe is None and m.sharpe_note is not None and f"{m.bars} bars" in m.sharpe_note
    assert m.max_drawdown == pytest.approx(ref["max_drawdown"], rel=1e-9, abs=1e-12)
    assert m.hit_rate == pytest.approx(ref["hit_rate"])
    assert m.time_in_market == pytest.approx(ref["time_in_market"])


async def test_the_hedge_in_force_is_the_one_the_zscore_used() -> None:
    session = await backtest_source(
        options_for(AnalyticsSettings(window=60)), ListSource(session_b_trades())
    )
    bars = session.bars.with_columns(
        y=pl.col("close_a").log(),
        x=pl.col("close_b").log(),
        prev_beta=pl.col("beta").shift(1),
        prev_alpha=pl.col("alpha").shift(1),
    ).filter(pl.col("zscore").is_not_null())
    # OLS hedge: the fit through the previous bar, which is what the spread was built with.
    assert bars["hedge_beta"].to_list() == pytest.approx(bars["prev_beta"].to_list(), rel=1e-9)
    spread = bars["y"] - bars["prev_alpha"] - bars["prev_beta"] * bars["x"]
    assert bars["spread"].to_list() == pytest.approx(spread.to_list(), rel=1e-6, abs=1e-12)
    for trade in session.result.trades:
        (row,) = bars.filter(pl.col("ts") == trade.signal_ts).to_dicts()
        assert trade.hedge == row["hedge_beta"]


async def test_a_prefix_of_the_session_decides_the_same() -> None:
    """End to end: the pipeline and the backtest fed only the first half of the session make
    the same decisions on the bars they share as when fed the whole session."""
    trades = session_b_trades()
    analytics = AnalyticsSettings(window=30, stop_z=3.0)
    full = await backtest_source(options_for(analytics), ListSource(trades))
    cut = trades[0].time + (trades[-1].time - trades[0].time) // 2
    half = await backtest_source(
        options_for(analytics), ListSource([t for t in trades if t.time < cut])
    )
    # The prefix's last bar holds only part of its second: compare the bars before it.
    shared = pl.col("ts") < half.bars["ts"].max()
    assert half.bars.filter(shared).equals(full.bars.filter(shared))
    columns = ["ts", "target", "position", "equity"]
    assert (
        half.result.equity.filter(shared)
        .select(columns)
        .equals(full.result.equity.filter(shared).select(columns))
    )


async def test_report_is_json_with_trades_and_metrics(tmp_path: Path) -> None:
    session = await backtest_source(
        options_for(AnalyticsSettings(window=30, stop_z=3.0)), ListSource(session_b_trades())
    )
    out = report(session, [tmp_path / "x.parquet"])
    text = msgspec.json.encode(out).decode()
    assert "NaN" not in text
    decoded = msgspec.json.decode(text, type=BacktestReport)
    assert decoded == out
    data = json.loads(text)
    assert data["symbol_a"] == "BTCUSDT" and data["units"] == "USDT per 1 USDT of A"
    assert data["history_bars"] == 345
    assert len(data["trades"]) == data["metrics"]["trades"]
    assert data["equity"][-1] == [session.bars["ts"][-1], session.result.equity["equity"][-1]]
    assert data["exports"] == [str(tmp_path / "x.parquet")]


async def test_exports_trades_and_equity_as_parquet_and_csv(tmp_path: Path) -> None:
    session = await backtest_source(
        options_for(AnalyticsSettings(window=30, stop_z=3.0)), ListSource(session_b_trades())
    )
    now = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    folder = tmp_path / "exports"
    written = export_backtest(session, folder, now=now)
    head = "BTCUSDT-ETHUSDT_1s_backtest"
    assert [p.name for p in written] == [
        f"{head}-{kind}_20261122T101500Z.{ext}"
        for kind in ("trades", "equity")
        for ext in ("parquet", "csv")
    ]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)
    trades = with_datetimes(session.result.trades_frame())
    assert pl.read_parquet(written[0]).equals(trades)
    assert pl.read_parquet(written[2]).equals(with_datetimes(session.result.equity))
    assert pl.read_parquet(written[2]).schema["ts"] == pl.Datetime("ms", "UTC")
    assert pl.read_parquet(written[0]).schema["entry_ts"] == pl.Datetime("ms", "UTC")
    csv = pl.read_csv(written[1], schema=trades.schema)
    assert csv.height == trades.height
    assert csv["pnl"].to_list() == pytest.approx(trades["pnl"].to_list(), rel=1e-12)
    # A second export in the same second sits beside the first instead of replacing it.
    again = export_backtest(session, folder, now=now)
    assert again[0].name == f"{head}-trades_20261122T101500Z-2.parquet"
    assert len(list(folder.iterdir())) == 8


async def test_a_failed_export_leaves_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = await backtest_source(
        options_for(AnalyticsSettings(window=30)), ListSource(session_b_trades())
    )
    real_replace = os.replace
    calls = []

    def flaky_replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(ExportError, match="disk full"):
        export_backtest(session, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_run_backtest_replays_prints_and_exports(tmp_path: Path) -> None:
    pytest.importorskip("pairs_tui.feed.replay", reason="the replay reader has not landed")
    from pairs_tui.backtest.session import run_backtest

    options = options_for(AnalyticsSettings(window=30, stop_z=3.0, backtest_export=True), tmp_path)
    out = io.StringIO()
    session = await run_backtest(options, out)
    assert isinstance(session, SessionBacktest)
    (line,) = out.getvalue().splitlines()
    data = json.loads(line)
    assert data["history_bars"] == 345
    assert len(data["exports"]) == 4
    assert all(Path(p).is_file() for p in data["exports"])


def test_cli_backtest_prints_one_json_object(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("pairs_tui.feed.replay", reason="the replay reader has not landed")
    from pairs_tui.cli import main

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = tmp_path / "config.toml"
    config.write_text(
        f"[analytics]\nwindow = 60\nstop_z = 3.0\nbacktest_export = true\n"
        f'[export]\nfolder = "{tmp_path / "exports"}"\n',
        encoding="utf-8",
    )
    code = main(
        ["btcusdt", "ethusdt", "--backtest", "--replay", str(SESSION_B), "--config", str(config)]
    )
    assert code == 0
    (line,) = capsys.readouterr().out.splitlines()
    data = json.loads(line)
    assert (data["symbol_a"], data["window"], data["stop_z"]) == ("BTCUSDT", 60, 3.0)
    assert data["metrics"]["trades"] == len(data["trades"]) > 0
    assert len(list((tmp_path / "exports").glob("*_backtest-*"))) == 4
