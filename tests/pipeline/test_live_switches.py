"""Hedge and price switches while running: what follows equals a run started that way."""

from __future__ import annotations

import math

import msgspec
import polars as pl
import pytest

from pairs_tui.config import Settings
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import TIMEFRAMES, HedgeMethod, PriceMode, Trade
from pairs_tui.snapshot import STAT_FIELDS
from sources import PAIR, ListSource, session_b_trades


def _settings(price: PriceMode = "log", hedge: HedgeMethod = "ols") -> Settings:
    settings = Settings()
    analytics = msgspec.structs.replace(settings.analytics, price=price, hedge=hedge, window=40)
    return msgspec.structs.replace(settings, analytics=analytics)


def _feed(pipeline: Pipeline, trades: list[Trade]) -> None:
    for trade in trades:
        pipeline.on_trade(trade)


def _close(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.height == b.height > 0
    assert a.select("ts", "close_a", "close_b").equals(b.select("ts", "close_a", "close_b"))
    for name in STAT_FIELDS:
        for x, y in zip(a[name].to_list(), b[name].to_list(), strict=True):
            assert (x is None) == (y is None), name
            if x is not None:
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), (name, x, y)


@pytest.mark.parametrize(
    ("start", "switch"),
    [
        (("log", "ols"), ("log", "kalman")),
        (("log", "ols"), ("raw", "ols")),
        (("raw", "kalman"), ("log", "ols0")),
        (("log", "ols"), ("log", "huber")),
    ],
)
def test_a_switch_mid_run_equals_a_run_started_with_that_setting(
    start: tuple[PriceMode, HedgeMethod], switch: tuple[PriceMode, HedgeMethod]
) -> None:
    trades = session_b_trades()
    source = ListSource([])
    switched = Pipeline(_settings(*start), source, PAIR)
    _feed(switched, trades[: len(trades) // 2])
    switched.set_analytics(price=switch[0], hedge=switch[1])
    _feed(switched, trades[len(trades) // 2 :])
    switched.finish()
    reference = Pipeline(_settings(*switch), source, PAIR)
    _feed(reference, trades)
    reference.finish()
    for name in TIMEFRAMES:
        _close(switched.history(name), reference.history(name))
    snap = switched.snapshot()
    assert (snap.price, snap.hedge) == switch


def test_a_switch_to_the_setting_in_force_changes_nothing() -> None:
    pipeline = Pipeline(_settings(), ListSource([]), PAIR)
    _feed(pipeline, session_b_trades()[:4000])
    before = pipeline.snapshot()
    pipeline.set_analytics(price="log", hedge="ols")
    assert pipeline.snapshot() is before
