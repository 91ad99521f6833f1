"""The mean-reversion backtest of the z-score signal: a pure function over the bar history.

:func:`run` reads the same bar history the screen draws (:data:`pairs_tui.snapshot.BAR_SCHEMA`,
from ``Pipeline.history()``), so the live screen and ``--backtest`` share one engine and the
backtest trades exactly the no-look-ahead z-score the user watched. Nothing here imports Textual,
the feed or the pipeline.

Rules, decided at each bar's close from that bar's ``zscore`` only:

- Flat: enter **short** the spread when ``z > entry``, **long** when ``z < -entry``.
- Short: **stop** when ``z >= stop`` (if a stop is set), else **exit** when ``z <= exit``.
  Long: stop when ``z <= -stop``, else exit when ``z >= -exit``. With the default ``exit = 0``
  both mean "z crossed zero".
- An exit (not a stop) is followed in the same decision by the flat rule, so a z-score that jumps
  from above ``entry`` to below ``-entry`` reverses the position.
- After a stop, that side is not re-entered until z has come back inside the entry band
  (``z <= entry`` for short, ``z >= -entry`` for long): otherwise the stop would re-enter at once.
  Nor is a position entered when ``|z|`` is already at or beyond the stop.
- No entry without a hedge ratio in force (see sizing).
- A null z-score (window not full, a flat leg) decides nothing: the position is held.

Fills: a decision taken at bar ``s``'s close fills at bar ``s + 1``'s close, never at the close of
the bar that produced it. A decision on the last bar has no fill. A position still open at the end
is marked at the last close, without exit fees, and reported with ``exit_reason = "open"``.

Sizing: the hedge ratio in force at the signal, i.e. the very hedge the signal bar's ``spread``
and ``zscore`` were computed with: the fit through the previous bar, so no look-ahead.
The analytics publish it as ``hedge_beta`` on the signal bar's own row (the held OLS fit, or the
Kalman prior with ``hedge = "kalman"``); a history without that column falls back to ``beta`` of
the bar *before* the signal, which is the same number for the OLS hedge. Either is known at the
signal bar's close, before the fill. The ratio is fixed for the trade's life.

- ``price_mode = "log"``: one USDT of A against ``beta`` USDT of B, at the entry fill's prices.
  P&L is in USDT per 1 USDT of A notional, so 0.0012 is 12 bp of the A leg.
- ``price_mode = "raw"``: one unit of A against ``beta`` units of B. P&L is in USDT per 1 unit
  of A.

Long the spread is long A and short ``beta`` of B; a negative ``beta`` makes the B leg long too.

Fees: ``fee_bps`` basis points of each leg's traded notional (``|qty| * price``), at every fill:
two legs on entry, two on exit.

Funding (when given, e.g. from ``GET /fapi/v1/fundingRate``): at each funding time ``T`` of a
leg, the position held at ``T`` pays ``qty * mark * rate`` on that leg (a long pays a positive
rate, a short receives it), at the funding's mark price (the last close before ``T`` when it
has none). A fill happens at a bar's close, the last trade before the bar's end, so a position
is held at ``T`` when its entry bar ends at or before ``T`` and its exit bar ends after ``T``.
Funding lands in equity on the bar holding ``T`` and in the trade's ``funding`` and ``pnl``.

The records it returns are in :mod:`pairs_tui.backtest.results`, the summary figures in
:mod:`pairs_tui.backtest.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from pairs_tui.backtest.metrics import summarise
from pairs_tui.backtest.results import (
    EQUITY_SCHEMA,
    BacktestParams,
    BacktestResult,
    BacktestTrade,
    ExitReason,
    FundingEvent,
)
from pairs_tui.config import Settings
from pairs_tui.records import TICK, TIMEFRAMES, PriceMode, Timeframe

_NO_EXIT, _EXIT, _STOP = 0, 1, 2
_REASONS: dict[int, ExitReason] = {_EXIT: "exit", _STOP: "stop"}


def run(
    bars: pl.DataFrame,
    *,
    entry: float = 2.0,
    exit: float = 0.0,
    stop: float | None = None,
    fee_bps: float = 4.0,
    price_mode: PriceMode = "log",
    bar_ms: int | None = None,
    funding: Sequence[FundingEvent] = (),
) -> BacktestResult:
    """Backtest the z-score signal over a bar history.

    Args:
        bars: Bars oldest first, one per grid step, with at least ``ts``, ``close_a``,
            ``close_b``, ``zscore`` and ``hedge_beta`` or ``beta`` (the pipeline's
            ``history()``).
        entry: Entry level for ``|z|``.
        exit: Exit level (see the module doc for the sign convention).
        stop: Optional stop level for ``|z|``, above ``entry``.
        fee_bps: Fees in basis points of each leg's notional, per fill.
        price_mode: ``log`` (1 USDT of A against ``beta`` USDT of B) or ``raw`` (1 unit of A
            against ``beta`` units of B); use the analytics' price mode.
        bar_ms: Bar length for annualising Sharpe; inferred from ``ts`` when None.
        funding: Both legs' fundings over the bars (none: no funding is charged).

    Returns:
        The trades, the equity curve and the metrics.

    Raises:
        ValueError: inconsistent levels, a missing column, or a fill bar without prices.
    """
    hedge_column = "hedge_beta" if "hedge_beta" in bars.columns else "beta"
    params = BacktestParams(
        entry=entry,
        exit=exit,
        stop=stop,
        fee_bps=fee_bps,
        price_mode=price_mode,
        hedge_column=hedge_column,
        bar_ms=bar_ms if bar_ms is not None else _bar_ms(bars),
    )
    params.check()
    missing = {"ts", "close_a", "close_b", "zscore", hedge_column} - set(bars.columns)
    if missing:
        raise ValueError(f"the bars lack column(s) {', '.join(sorted(missing))}")
    ts = bars["ts"].to_numpy().astype(np.int64)
    z = _floats(bars["zscore"])
    # The hedge in force at bar i is the fit through bar i - 1: the one bar i's z-score used.
    # ``hedge_beta`` is published on bar i itself; ``beta`` (the fit through bar i) is not.
    held = bars[hedge_column] if hedge_column == "hedge_beta" else bars[hedge_column].shift(1)
    hedge = _floats(held)
    close_a = _floats(bars["close_a"])
    close_b = _floats(bars["close_b"])
    target, reason = decide(z, hedge, entry=entry, exit=exit, stop=stop)
    events = sorted(funding, key=lambda e: (e.time_ms, e.leg))
    return _execute(params, ts, z, hedge, close_a, close_b, target, reason, events)


def backtest_history(
    bars: pl.DataFrame,
    settings: Settings,
    timeframe: Timeframe | None = None,
    funding: Sequence[FundingEvent] = (),
) -> BacktestResult:
    """Run :func:`run` with the levels, fees and price mode of ``settings``.

    ``--backtest`` and the screen's backtest key both call this on ``pipeline.history()``.

    Args:
        bars: The pipeline's history of one timeframe.
        settings: Where ``entry_z``, ``exit_z``, ``stop_z``, ``fee_bps`` and ``price`` live.
        timeframe: The history's timeframe (``1s``, ``1m``, ``5m``), for annualising; None
            (or ``tick``, whose rows have no one length) infers the bar length from ``ts``.
        funding: Fundings to charge (see :func:`run`).

    Raises:
        ValueError: levels in ``settings`` that do not make a strategy.
    """
    analytics = settings.analytics
    return run(
        bars,
        entry=analytics.entry_z,
        exit=analytics.exit_z,
        stop=analytics.stop_z,
        fee_bps=analytics.fee_bps,
        price_mode=analytics.price,
        bar_ms=None if timeframe is None or timeframe == TICK else TIMEFRAMES[timeframe],
        funding=funding,
    )


def decide(
    z: np.ndarray,
    hedge: np.ndarray,
    *,
    entry: float,
    exit: float,
    stop: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The position wanted after each bar's close, from z-scores up to that bar only.

    Args:
        z: Z-score per bar, NaN where unknown.
        hedge: Hedge ratio in force per bar, NaN where unknown (no entry without one).
        entry, exit, stop: Levels, as for :func:`run`.

    Returns:
        ``target`` (int8: 1 long the spread, -1 short, 0 flat) and ``reason`` (int8: why a
        position was closed at that bar: 1 exit, 2 stop, 0 none).
    """
    n = len(z)
    target = np.zeros(n, dtype=np.int8)
    reason = np.zeros(n, dtype=np.int8)
    want = 0
    blocked = 0  # the side a stop locked out until z is back inside the entry band
    for i in range(n):
        zi = float(z[i])
        if zi != zi:  # NaN: nothing is known, so nothing changes
            target[i] = want
            continue
        if (blocked == -1 and zi <= entry) or (blocked == 1 and zi >= -entry):
            blocked = 0
        if want == -1:
            if stop is not None and zi >= stop:
                want, blocked, reason[i] = 0, -1, _STOP
            elif zi <= exit:
                want, reason[i] = 0, _EXIT
        elif want == 1:
            if stop is not None and zi <= -stop:
                want, blocked, reason[i] = 0, 1, _STOP
            elif zi >= -exit:
                want, reason[i] = 0, _EXIT
        # No entry without a hedge to size it, nor beyond the stop, which would stop it at once.
        beyond_stop = stop is not None and abs(zi) >= stop
        if want == 0 and reason[i] != _STOP and math.isfinite(hedge[i]) and not beyond_stop:
            if zi > entry and blocked != -1:
                want = -1
            elif zi < -entry and blocked != 1:
                want = 1
        target[i] = want
    return target, reason


