"""What the backtest screen reads out of a session's backtest; nothing from Textual.

P&L is shown as the engine measures it (:mod:`pairs_tui.backtest`), only scaled: on log prices
a P&L is in USDT per 1 USDT of A, shown in basis points of A's notional, as the spread is; on raw
prices it is in USDT per 1 unit of A. Exports keep the engine's own numbers.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from pairs_tui.backtest.metrics import MIN_SHARPE_BARS, MIN_SHARPE_TRADES
from pairs_tui.backtest.results import BacktestMetrics, BacktestTrade
from pairs_tui.backtest.session import SessionBacktest
from pairs_tui.ui import formatting, plotting
from pairs_tui.ui.jobs import BacktestRequest
from pairs_tui.ui.view import HEDGE_NAMES

TRADE_COLUMNS = ("#", "side", "entry", "z in", "exit", "z out", "why", "held", "P&L")
"""The columns of the trade list."""


def pnl_scale(price_mode: str) -> tuple[float, str]:
    """Factor and unit a P&L is shown in: basis points of A on log prices, USDT on raw."""
    return (1e4, "bp") if price_mode == "log" else (1.0, "USDT")


def pnl(value: float | None, price_mode: str, *, signed: bool = True) -> str:
    """``-61.6 bp`` (log prices) or ``+15.30 USDT`` (raw prices), with a real minus sign;
    an en dash when unknown."""
    if not formatting.known(value):
        return formatting.DASH
    assert value is not None
    scale, unit = pnl_scale(price_mode)
    return f"{formatting.number(value * scale, 1 if unit == 'bp' else 2, signed=signed)} {unit}"


def units(session: SessionBacktest) -> str:
    """What one P&L figure means, naming the legs."""
    a, b = session.symbols
    if session.result.params.price_mode == "log":
        return f"bp of A's notional: 1 USDT of {a} against β USDT of {b}"
    return f"USDT per 1 unit of {a} against β units of {b}"


def title(run: SessionBacktest | BacktestRequest) -> str:
    """``backtest  BTCUSDT / ETHUSDT  1s  window 300  OLS on log prices``."""
    hedge = HEDGE_NAMES.get(run.hedge, run.hedge)
    a, b = run.symbols
    return (
        f"backtest  {a} / {b}  {run.timeframe}  window {run.window:,}  "
        f"{hedge} on {run.price} prices"
    )


def levels(session: SessionBacktest) -> str:
    """``entry ±2  exit 0  stop none  fees 4 bp per leg per fill``: what the config asked for."""
    p = session.result.params
    stop = "none" if p.stop is None else f"±{p.stop:g}"
    return (
        f"entry ±{p.entry:g}  exit {p.exit:g}  stop {stop}  fees {p.fee_bps:g} bp per leg per fill"
    )


def coverage(session: SessionBacktest, total_bars: int) -> str:
    """``45 of 345 1s bars with a z-score, 23:59:16 → 00:00:00 UTC``, and whether the history
    holds the whole session."""
    m = session.result.metrics
    height = session.bars.height
    text = f"{m.bars:,} of {height:,} {session.timeframe} bars with a z-score"
    if m.start_ts is not None and m.end_ts is not None:
        text += f", {formatting.clock(m.start_ts)} → {formatting.clock(m.end_ts)} UTC"
    if total_bars > height:
        text += f" (the last {height:,} of {total_bars:,}: raise bars.history for more)"
    return text


def results(session: SessionBacktest) -> list[tuple[str, str]]:
    """The figures as (label, value), results first then risk, in reading order."""
    m = session.result.metrics
    mode = session.result.params.price_mode
    opened = m.trades - m.closed_trades
    trades = f"{m.trades:,} ({m.closed_trades:,} closed{f', {opened} open' if opened else ''})"
    wins = sum(t.pnl > 0 for t in session.result.trades if t.exit_reason != "open")
    hit = (
        formatting.DASH
        if m.hit_rate is None
        else f"{m.hit_rate:.0%} ({wins:,} of {m.closed_trades:,})"
    )
    sharpe = sharpe_text(m)
    in_market = (
        formatting.DASH if m.time_in_market is None else f"{m.time_in_market:.0%} of the bars"
    )
    holding = (
        formatting.DASH
        if m.avg_holding_ms is None
        else formatting.duration(m.avg_holding_ms / 1000)
    )
    return [
        ("trades", trades),
        ("total P&L", pnl(m.total_pnl, mode)),
        ("per trade", pnl(m.avg_trade_pnl, mode)),
        ("hit rate", hit),
        ("fees paid", pnl(m.fees, mode, signed=False)),
        ("Sharpe", sharpe),
        ("max drawdown", pnl(m.max_drawdown, mode, signed=False)),
        ("in market", in_market),
        ("avg holding", holding),
    ]


def sharpe_text(m: BacktestMetrics) -> str:
    """``-0.146/bar (-819.3 a year)``, or why it is not shown: too few closed trades or bars
    (``- (3 trades, 245 bars: needs 10, 1,000)``), too short to annualise."""
    if m.sharpe is None:
        if m.closed_trades < MIN_SHARPE_TRADES or m.bars < MIN_SHARPE_BARS:
            return (
                f"{formatting.DASH} ({m.closed_trades:,} trades, {m.bars:,} bars: "
                f"needs {MIN_SHARPE_TRADES}, {MIN_SHARPE_BARS:,})"
            )
        return f"{formatting.DASH} ({m.sharpe_note})" if m.sharpe_note else formatting.DASH
    text = f"{formatting.number(m.sharpe, 3, signed=True)}/bar"
    if m.sharpe_annualised is not None:
        yearly = f"{m.sharpe_annualised:+,.1f}".replace("-", formatting.MINUS)
        return f"{text} ({yearly} a year)"
    if m.sharpe_note and m.bar_ms and m.start_ts is not None and m.end_ts is not None:
        hours = (m.end_ts - m.start_ts + m.bar_ms) / 3_600_000
        return f"{text} (not annualised: {hours:.1f} h < 24 h)"
    return text


def no_trades(session: SessionBacktest) -> str:
    """Why there was no trade, in the trader's words."""
    p = session.result.params
    z = session.result.equity["zscore"].drop_nulls().abs().max()
    largest = f" (the largest was {z:.2f})" if isinstance(z, float) and math.isfinite(z) else ""
    return (
        f"no trades: |z| never went beyond the entry level {p.entry:g} on these "
        f"{session.result.metrics.bars:,} bars{largest}"
    )


