"""Summary figures of a backtest, from its equity curve and its trades.

Metrics are over the *evaluation period*: from the first bar with a z-score to the last bar.

- Equity: closed trades' net P&L plus the open trade's, marked at each bar's close (its entry
  fees already paid); 0 before the first fill.
- Bar P&L: the change of equity over one bar (fees land on the fill bar).
- Sharpe: mean over standard deviation (ddof 1) of the bar P&L, per bar; annualised by
  ``sqrt(bars per year)`` with 365 days of 24 hours (perpetuals trade around the clock). In log
  mode the bar P&L is a return on 1 USDT of A; in raw mode Sharpe is the same as for a return on
  one unit of A at a fixed price, since the ratio does not depend on the scale.
  Sharpe is shown only when it can mean something: with at least :data:`MIN_SHARPE_TRADES`
  closed trades and :data:`MIN_SHARPE_BARS` bars in the period; the annualised figure also
  needs the period to span :data:`MIN_ANNUALISE_MS` (a day), since annualising multiplies the
  per-bar figure by ``sqrt(bars per year)``: on 1s bars that is 5,616, so the per-bar noise of
  a handful of trades reads as "-2,086 a year". Otherwise they are None and ``sharpe_note``
  says why.
- Funding: received (negative: paid) at each funding time a position was held over, in the
  P&L units above, included in equity and in every P&L figure.
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
MIN_SHARPE_TRADES = 10
"""Closed trades needed before Sharpe is shown."""
MIN_SHARPE_BARS = 1_000
"""Bars in the evaluation period needed before Sharpe is shown."""
MIN_ANNUALISE_MS = 86_400_000
"""Span of the evaluation period needed before Sharpe is annualised: a day."""


def summarise(
    params: BacktestParams,
    ts: np.ndarray,
    z: np.ndarray,
    position: np.ndarray,
    equity: np.ndarray,
    trades: list[BacktestTrade],
    fees: float,
    funding: float = 0.0,
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
        funding: Funding received (negative: paid).

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
    span_ms = int(ts[-1]) - int(ts[start]) + (params.bar_ms or 0) if len(period) else 0
    sharpe, annual, note = _shown_sharpe(sharpe, len(closed), len(period), span_ms, params.bar_ms)
    peak = np.maximum.accumulate(np.maximum(period, 0.0)) if len(period) else period
    return BacktestMetrics(
        bars=len(period),
        start_ts=int(ts[start]) if len(period) else None,
        end_ts=int(ts[-1]) if len(period) else None,
        trades=len(trades),
        closed_trades=len(closed),
        total_pnl=float(equity[-1]) if len(equity) else 0.0,
        fees=float(fees),
        funding=float(funding),
        avg_trade_pnl=float(np.mean([t.pnl for t in closed])) if closed else None,
        hit_rate=sum(t.pnl > 0 for t in closed) / len(closed) if closed else None,
        sharpe=sharpe,
        sharpe_annualised=annual,
        sharpe_note=note,
        max_drawdown=float(np.max(peak - period)) if len(period) else 0.0,
        time_in_market=float(np.mean(held)) if len(steps) else None,
        avg_holding_ms=float(np.mean([t.holding_ms for t in closed])) if closed else None,
        bar_ms=params.bar_ms,
    )


def _shown_sharpe(
    sharpe: float | None, closed: int, bars: int, span_ms: int, bar_ms: int | None
) -> tuple[float | None, float | None, str | None]:
    """Sharpe per bar and annualised as shown, and why either is hidden (None when neither)."""
    if sharpe is None:
        return None, None, "no variance in the bar P&L" if bars >= 2 else "fewer than 2 bars"
    short = []
    if closed < MIN_SHARPE_TRADES:
        short.append(f"{closed} closed trades (needs {MIN_SHARPE_TRADES})")
    if bars < MIN_SHARPE_BARS:
        short.append(f"{bars:,} bars (needs {MIN_SHARPE_BARS:,})")
    if short:
        return None, None, "too few to mean something: " + ", ".join(short)
    if not bar_ms:
        return sharpe, None, "not annualised: the bar length is unknown"
    if span_ms < MIN_ANNUALISE_MS:
        hours = span_ms / 3_600_000
        return sharpe, None, f"not annualised: {hours:.1f} h of bars (needs 24 h)"
    return sharpe, sharpe * math.sqrt(MS_PER_YEAR / bar_ms), None