@dataclass(slots=True)
class _Open:
    """The position being held during execution."""

    side: int
    signal: int
    fill: int
    hedge: float
    qty_a: float
    qty_b: float
    fee: float
    funding: float = 0.0


def _execute(
    params: BacktestParams,
    ts: np.ndarray,
    z: np.ndarray,
    hedge: np.ndarray,
    close_a: np.ndarray,
    close_b: np.ndarray,
    target: np.ndarray,
    reason: np.ndarray,
    funding: Sequence[FundingEvent] = (),
) -> BacktestResult:
    """Fill each bar's decision at the next bar's close; charge funding; mark to market;
    summarise."""
    n = len(ts)
    rate = params.fee_bps / 10_000.0
    equity = np.zeros(n)
    position = np.zeros(n, dtype=np.int8)
    trades: list[BacktestTrade] = []
    # Realised P&L plus the open leg's P&L from its entry prices, rather than cash plus market
    # value: no cancellation between large notionals, so equity matches the trades' sums.
    realised = 0.0
    fees_paid = 0.0
    funded = 0.0
    bar_ms = params.bar_ms or 0
    next_event = 0
    held: _Open | None = None
    for i in range(1, n):
        # Fundings up to the end of bar i fall on the position held since bar i - 1's close.
        while next_event < len(funding) and funding[next_event].time_ms < int(ts[i]) + bar_ms:
            event = funding[next_event]
            next_event += 1
            if held is None or event.time_ms < int(ts[held.fill]) + bar_ms:
                continue
            qty, last = (
                (held.qty_a, close_a[i - 1]) if event.leg == 0 else (held.qty_b, close_b[i - 1])
            )
            mark = event.mark if event.mark is not None and event.mark > 0 else float(last)
            paid = -qty * mark * event.rate
            held.funding += paid
            funded += paid
        want = int(target[i - 1])
        side = 0 if held is None else held.side
        if want != side:
            pa, pb = close_a[i], close_b[i]
            if not (math.isfinite(pa) and math.isfinite(pb)):
                raise ValueError(f"bar {int(ts[i])} must fill a trade but lacks a close")
            if held is not None:
                exit_fee = rate * (abs(held.qty_a) * pa + abs(held.qty_b) * pb)
                fees_paid += exit_fee
                trade = _trade(
                    held, ts, z, close_a, close_b, i, i - 1, _REASONS[int(reason[i - 1])], exit_fee
                )
                trades.append(trade)
                realised += trade.pnl
                held = None
            if want != 0:
                held = _open(want, i - 1, i, float(hedge[i - 1]), pa, pb, rate, params)
                fees_paid += held.fee
        if held is None:
            equity[i] = realised
        else:
            position[i] = held.side
            equity[i] = (
                realised
                - held.fee
                + held.funding
                + held.qty_a * (close_a[i] - close_a[held.fill])
                + held.qty_b * (close_b[i] - close_b[held.fill])
            )
    if held is not None:
        trades.append(_trade(held, ts, z, close_a, close_b, n - 1, None, "open", 0.0))
    pnl = np.diff(equity, prepend=0.0)
    drawdown = np.maximum.accumulate(np.maximum(equity, 0.0)) - equity if n else equity
    curve = pl.DataFrame(
        {
            "ts": ts,
            "zscore": z,
            "target": target,
            "position": position,
            "equity": equity,
            "pnl": pnl,
            "drawdown": drawdown,
        },
        schema=EQUITY_SCHEMA,
    ).with_columns(pl.col("zscore").fill_nan(None))
    metrics = summarise(params, ts, z, position, equity, trades, fees_paid, funded)
    return BacktestResult(params, trades, curve, metrics)


