"""What a backtest was run with and what it produced: parameters, trades, metrics, curves.

Plain records, shared by the engine (:mod:`pairs_tui.backtest.engine`), its summary
(:mod:`pairs_tui.backtest.metrics`), the ``--backtest`` report and the screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import msgspec
import polars as pl

from pairs_tui.records import PriceMode

Side = Literal["long", "short"]
ExitReason = Literal["exit", "stop", "open"]


class BacktestParams(msgspec.Struct, frozen=True, kw_only=True):
    """What the backtest was run with."""

    entry: float = 2.0
    """Enter when ``|z|`` goes beyond this."""
    exit: float = 0.0
    """Exit a short when ``z <= exit``, a long when ``z >= -exit``."""
    stop: float | None = None
    """Stop a short when ``z >= stop``, a long when ``z <= -stop``; None for no stop."""
    fee_bps: float = 4.0
    """Basis points of each leg's notional, at every fill."""
    price_mode: PriceMode = "log"
    """How positions are sized: ``log`` dollar-weighted, ``raw`` unit-weighted."""
    hedge_column: str = "hedge_beta"
    """Where the hedge ratio came from: ``hedge_beta`` on the signal bar, or ``beta`` on the bar
    before it."""
    bar_ms: int | None = None
    """Bar length in ms, for annualising Sharpe; None infers it from ``ts``."""

    def check(self) -> None:
        """Raise ValueError when the levels do not make a strategy.

        Raises:
            ValueError: a non-finite level, ``entry < 0``, ``exit >= entry``, ``stop <= entry``
                or negative fees.
        """
        levels = [self.entry, self.exit, self.fee_bps] + ([] if self.stop is None else [self.stop])
        if not all(math.isfinite(v) for v in levels):
            raise ValueError("backtest levels must be finite numbers")
        if self.entry < 0:
            raise ValueError(f"entry_z must be >= 0, got {self.entry}")
        if self.exit >= self.entry:
            raise ValueError(f"exit_z ({self.exit}) must be below entry_z ({self.entry})")
        if self.stop is not None and self.stop <= self.entry:
            raise ValueError(f"stop_z ({self.stop}) must be above entry_z ({self.entry})")
        if self.fee_bps < 0:
            raise ValueError(f"fee_bps must be >= 0, got {self.fee_bps}")
        if self.price_mode not in ("log", "raw"):
            raise ValueError(f"price mode must be 'log' or 'raw', got {self.price_mode!r}")


class FundingEvent(msgspec.Struct, frozen=True):
    """One funding of one leg, as ``GET /fapi/v1/fundingRate`` reports it."""

    time_ms: int
    """The funding time, ms UTC."""
    leg: int
    """0 for leg A, 1 for leg B."""
    rate: float
    """The rate settled: longs pay ``rate`` times their notional when positive."""
    mark: float | None = None
    """The mark price the notional is valued at; None uses the last close before the funding."""


class BacktestTrade(msgspec.Struct, frozen=True, kw_only=True):
    """One round trip. Times are bar labels (bar start, ms UTC), as in the history; a fill
    happens at the close of its bar, i.e. at ``entry_ts`` plus the bar length."""

    side: Side
    """``long`` the spread (long A, short ``hedge`` of B) or ``short`` it."""
    signal_ts: int
    """The bar whose z-score decided the entry."""
    entry_ts: int
    """The bar at whose close the entry filled: the bar after ``signal_ts``."""
    entry_z: float
    """The z-score that decided the entry."""
    hedge: float
    """The hedge ratio sizing the B leg: the one the signal bar's z-score used."""
    qty_a: float
    """Signed quantity of A held (units of the contract)."""
    qty_b: float
    """Signed quantity of B held."""
    entry_price_a: float
    entry_price_b: float
    exit_signal_ts: int | None
    """The bar whose z-score decided the exit; None while open."""
    exit_ts: int | None
    """The bar at whose close the exit filled; None while open."""
    exit_z: float | None
    """The z-score that decided the exit; None while open."""
    exit_price_a: float
    """Exit fill price of A, or the last close an open trade is marked at."""
    exit_price_b: float
    exit_reason: ExitReason
    """``exit`` (z crossed the exit level), ``stop``, or ``open`` (marked at the last close)."""
    pnl_a: float
    """Price P&L of the A leg, before fees."""
    pnl_b: float
    """Price P&L of the B leg, before fees."""
    fees: float
    """Fees of both legs and both fills (entry only while open)."""
    pnl: float
    """``pnl_a + pnl_b - fees + funding``."""
    bars_held: int
    """Bars from the entry fill to the exit fill (or the last bar)."""
    holding_ms: int
    """Time from the entry fill to the exit fill (or the last bar's close)."""
    funding: float = 0.0
    """Funding received (negative: paid) at the funding times the trade was held over; 0 when
    the backtest ran without funding."""


class BacktestMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """The summary. P&L figures are in the units of the price mode (see the module doc)."""

    bars: int
    """Bars in the evaluation period (first bar with a z-score to the last bar)."""
    start_ts: int | None
    """First bar of the period; None when no bar has a z-score."""
    end_ts: int | None
    """Last bar of the period."""
    trades: int
    """Round trips, the open one included."""
    closed_trades: int
    total_pnl: float
    """Equity at the last bar: closed trades plus the open one marked at the last close."""
    fees: float
    """Fees paid."""
    funding: float = 0.0
    """Funding received (negative: paid), included in the P&L figures; 0 without funding."""
    avg_trade_pnl: float | None
    """Mean net P&L of closed trades."""
    hit_rate: float | None
    """Share of closed trades with a positive net P&L."""
    sharpe: float | None
    """Per-bar Sharpe ratio of the bar P&L; None when it has no variance, or with too few
    closed trades or bars to mean something (:attr:`sharpe_note` says which)."""
    sharpe_annualised: float | None
    """``sharpe * sqrt(bars per year)``; None also when the period is too short to annualise."""
    sharpe_note: str | None = None
    """Why ``sharpe`` or ``sharpe_annualised`` is None; None when both are shown."""
    max_drawdown: float
    """Largest fall of equity from its running peak, as a positive number."""
    time_in_market: float | None
    """Share of the period's bars held with a position."""
    avg_holding_ms: float | None
    """Mean holding time of closed trades."""
    bar_ms: int | None
    """Bar length used to annualise."""


EQUITY_SCHEMA: dict[str, type[pl.DataType]] = {
    "ts": pl.Int64,
    "zscore": pl.Float64,
    "target": pl.Int8,
    "position": pl.Int8,
    "equity": pl.Float64,
    "pnl": pl.Float64,
    "drawdown": pl.Float64,
}
"""Columns of the equity curve, one row per input bar: the bar label, its z-score, the position
decided at its close (``target``: 1 long, -1 short, 0 flat), the position held after its close
(``position``, which is the previous bar's ``target``), equity, bar P&L and drawdown."""

TRADE_SCHEMA: dict[str, type[pl.DataType]] = {
    name: (
        pl.String
        if name in ("side", "exit_reason")
        else pl.Int64
        if name.endswith("_ts") or name in ("bars_held", "holding_ms")
        else pl.Float64
    )
    for name in BacktestTrade.__struct_fields__
}
"""Columns of the trade list as a frame, in :class:`BacktestTrade`'s field order."""


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Everything one backtest produced."""

    params: BacktestParams
    trades: list[BacktestTrade]
    """Round trips in entry order; the last may be open."""
    equity: pl.DataFrame
    """The equity curve (:data:`EQUITY_SCHEMA`), one row per input bar."""
    metrics: BacktestMetrics

    def trades_frame(self) -> pl.DataFrame:
        """The trades as a frame (:data:`TRADE_SCHEMA`), for exports."""
        rows = [msgspec.structs.astuple(trade) for trade in self.trades]
        return pl.DataFrame(rows, schema=TRADE_SCHEMA, orient="row")
