"""The palette's fixed commands (Export, Timeframe, Window, Hedge, Prices, Run, Display, Help),
for any app that has the actions they call (:class:`PaletteHost`; the pairs-tui app is one)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Protocol

from textual.app import SystemCommand

from pairs_tui.export import ExportFormat
from pairs_tui.records import TICK, TIMEFRAMES, HedgeMethod, PriceMode, Timeframe

WINDOW_PRESETS = (100, 300, 600, 1000, 3000)
"""Windows the palette offers directly."""
HEDGES: dict[str, HedgeMethod] = {
    "OLS": "ols",
    "OLS no intercept": "ols0",
    "Huber": "huber",
    "Kalman": "kalman",
}
"""The palette's ``Hedge:`` commands and the methods they switch to."""
HEDGE_HELP = {
    "ols": "Least squares with an intercept (the default)",
    "ols0": "Least squares through the origin: no alpha",
    "huber": "Robust regression: outliers weigh less",
    "kalman": "The Kalman filter's dynamic beta",
}
PRICES: dict[str, PriceMode] = {"log": "log", "raw": "raw"}
"""The palette's ``Prices:`` commands."""
PRICE_HELP = {
    "log": "Regress log prices: the spread in basis points",
    "raw": "Regress prices as quoted: the spread in price units",
}
SCAN_TOPS = (20, 50, 100)
"""Universes the palette offers the scanner, by 24 h quote volume."""


class PaletteHost(Protocol):
    """What the fixed commands call."""

    def action_export(self, fmt: ExportFormat = "parquet") -> None: ...
    def action_timeframe(self, timeframe: Timeframe) -> None: ...
    def action_window(self, direction: int) -> None: ...
    def set_window(self, window: int) -> None: ...
    def set_analytics(
        self, *, price: PriceMode | None = None, hedge: HedgeMethod | None = None
    ) -> None: ...
    def action_stationarity(self) -> None: ...
    def action_backtest(self) -> None: ...
    def action_legs(self) -> None: ...
    def action_scan(self, top: int | None = None) -> None: ...
    def action_pause(self) -> None: ...
    def action_help(self) -> None: ...


def fixed_commands(app: PaletteHost) -> Iterator[SystemCommand]:
    """Every fixed command, in the order the palette lists them."""
    yield SystemCommand(
        "Export: Parquet",
        "Ticks, bars and analytics as Parquet files",
        partial(app.action_export, "parquet"),
    )
    yield SystemCommand(
        "Export: CSV",
        "Ticks, bars and analytics as CSV files",
        partial(app.action_export, "csv"),
    )
    for name in TIMEFRAMES:
        yield SystemCommand(
            f"Timeframe: {name}", f"Show {name} bars", partial(app.action_timeframe, name)
        )
    yield SystemCommand(
        "Timeframe: tick",
        "One row per trade of either leg (noisy: the Epps effect)",
        partial(app.action_timeframe, TICK),
    )
    yield SystemCommand("Window: wider", "Widen the window by 25%", partial(app.action_window, 1))
    yield SystemCommand(
        "Window: narrower", "Narrow the window by 20%", partial(app.action_window, -1)
    )
    for bars in WINDOW_PRESETS:
        yield SystemCommand(
            f"Window: {bars} bars",
            f"Analytics over the last {bars} bars",
            partial(app.set_window, bars),
        )
    for title, hedge in HEDGES.items():
        yield SystemCommand(
            f"Hedge: {title}", HEDGE_HELP[hedge], partial(app.set_analytics, hedge=hedge)
        )
    for title, price in PRICES.items():
        yield SystemCommand(
            f"Prices: {title}", PRICE_HELP[price], partial(app.set_analytics, price=price)
        )
    yield SystemCommand(
        "Run: ADF and cointegration",
        "Test the current window for stationarity, off the UI thread",
        app.action_stationarity,
    )
    yield SystemCommand(
        "Run: backtest on this session",
        "Trade the z-score signal over the "
        "active timeframe's bars with the config's levels and fees",
        app.action_backtest,
    )
    yield SystemCommand(
        "Display: leg statistics and volume",
        "Show or hide each leg's mean, sd, last return, volatility and volume (v)",
        app.action_legs,
    )
    yield SystemCommand(
        "Run: scan for cointegrated pairs",
        "Rank every pair of the [scan] universe (config.toml); Enter picks one",
        app.action_scan,
    )
    for top in SCAN_TOPS:
        yield SystemCommand(
            f"Run: scan the top {top} by volume",
            f"Rank every pair of the {top} USDT perpetuals with most 24 h quote volume",
            partial(app.action_scan, top),
        )
    yield SystemCommand(
        "Display: pause or resume", "Freeze the screen; data keeps flowing", app.action_pause
    )
    yield SystemCommand("Help: keys", "Every key and what it does", app.action_help)
