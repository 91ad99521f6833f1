"""The app's keys: every binding with an id, so ``[keys]`` in config.toml can remap it."""

from __future__ import annotations

from textual.binding import Binding, BindingType

TIMEFRAME_KEYS = Binding.Group("timeframe")
"""0, 1, 2 and 3 show as one group in the footer."""
WINDOW_KEYS = Binding.Group("window")
"""+ and - show as one group in the footer."""

BINDINGS: list[BindingType] = [
    Binding(
        "0",
        "timeframe('tick')",
        "ticks",
        tooltip="One row per trade (tick-level: noisy, the Epps effect)",
        id="timeframe_tick",
        group=TIMEFRAME_KEYS,
    ),
    Binding(
        "1",
        "timeframe('1s')",
        "1s",
        tooltip="1-second bars",
        id="timeframe_1s",
        group=TIMEFRAME_KEYS,
    ),
    Binding(
        "2",
        "timeframe('1m')",
        "1m",
        tooltip="1-minute bars",
        id="timeframe_1m",
        group=TIMEFRAME_KEYS,
    ),
    Binding(
        "3",
        "timeframe('5m')",
        "5m",
        tooltip="5-minute bars",
        id="timeframe_5m",
        group=TIMEFRAME_KEYS,
    ),
    Binding(
        "plus,equals_sign",
        "window(1)",
        "wider",
        tooltip="Widen the window by 25%",
        id="window_wider",
        group=WINDOW_KEYS,
    ),
    Binding(
        "minus",
        "window(-1)",
        "narrower",
        tooltip="Narrow the window by 20%",
        id="window_narrower",
        group=WINDOW_KEYS,
    ),
    Binding(
        "a",
        "stationarity",
        "ADF",
        tooltip="Run ADF and cointegration on the current window",
        id="stationarity",
    ),
    Binding(
        "b",
        "backtest",
        "backtest",
        show=False,  # in the monitor's footer: MONITOR_BINDINGS
        id="backtest",
        tooltip="Backtest the z-score signal on this session's bars",
    ),
    Binding(
        "v",
        "legs",
        "legs",
        tooltip="Show or hide each leg's statistics and volume",
        id="legs",
    ),
    Binding(
        "s",
        "scan",
        "scan",
        show=False,
        tooltip="Scan a universe for cointegrated pairs ([scan] in config.toml)",
        id="scan",
    ),
    Binding(
        "e",
        "export('parquet')",
        "export",
        tooltip="Export ticks, bars and analytics as Parquet",
        id="export",
    ),
    Binding(
        "p",
        "pause",
        "pause",
        tooltip="Pause or resume the display (data keeps flowing)",
        id="pause",
    ),
    Binding(
        "w",
        "watchlist",
        "watchlist",
        show=False,  # the footer must fit 80 columns; help lists it
        tooltip="Every pair of the desk, one row each; Enter shows one",
        id="watchlist",
    ),
    Binding("question_mark", "help", "help", tooltip="This screen", id="help"),
    Binding(
        "ctrl+p",
        "command_palette",
        "palette",
        tooltip="Command palette",
        id="command_palette",
        priority=True,
    ),
    Binding("q", "quit", "quit", tooltip="Quit", id="quit"),
    # Ctrl-C always exits cleanly, as a terminal program should (Textual would only hint at
    # ctrl+q).
    Binding("ctrl+c", "quit", show=False, priority=True, system=True),
]
"""The app's keys, in the order the footer and the help screen list them."""

MONITOR_BINDINGS: list[BindingType] = [
    Binding(
        "b",
        "app.backtest",
        "backtest",
        id="backtest",
        tooltip="Backtest the z-score signal on this session's bars",
    ),
]
"""The monitor's footer lists ``b`` (the app's binding of the same id works everywhere, unlisted,
and ``[keys] backtest`` remaps both)."""

NARROW_HIDDEN = frozenset({"legs", "export('parquet')"})
"""Actions the footer leaves out below 100 columns, so that the rest (the backtest too) fit in
80: both are in the help screen and the palette."""

WATCHLIST_BINDINGS: list[BindingType] = [
    Binding("escape", "close", "back", tooltip="Back to the monitor", id="watchlist_close"),
    Binding("z", "sort_z", "sort |z|", tooltip="Sort the watchlist by |z|", id="watchlist_sort_z"),
    Binding("enter", "show_pair", "show pair", tooltip="Show this pair", id="watchlist_show"),
]
"""The watchlist screen's own keys (Enter shows the highlighted pair on the monitor)."""