def trade_row(number: int, trade: BacktestTrade, price_mode: str) -> tuple[str, ...]:
    """One trade as the list shows it: times are the fill bars', P&L net of fees."""
    closed = trade.exit_ts is not None
    return (
        str(number),
        trade.side,
        formatting.clock(trade.entry_ts),
        formatting.number(trade.entry_z, 2, signed=True),
        formatting.clock(trade.exit_ts) if trade.exit_ts is not None else formatting.DASH,
        formatting.number(trade.exit_z, 2, signed=True) if closed else formatting.DASH,
        trade.exit_reason,
        formatting.duration(trade.holding_ms / 1000),
        pnl(trade.pnl, price_mode),
    )


def equity_series(session: SessionBacktest) -> plotting.Series | None:
    """The equity curve over the evaluation period (from the first z-score), in P&L units."""
    result = session.result
    start = result.metrics.start_ts
    if start is None:
        return None
    curve = result.equity.filter(pl.col("ts") >= start)
    scale, _ = pnl_scale(result.params.price_mode)
    seconds = formatting.TIMEFRAME_SECONDS.get(session.timeframe, 1) < 60
    return plotting.Series(
        curve["ts"].to_numpy().astype(np.int64),
        curve["equity"].cast(pl.Float64).to_numpy() * scale,
        seconds_labels=seconds,
    )
