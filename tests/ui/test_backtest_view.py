"""How a backtest reads on screen: P&L units and the export message (no Textual)."""

from __future__ import annotations

from pathlib import Path

from pairs_tui.ui import backtest_view, jobs


def test_pnl_is_in_basis_points_of_a_on_log_prices() -> None:
    assert backtest_view.pnl(-0.00616, "log") == "\u221261.6 bp"
    assert backtest_view.pnl(0.00674, "log", signed=False) == "67.4 bp"


def test_pnl_is_in_usdt_per_unit_of_a_on_raw_prices() -> None:
    assert backtest_view.pnl(15.3, "raw") == "+15.30 USDT"


def test_unknown_pnl_is_a_dash() -> None:
    assert backtest_view.pnl(None, "log") == "\u2013"
    assert backtest_view.pnl(float("nan"), "raw") == "\u2013"


def test_an_export_in_two_formats_names_both(tmp_path: Path) -> None:
    stamp = "20261122T101500Z"
    paths = [
        tmp_path / f"BTCUSDT-ETHUSDT_1s_backtest-{kind}_{stamp}.{fmt}"
        for kind in ("trades", "equity")
        for fmt in ("parquet", "csv")
    ]
    assert jobs.describe_export(paths) == (
        f"backtest-trades, backtest-equity → "
        f"{tmp_path.resolve()}/BTCUSDT-ETHUSDT_1s_*_{stamp}.{{parquet,csv}}"
    )


def test_an_export_in_one_format_keeps_its_extension(tmp_path: Path) -> None:
    paths = [
        tmp_path / f"A-B_1s_{kind}_20261122T101500Z.parquet"
        for kind in ("ticks", "bars", "analytics")
    ]
    assert jobs.describe_export(paths) == (
        f"ticks, bars, analytics → {tmp_path.resolve()}/A-B_1s_*_20261122T101500Z.parquet"
    )
