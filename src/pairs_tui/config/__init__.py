"""Configuration: the ``config.toml`` model (:mod:`.settings`) and a run's options
(:mod:`.options`).

Both are re-exported here, so ``from pairs_tui.config import Settings, Options`` reads as the
one place a run's configuration comes from.
"""

from __future__ import annotations

from pairs_tui.config.options import DEMO_SYMBOLS, CommandLine, NotWritten, Options, UsageError
from pairs_tui.config.settings import (
    AlertMetric,
    AlertOp,
    AlertRule,
    AlertSettings,
    AnalyticsSettings,
    BarSettings,
    ConfigError,
    DemoSettings,
    ExportSettings,
    FeedSettings,
    HistorySettings,
    Settings,
    StreamKind,
    UiSettings,
    find_config,
    key_name,
    line_of,
    load_settings,
    parse_settings,
    rule_problems,
)

__all__ = [
    "DEMO_SYMBOLS",
    "AlertMetric",
    "AlertOp",
    "AlertRule",
    "AlertSettings",
    "AnalyticsSettings",
    "BarSettings",
    "CommandLine",
    "ConfigError",
    "DemoSettings",
    "ExportSettings",
    "FeedSettings",
    "HistorySettings",
    "NotWritten",
    "Options",
    "Settings",
    "StreamKind",
    "UiSettings",
    "UsageError",
    "find_config",
    "key_name",
    "line_of",
    "load_settings",
    "parse_settings",
    "rule_problems",
]