def _open(
    side: int,
    signal: int,
    fill: int,
    hedge: float,
    pa: float,
    pb: float,
    rate: float,
    params: BacktestParams,
) -> _Open:
    """Size a new position: long the spread is +1 of A against ``-hedge`` of B."""
    if params.price_mode == "log":
        qty_a, qty_b = side / pa, -side * hedge / pb
    else:
        qty_a, qty_b = float(side), -side * hedge
    fee = rate * (abs(qty_a) * pa + abs(qty_b) * pb)
    return _Open(side, signal, fill, hedge, float(qty_a), float(qty_b), float(fee))


def _trade(
    held: _Open,
    ts: np.ndarray,
    z: np.ndarray,
    close_a: np.ndarray,
    close_b: np.ndarray,
    fill: int,
    signal: int | None,
    why: ExitReason,
    exit_fee: float,
) -> BacktestTrade:
    """The record of a round trip closed (or marked) at bar ``fill``."""
    pa0, pb0 = close_a[held.fill], close_b[held.fill]
    pa1, pb1 = close_a[fill], close_b[fill]
    pnl_a = held.qty_a * (pa1 - pa0)
    pnl_b = held.qty_b * (pb1 - pb0)
    fees = held.fee + exit_fee
    closed = signal is not None
    return BacktestTrade(
        side="long" if held.side == 1 else "short",
        signal_ts=int(ts[held.signal]),
        entry_ts=int(ts[held.fill]),
        entry_z=float(z[held.signal]),
        hedge=held.hedge,
        qty_a=held.qty_a,
        qty_b=held.qty_b,
        entry_price_a=float(pa0),
        entry_price_b=float(pb0),
        exit_signal_ts=int(ts[signal]) if closed else None,
        exit_ts=int(ts[fill]) if closed else None,
        exit_z=float(z[signal]) if closed else None,
        exit_price_a=float(pa1),
        exit_price_b=float(pb1),
        exit_reason=why,
        pnl_a=float(pnl_a),
        pnl_b=float(pnl_b),
        fees=float(fees),
        pnl=float(pnl_a + pnl_b - fees + held.funding),
        bars_held=fill - held.fill,
        # Both ends are closes of labelled bars, so the labels' difference is the time held.
        holding_ms=int(ts[fill]) - int(ts[held.fill]),
        funding=float(held.funding),
    )


def _floats(series: pl.Series) -> np.ndarray:
    """A float64 array with NaN for null, whatever the series' float type."""
    return series.cast(pl.Float64).fill_null(float("nan")).to_numpy().astype(np.float64)


def _bar_ms(bars: pl.DataFrame) -> int | None:
    """The grid step: the most common difference between consecutive bar labels."""
    if bars.height < 2 or "ts" not in bars.columns:
        return None
    steps = bars["ts"].diff().drop_nulls()
    steps = steps.filter(steps > 0)
    if steps.is_empty():
        return None
    return int(steps.mode().sort()[0])  # the shortest of equally common steps
