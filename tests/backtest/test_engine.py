"""The backtest engine on crafted bars whose every trade and P&L is worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest

from pairs_tui.backtest.engine import run
from pairs_tui.backtest.results import EQUITY_SCHEMA, TRADE_SCHEMA, BacktestTrade

# One row per 1-second bar: zscore, beta (the fit through this bar), close_a, close_b.
# The beta that sizes a trade is the one on the row *before* its signal bar.
Row = tuple[float | None, float | None, float, float]

CRAFTED: list[Row] = [
    (None, None, 100.0, 50.0),  # 0  warm-up
    (0.5, 0.8, 100.0, 50.0),  # 1  first z: the evaluation period starts here
    (2.5, 0.5, 100.0, 50.0),  # 2  z > 2: short signal, hedge = beta[1] = 0.8
    (1.8, 0.9, 110.0, 40.0),  # 3  short fills here
    (-0.2, 0.9, 99.0, 44.0),  # 4  z <= 0: exit signal
    (-2.6, 1.0, 88.0, 44.0),  # 5  exit fills; flat and z < -2: long signal, hedge = 0.9
    (-1.0, 1.0, 90.0, 45.0),  # 6  long fills
    (-3.5, 1.0, 85.5, 45.0),  # 7  z <= -3: stop signal
    (-2.5, 1.0, 81.0, 42.5),  # 8  stop fills; z < -2 but the long side is locked
    (-1.5, 1.2, 80.0, 40.0),  # 9  back inside the band: unlocked
    (-2.2, 1.0, 80.0, 40.0),  # 10 long signal, hedge = beta[9] = 1.2
    (0.5, 1.0, 80.0, 40.0),  # 11 long fills; z >= 0: exit signal at once
    (3.2, 0.5, 84.0, 41.0),  # 12 exit fills; z beyond the stop: no entry
    (2.4, 0.7, 100.0, 50.0),  # 13 short signal, hedge = beta[12] = 0.5
    (1.0, 0.7, 100.0, 50.0),  # 14 short fills
    (0.8, 0.7, 95.0, 52.0),  # 15 last bar: still short, marked here
]


def bars_frame(rows: Sequence[Row], step_ms: int = 1000) -> pl.DataFrame:
    """A minimal history frame: the columns the engine reads."""
    return pl.DataFrame(
        {
            "ts": [i * step_ms for i in range(len(rows))],
            "zscore": [r[0] for r in rows],
            "beta": [r[1] for r in rows],
            "close_a": [r[2] for r in rows],
            "close_b": [r[3] for r in rows],
        },
        schema={
            "ts": pl.Int64,
            "zscore": pl.Float64,
            "beta": pl.Float64,
            "close_a": pl.Float64,
            "close_b": pl.Float64,
        },
    )


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def test_crafted_series_every_trade_by_hand() -> None:
    result = run(bars_frame(CRAFTED), entry=2.0, exit=0.0, stop=3.0, fee_bps=10.0, price_mode="log")
    t1, t2, t3, t4 = result.trades
    assert len(result.trades) == 4

    # Short: -1 USDT of A at 110, +0.8 USDT of B at 40; out at 88 / 44.
    assert (t1.side, t1.signal_ts, t1.entry_ts, t1.entry_z, t1.hedge) == (
        "short",
        2000,
        3000,
        2.5,
        0.8,
    )
    assert (t1.exit_signal_ts, t1.exit_ts, t1.exit_z, t1.exit_reason) == (4000, 5000, -0.2, "exit")
    assert t1.qty_a == approx(-1 / 110) and t1.qty_b == approx(0.02)
    assert t1.pnl_a == approx(0.2)  # -1/110 * (88 - 110)
    assert t1.pnl_b == approx(0.08)  # 0.02 * (44 - 40)
    assert t1.fees == approx(0.00348)  # 0.001 * (1 + 0.8) + 0.001 * (0.8 + 0.88)
    assert t1.pnl == approx(0.27652)
    assert (t1.bars_held, t1.holding_ms) == (2, 2000)

    # Long: +1 USDT of A at 90, -0.9 USDT of B at 45; stopped out at 81 / 42.5.
    assert (t2.side, t2.signal_ts, t2.entry_ts, t2.entry_z, t2.hedge) == (
        "long",
        5000,
        6000,
        -2.6,
        0.9,
    )
    assert (t2.exit_signal_ts, t2.exit_ts, t2.exit_z, t2.exit_reason) == (7000, 8000, -3.5, "stop")
    assert t2.pnl_a == approx(-0.1)  # 1/90 * (81 - 90)
    assert t2.pnl_b == approx(0.05)  # -0.02 * (42.5 - 45)
    assert t2.fees == approx(0.00365)  # 0.001 * (1 + 0.9) + 0.001 * (0.9 + 0.85)
    assert t2.pnl == approx(-0.05365)

    # The locked side waits for bar 9; long again at bar 10's signal, out at once.
    assert (t3.side, t3.signal_ts, t3.entry_ts, t3.hedge) == ("long", 10_000, 11_000, 1.2)
    assert (t3.exit_signal_ts, t3.exit_ts, t3.exit_reason) == (11_000, 12_000, "exit")
    assert t3.pnl_a == approx(0.05)  # 1/80 * (84 - 80)
    assert t3.pnl_b == approx(-0.03)  # -1.2/40 * (41 - 40)
    assert t3.fees == approx(0.00448)  # 0.001 * 2.2 + 0.001 * (1.05 + 1.23)
    assert t3.pnl == approx(0.01552)

    # Still open at the end: marked at the last close, no exit fee.
    assert (t4.side, t4.signal_ts, t4.entry_ts, t4.hedge) == ("short", 13_000, 14_000, 0.5)
    assert (t4.exit_signal_ts, t4.exit_ts, t4.exit_z, t4.exit_reason) == (None, None, None, "open")
    assert (t4.exit_price_a, t4.exit_price_b) == (95.0, 52.0)
    assert t4.pnl_a == approx(0.05) and t4.pnl_b == approx(0.02)
    assert t4.fees == approx(0.0015)
    assert t4.pnl == approx(0.0685)
    assert (t4.bars_held, t4.holding_ms) == (1, 1000)

    equity = [
        0,
        0,
        0,
        -0.0018,
        0.1782,
        0.27652,
        0.27462,
        0.22462,
        0.22287,
        0.22287,
        0.22287,
        0.22067,
        0.23839,
        0.23839,
        0.23689,
        0.30689,
    ]
    assert result.equity["equity"].to_list() == pytest.approx(equity, abs=1e-12)
    assert result.equity["position"].to_list() == [
        0,
        0,
        0,
        -1,
        -1,
        0,
        1,
        1,
        0,
        0,
        0,
        1,
        0,
        0,
        -1,
        -1,
    ]
    assert result.equity["target"].to_list() == [
        0,
        0,
        -1,
        -1,
        0,
        1,
        1,
        0,
        0,
        0,
        1,
        0,
        0,
        -1,
        -1,
        -1,
    ]

    m = result.metrics
    assert (m.bars, m.start_ts, m.end_ts, m.trades, m.closed_trades) == (15, 1000, 15_000, 4, 3)
    assert m.total_pnl == approx(0.30689)
    assert m.fees == approx(0.01311)
    assert m.avg_trade_pnl == approx((0.27652 - 0.05365 + 0.01552) / 3)
    assert m.hit_rate == approx(2 / 3)
    assert m.max_drawdown == approx(0.27652 - 0.22067)
    assert m.time_in_market == approx(6 / 14)  # held during bars 4, 5, 7, 8, 12, 15 of 2..15
    assert m.avg_holding_ms == approx((2000 + 2000 + 1000) / 3)
    # Three closed trades on 15 bars: Sharpe would be noise (tests/backtest/test_sharpe.py).
    assert (m.sharpe, m.sharpe_annualised) == (None, None)
    assert (
        m.sharpe_note
        == "too few to mean something: 3 closed trades (needs 10), 15 bars (needs 1,000)"
    )
    assert m.bar_ms == 1000


def test_raw_prices_trade_one_unit_of_a_against_beta_units_of_b() -> None:
    rows = [
        (None, 0.05, 60_000.0, 2_500.0),
        (-2.5, 0.05, 60_000.0, 2_500.0),
        (-1.0, 0.05, 60_100.0, 2_520.0),
        (0.1, 0.05, 60_050.0, 2_510.0),
        (0.0, 0.05, 60_300.0, 2_515.0),
    ]
    result = run(bars_frame(rows), entry=2.0, exit=0.0, fee_bps=2.0, price_mode="raw")
    (trade,) = result.trades
    assert (trade.side, trade.qty_a, trade.qty_b, trade.hedge) == ("long", 1.0, -0.05, 0.05)
    assert (trade.entry_price_a, trade.exit_price_a) == (60_100.0, 60_300.0)
    assert trade.pnl_a == approx(200.0)
    assert trade.pnl_b == approx(-0.05 * (2_515 - 2_520))
    # 2 bp of each leg's notional at each fill.
    assert trade.fees == approx(0.0002 * (60_100 + 0.05 * 2_520 + 60_300 + 0.05 * 2_515))
    assert result.metrics.total_pnl == approx(trade.pnl)


def test_exit_beyond_the_other_band_reverses() -> None:
    rows = [
        (None, 1.0, 100.0, 100.0),
        (2.5, 1.0, 100.0, 100.0),
        (-2.5, 1.0, 101.0, 100.0),
        (-1.0, 1.0, 99.0, 100.0),
        (-1.0, 1.0, 98.0, 100.0),
    ]
    result = run(bars_frame(rows), fee_bps=0.0)
    short, long = result.trades
    assert (short.side, short.entry_ts, short.exit_ts, short.exit_reason) == (
        "short",
        2000,
        3000,
        "exit",
    )
    assert (long.side, long.signal_ts, long.entry_ts, long.exit_reason) == (
        "long",
        2000,
        3000,
        "open",
    )
    assert short.pnl == approx(-(99 - 101) / 101)
    assert long.pnl == approx((98 - 99) / 99)


def test_signal_on_the_last_bar_never_fills() -> None:
    rows = [(None, 1.0, 100.0, 100.0), (0.0, 1.0, 100.0, 100.0), (2.5, 1.0, 100.0, 100.0)]
    result = run(bars_frame(rows))
    assert result.trades == []
    assert result.equity["target"].to_list() == [0, 0, -1]
    assert result.metrics.total_pnl == 0.0


def test_no_entry_without_a_hedge_in_force() -> None:
    # Bar 0 has no previous row (history cut at the front); bar 1's previous fit is unknown.
    rows = [
        (2.5, None, 100.0, 100.0),
        (2.5, 1.0, 100.0, 100.0),
        (2.5, 1.0, 100.0, 100.0),
        (1.0, 1.0, 100.0, 100.0),
    ]
    result = run(bars_frame(rows))
    assert [t.signal_ts for t in result.trades] == [2000]


def test_null_zscore_holds_the_position() -> None:
    rows = [
        (None, 1.0, 100.0, 100.0),
        (-2.5, 1.0, 100.0, 100.0),
        (None, 1.0, 100.0, 100.0),
        (None, 1.0, 101.0, 100.0),
        (0.5, 1.0, 102.0, 100.0),
        (0.0, 1.0, 103.0, 100.0),
    ]
    result = run(bars_frame(rows), fee_bps=0.0)
    (trade,) = result.trades
    assert (trade.entry_ts, trade.exit_signal_ts, trade.exit_ts) == (2000, 4000, 5000)


def test_no_signal_no_metrics_to_speak_of() -> None:
    result = run(bars_frame([(None, None, 100.0, 50.0)] * 5))
    m = result.metrics
    assert (m.bars, m.trades, m.total_pnl, m.sharpe, m.hit_rate, m.time_in_market) == (
        0,
        0,
        0.0,
        None,
        None,
        None,
    )
    assert result.trades_frame().schema == pl.Schema(TRADE_SCHEMA)
    assert result.equity.schema == pl.Schema(EQUITY_SCHEMA)


def test_trades_frame_has_one_row_per_trade() -> None:
    result = run(bars_frame(CRAFTED), stop=3.0)
    frame = result.trades_frame()
    assert frame.height == 4
    assert frame.columns == list(BacktestTrade.__struct_fields__)
    assert frame["pnl"].to_list() == [t.pnl for t in result.trades]
    assert frame["exit_ts"].to_list()[-1] is None


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ({"entry": 2.0, "exit": 2.0}, "exit_z"),
        ({"entry": 2.0, "stop": 1.5}, "stop_z"),
        ({"entry": -1.0, "exit": -2.0}, "entry_z"),
        ({"fee_bps": -1.0}, "fee_bps"),
        ({"entry": float("nan")}, "finite"),
    ],
)
def test_levels_that_make_no_strategy_are_refused(levels: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run(bars_frame(CRAFTED), **levels)  # type: ignore[arg-type]


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="zscore"):
        run(bars_frame(CRAFTED).drop("zscore"))


def test_hedge_beta_on_the_signal_bar_sizes_the_trade() -> None:
    # The analytics publish the hedge each z-score used as ``hedge_beta`` on the same row.
    bars = bars_frame(CRAFTED).with_columns(hedge_beta=pl.col("beta").shift(1) * 2)
    result = run(bars, stop=3.0)
    assert result.params.hedge_column == "hedge_beta"
    assert [t.hedge for t in result.trades] == [1.6, 1.8, 2.4, 1.0]
    assert run(bars_frame(CRAFTED)).params.hedge_column == "beta"
