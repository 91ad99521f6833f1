"""Sharpe is shown only with enough closed trades and bars, annualised only over a day or more;
otherwise it is None and ``sharpe_note`` says why (issue 15, item 20: "-2,086 a year" from a
handful of trades on 1s bars)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from pairs_tui.backtest.engine import run
from pairs_tui.backtest.metrics import MIN_SHARPE_BARS, MIN_SHARPE_TRADES
from pairs_tui.backtest.results import BacktestMetrics
from pairs_tui.ui.backtest_view import sharpe_text


def sine_bars(n: int, step_ms: int, period: int = 100) -> pl.DataFrame:
    """A z-score swinging ±3 every ``period`` bars (two round trips a period at entry 2), A's
    price following it with a little seeded noise, B flat and unhedged."""
    i = np.arange(n)
    z = 3.0 * np.sin(2.0 * math.pi * i / period)
    noise = np.random.default_rng(3).normal(0.0, 0.05, n)
    return pl.DataFrame(
        {
            "ts": i * step_ms,
            "zscore": z,
            "hedge_beta": np.zeros(n),
            "close_a": 100.0 - 0.5 * z + noise,
            "close_b": np.full(n, 50.0),
        }
    )


def metrics(n: int, step_ms: int) -> BacktestMetrics:
    return run(sine_bars(n, step_ms), fee_bps=0.0).metrics


def test_enough_trades_and_bars_over_a_day_show_sharpe_and_annualise_it() -> None:
    m = metrics(3_000, 60_000)  # 50 hours of 1m bars, 60 round trips
    assert m.closed_trades >= MIN_SHARPE_TRADES and m.bars >= MIN_SHARPE_BARS
    assert m.sharpe is not None and m.sharpe_annualised is not None
    assert m.sharpe_annualised == pytest.approx(m.sharpe * math.sqrt(365 * 24 * 60), rel=1e-12)
    assert m.sharpe_note is None
    assert sharpe_text(m).endswith(" a year)")


def test_less_than_a_day_of_bars_shows_sharpe_per_bar_but_does_not_annualise_it() -> None:
    m = metrics(3_000, 1_000)  # the same bars at 1s: 50 minutes
    assert m.sharpe is not None and m.sharpe_annualised is None
    assert m.sharpe_note == "not annualised: 0.8 h of bars (needs 24 h)"
    assert sharpe_text(m).endswith("/bar (not annualised: 0.8 h < 24 h)")


def test_a_handful_of_trades_on_1s_bars_has_no_sharpe_and_says_why() -> None:
    m = metrics(300, 1_000)  # 5 minutes of 1s bars, 5 round trips
    assert (m.sharpe, m.sharpe_annualised) == (None, None)
    assert m.sharpe_note == (
        f"too few to mean something: {m.closed_trades} closed trades (needs 10), "
        "300 bars (needs 1,000)"
    )
    assert sharpe_text(m) == f"\u2013 ({m.closed_trades} trades, 300 bars: needs 10, 1,000)"


def test_a_flat_equity_has_no_sharpe_and_says_why() -> None:
    bars = sine_bars(2_000, 60_000).with_columns(zscore=pl.lit(0.0))
    m = run(bars).metrics
    assert m.sharpe is None and m.sharpe_note == "no variance in the bar P&L"
