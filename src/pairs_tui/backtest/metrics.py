"""Summary figures of a backtest, from its equity curve and its trades.

Metrics are over the *evaluation period*: from the first bar with a z-score to the last bar.

- Equity: closed trades' net P&L plus the open trade's, marked at each bar's close (its entry
  fees already paid); 0 before the first fill.
- Bar P&L: the change of equity over one bar (fees land on the fill bar).
- Sharpe: mean over standard deviation (ddof 1) of the bar P&L, per bar; annualised by
  ``sqrt(bars per year)`` with 365 days of 24 hours (perpetuals trade around the clock). In log
  mode the bar P&L is a return on 1 USDT of A; in raw mode Sharpe is the same as for a return on
  one unit of A at a fixed price, since the ratio does not depend on the scale.
- Maximum drawdown: the largest fall of equity from its running peak (peak starts at 0), in the
  P&L units above, reported as a positive number.
- Time in market: the share of the period's bars held with an open position.
- Hit rate and average trade P&L: over closed trades; total P&L includes the open one.
"""

from __future__ import annotations

import math

import numpy as np

from pairs_tui.backtest.results import BacktestMetrics, BacktestParams, BacktestTrade

MS_PER_YEAR = 365 * 24 * 3600 * 1000
"""Milliseconds in a year of round-the-clock trading, for annualising Sharpe."""


def summarise(
    params: BacktestParams,
    ts: np.ndarray,
    z: np.ndarray,
    position: np.ndarray,
    equity: np.ndarray,
    trades: list[BacktestTrade],
    fees: float,
) -> BacktestMetrics:
    """The summary over the evaluation period (first bar with a z-score to the end).

    Args:
        params: What the backtest ran with (its bar length annualises Sharpe).
        ts: Bar labels, ms UTC.
        z: Z-score per bar, NaN where unknown.
        position: Position held after each bar's close (1 long, -1 short, 0 flat).
        equity: Equity at each bar's close.
        trades: The round trips, the open one last.
        fees: Fees paid.

    Returns:
        The metrics.
    """
    known = np.flatnonzero(np.isfinite(z))
    closed = [t for t in trades if t.exit_reason != "open"]
    start = int(known[0]) if len(known) else len(ts)
    period = equity[start:]
    steps = np.diff(period)
    # A position held after bar i - 1's close is in the market during bar i.
    held = position[start:-1] != 0 if len(steps) else np.zeros(0, dtype=bool)
    sharpe = None
    if len(steps) >= 2:
        sd = float(np.std(steps, ddof=1))
        if sd > 0.0:
            sharpe = float(np.mean(steps)) / sd
    annual = None
    if sharpe is not None and params.bar_ms:
        annual = sharpe * math.sqrt(MS_PER_YEAR / params.bar_ms)
    peak = np.maximum.accumulate(np.maximum(period, 0.0)) if len(period) else period
    return BacktestMetrics(
        bars=len(period),
        start_ts=int(ts[start]) if len(period) else None,
        end_ts=int(ts[-1]) if len(period) else None,
        trades=len(trades),
        closed_trades=len(closed),
        total_pnl=float(equity[-1]) if len(equity) else 0.0,
        fees=float(fees),
        avg_trade_pnl=float(np.mean([t.pnl for t in closed])) if closed else None,
        hit_rate=sum(t.pnl > 0 for t in closed) / len(closed) if closed else None,
        sharpe=sharpe,
        sharpe_annualised=annual,
        max_drawdown=float(np.max(peak - period)) if len(period) else 0.0,
        time_in_market=float(np.mean(held)) if len(steps) else None,
        avg_holding_ms=float(np.mean([t.holding_ms for t in closed])) if closed else None,
        bar_ms=params.bar_ms,
    )
