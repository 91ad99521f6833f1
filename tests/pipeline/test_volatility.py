"""Annualised volatility counts bars of the timeframe shown, not seconds."""

from __future__ import annotations

import math

import numpy as np

from pairs_tui.config import Settings
from pairs_tui.pipeline import Pipeline
from sources import PAIR, ListSource, session_b_trades


def test_one_minute_volatility_is_annualised_by_minutes() -> None:
    pipeline = Pipeline(Settings(), ListSource([]), PAIR, window=3)
    for trade in session_b_trades():
        pipeline.on_trade(trade)
    pipeline.finish()
    bars = pipeline.history("1m")
    closes = np.array(bars["close_a"].to_list())
    returns = np.diff(np.log(closes))[-3:]
    expected = float(returns.std(ddof=1)) * math.sqrt(365 * 86_400 / 60)
    got = bars["vol_a"].to_list()[-1]
    assert math.isclose(got, expected, rel_tol=1e-9)
