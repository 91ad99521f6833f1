"""Settings: the ``config.toml`` model, where it is looked up, and errors that name key and line.

Lookup order: ``--config FILE``, then ``./config.toml``, then
``$XDG_CONFIG_HOME/pairs-tui/config.toml`` (``~/.config`` when the variable is unset). The first
file found is read whole; keys it leaves out keep their defaults. An unknown key or a value of the
wrong type is a :class:`ConfigError` whose message names the key and its line.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Literal, get_args

import msgspec
from msgspec import Meta

from pairs_tui.config.checks import (
    MAX_WINDOW,
    SYMBOL_PATTERN,
    pair_problem,
    symbol_problem,
    url_problem,
)
from pairs_tui.records import HedgeMethod, PriceMode, Timeframe
from pairs_tui.sinks.settings import (
    DesktopEscape,
    SinkKind,
    SinkSettings,
    WebhookFormat,
    sink_problems,
)

StreamKind = Literal["aggTrade", "trade"]
AlertMetric = Literal[
    "zscore",
    "spread",
    "corr",
    "beta",
    "half_life",
    "adf_p",
    "stale",
    "carry_bp_day",
    "funding_a",
    "funding_b",
]
AlertOp = Literal[">", ">=", "<", "<=", "abs>", "abs>="]
ScanEngine = Literal["local", "dask"]


class ConfigError(Exception):
    """A configuration problem, in one line that says what and where."""


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every section: unknown keys are errors, not silently ignored."""


class FeedSettings(_Section):
    """Where trades come from."""

    url: str = "wss://fstream.binance.com"
    """WebSocket base URL; ``/market/stream`` (aggTrade) or ``/public/stream`` (trade) is added."""
    rest_url: str | None = None
    """REST base URL for exchange info, server time and backfill; None derives it from ``url``
    for a loopback address and uses ``https://fapi.binance.com`` otherwise."""
    stream: StreamKind = "aggTrade"
    """``aggTrade`` (documented, default) or ``trade`` (undocumented, on ``/public``)."""
    watchdog_seconds: Annotated[float, Meta(gt=0, le=3600)] = 20.0
    """Reconnect when one subscribed symbol sends nothing for this long."""


class BarSettings(_Section):
    """How trades become bars."""

    timeframe: Timeframe = "1s"
    """Timeframe at start; keys 1, 2, 3 switch it live."""
    grace_ms: Annotated[int, Meta(ge=0, le=60_000)] = 250
    """How long past a bar's end the exchange clock must be before the bar is final."""
    history: Annotated[int, Meta(ge=10)] = 86_400
    """Bars kept per timeframe for plots and exports (86,400 is a day of 1s bars)."""
    tick_retention: Annotated[int, Meta(ge=1)] = 1_000_000
    """Trades kept in memory per leg for tick exports; ``--record`` keeps everything on disk."""


class AnalyticsSettings(_Section):
    """The pair analytics."""

    window: Annotated[int, Meta(ge=3, le=MAX_WINDOW)] = 300
    """Bars in the rolling window."""
    price: PriceMode = "log"
    """``log`` prices (beta is an elasticity) or ``raw`` prices (beta is a quantity ratio)."""
    hedge: HedgeMethod = "ols"
    """Hedge ratio for the spread: ``ols``, ``ols0`` (no intercept), ``huber`` or ``kalman``."""
    entry_z: float = 2.0
    """The entry bands drawn on the z-score plot, and the backtest's default entry."""
    exit_z: float = 0.0
    """The backtest's exit level."""
    stop_z: float | None = None
    """The backtest's optional stop level."""
    fee_bps: float = 4.0
    """Backtest fees, basis points per leg per fill."""
    backtest_export: bool = False
    """``--backtest`` also writes its trades and equity curve, as Parquet and CSV, into the
    export folder (the JSON summary on stdout is always printed)."""


class AlertRule(_Section, kw_only=True):
    """One alert: fires when ``metric op threshold`` becomes true."""

    name: str = ""
    """Shown in the banner and the log; defaults to the rule written out."""
    metric: AlertMetric
    """What is watched. ``stale`` is the seconds since the quieter leg last traded, on the
    exchange clock (threshold in seconds, op ``>`` or ``>=``); ``adf_p`` is the ADF p-value of
    the last on-demand stationarity test; the others are the analytics of each final bar."""
    op: AlertOp = ">"
    """Comparison; ``abs>`` compares the absolute value."""
    threshold: float
    """The line."""
    hysteresis: float = 0.0
    """How far back across the line the value must go before the rule can fire again."""
    cooldown_seconds: float = 0.0
    """Minimum time between two firings of this rule, in bar time."""
    bell: bool = False
    """Ring the terminal bell when it fires."""


def default_rules() -> list[AlertRule]:
    """The rules that hold when the config names none: the z-score leaving its ±2 band."""
    return [
        AlertRule(
            name="z above 2",
            metric="zscore",
            op=">",
            threshold=2.0,
            hysteresis=0.5,
            cooldown_seconds=30.0,
        ),
        AlertRule(
            name="z below -2",
            metric="zscore",
            op="<",
            threshold=-2.0,
            hysteresis=0.5,
            cooldown_seconds=30.0,
        ),
    ]


class AlertSettings(_Section):
    """Alert rules and their log."""

    rules: list[AlertRule] = msgspec.field(default_factory=default_rules)
    """The rules, evaluated on every final bar; left out, the two z-score rules of
    :func:`default_rules` (``rules = []`` for none)."""
    log: str = "alerts.ndjson"
    """Alert log (NDJSON), relative to ``$XDG_STATE_HOME/pairs-tui`` unless absolute; empty:
    no log."""
    keep: int = 200
    """Alerts kept for the screen's list, newest last."""
    sinks: list[SinkSettings] = msgspec.field(default_factory=list)
    """Where every fired alert is also delivered: ``[[alerts.sinks]]`` entries, each a
    ``webhook``, ``command`` or ``desktop`` (see :mod:`pairs_tui.sinks.settings`)."""


class ExportSettings(_Section):
    """Where exports go."""

    folder: str = "exports"
    """Export folder, created when needed."""


class UiSettings(_Section):
    """The screen."""

    theme: str = "textual-dark"
    """Any Textual theme name (``ansi-dark`` follows the terminal's palette)."""
    refresh_hz: Annotated[float, Meta(gt=0, le=60)] = 10.0
    """How often numbers are redrawn."""
    plot_hz: Annotated[float, Meta(gt=0, le=60)] = 3.0
    """How often plots are redrawn; lower it over a slow link."""


class DemoSettings(_Section):
    """What ``--demo`` plays."""

    source: Literal["recording", "simulation"] = "simulation"
    """A seeded simulation of a universe of USDT perpetuals (some pairs cointegrated, the rest
    independent), with hours of past; or the real BTCUSDT/ETHUSDT recording shipped with the
    package, looped and re-based at every seam so that no leg jumps."""
    speed: Annotated[float, Meta(ge=0, le=10_000)] = 1.0
    """Replay speed of the demo exchange (1 = real time)."""
    seed: int = 7
    """Seed of the simulation."""


class WatchlistSettings(_Section):
    """Several pairs at once (the ``w`` screen, ``--watch``)."""

    pairs: list[str] = msgspec.field(default_factory=list)
    """Pairs watched beside the monitored one, each ``TARGET/HEDGE``, e.g.
    ``["BTCUSDT/ETHUSDT", "SOLUSDT/AVAXUSDT"]``."""


class CarrySettings(_Section):
    """Perpetual funding of both legs and the carry of the spread."""

    enabled: bool = True
    """Subscribe each leg's mark-price stream and show funding, the next funding time and
    ``carry_bp_day`` (headless lines carry them too)."""


class HistorySettings(_Section):
    """The local store of past bars, which the warm start, the scanner and the history backtest
    read and fill from the exchange's klines."""

    enabled: bool = True
    """Fetch and keep history; ``false`` starts every run from its first live trade."""
    folder: str = ""
    """The store's folder (``~`` expanded); empty means ``$XDG_CACHE_HOME/pairs-tui/history``
    (``~/.cache`` when the variable is unset)."""


class ScanSettings(_Section):
    """The pair scanner (``pairs-tui scan``, the ``s`` screen): its defaults."""

    symbols: list[str] = msgspec.field(default_factory=list)
    """The universe to scan; empty for the ``top`` USDT perpetuals by 24 h quote volume."""
    top: Annotated[int, Meta(ge=2, le=1_000)] = 20
    """How many symbols, by 24 h quote volume, when ``symbols`` is empty."""
    timeframe: Literal["1m", "5m", "1h"] = "1m"
    """Bar timeframe of the scan."""
    bars: Annotated[int, Meta(ge=30)] = 1_440
    """Closed bars per symbol, the last ones (1,440 is a day of 1m bars)."""
    engine: ScanEngine = "local"
    """``local`` (this process) or ``dask`` (needs ``pip install "pairs-tui[cluster]"``)."""
    scheduler: str = ""
    """Dask scheduler address for ``engine = "dask"``; empty starts a local cluster."""


class Settings(_Section):
    """Everything ``config.toml`` holds."""

    symbols: list[str] = msgspec.field(default_factory=lambda: ["BTCUSDT", "ETHUSDT"])
    """The pair when none is given on the command line: target first, hedge second."""
    feed: FeedSettings = msgspec.field(default_factory=FeedSettings)
    bars: BarSettings = msgspec.field(default_factory=BarSettings)
    analytics: AnalyticsSettings = msgspec.field(default_factory=AnalyticsSettings)
    alerts: AlertSettings = msgspec.field(default_factory=AlertSettings)
    export: ExportSettings = msgspec.field(default_factory=ExportSettings)
    ui: UiSettings = msgspec.field(default_factory=UiSettings)
    demo: DemoSettings = msgspec.field(default_factory=DemoSettings)
    watchlist: WatchlistSettings = msgspec.field(default_factory=WatchlistSettings)
    carry: CarrySettings = msgspec.field(default_factory=CarrySettings)
    history: HistorySettings = msgspec.field(default_factory=HistorySettings)
    scan: ScanSettings = msgspec.field(default_factory=ScanSettings)
    keys: dict[str, str] = msgspec.field(default_factory=dict)
    """Key remapping: binding id → keys, e.g. ``export = "ctrl+e"``."""


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the config file that applies, or None to run on defaults.

    Raises:
        ConfigError: ``explicit`` was given and does not exist.
    """
    if explicit is not None:
        path = Path(explicit)
        problem = _not_a_file(path)
        if problem:
            raise ConfigError(f"config file {path}: {problem}")
        return path
    local = Path("config.toml")
    if local.is_file():
        return local
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = xdg / "pairs-tui" / "config.toml"
    return user if user.is_file() else None


def _not_a_file(path: Path) -> str:
    """Why ``path`` is not a config file that can be read (``""`` when it is one)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"a symbolic link to {os.readlink(path)}, which does not exist"
        return "not found"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links"
        return f"cannot read it ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "a directory, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return ""


def load_settings(path: str | os.PathLike[str] | None) -> Settings:
    """Read settings from ``path`` (None: defaults).

    Raises:
        ConfigError: unreadable file, bad TOML, an unknown key or a wrong type.
    """
    if path is None:
        return Settings()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc})") from None
    return parse_settings(text, str(path))


def parse_settings(text: str, source: str = "config.toml") -> Settings:
    """Parse the text of a config file.

    Args:
        text: TOML text.
        source: File name for error messages.

    Raises:
        ConfigError: bad TOML, an unknown key or a wrong type, naming the key and line.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        settings = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc), text, source)) from None
    _check_values(settings, text, source)
    return settings


_CHOICES: dict[str, object] = {
    "metric": AlertMetric,
    "op": AlertOp,
    "kind": SinkKind,
    "format": WebhookFormat,
    "escape": DesktopEscape,
    "engine": ScanEngine,
}
"""Keys whose allowed values an error lists, because a rule is often typed by hand."""
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")


def _explain(message: str, text: str, source: str) -> str:
    """Turn a msgspec validation message into one line naming the key and its line."""
    match = _PATH.search(message)
    parts = _split_path(match["path"]) if match else []
    what = message[: match.start()] if match else message
    unknown = _UNKNOWN.match(what)
    if unknown:
        parts = [*parts, unknown["field"]]
        what = "unknown key"
    invalid = what.startswith(("Invalid enum", "Invalid value"))  # "value": a union's tag
    choices = _CHOICES.get(str(parts[-1])) if parts and invalid else None
    if choices:
        what += f"; one of {', '.join(get_args(choices))}"
    key = key_name(parts) or "(top level)"
    line = line_of(text, parts)
    where = f"{source}, line {line}" if line else source
    return f"{where}: {key}: {what[0].lower() + what[1:] if what else 'invalid'}"


def key_name(parts: list[str | int]) -> str:
    """``["alerts", "rules", 1, "metric"]`` → ``alerts.rules[1].metric``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return parts


def line_of(text: str, parts: list[str | int]) -> int | None:
    """Best-effort line number of a key path such as ``["alerts", "rules", 1, "metric"]``."""
    tables = [p for p in parts[:-1] if isinstance(p, str)]
    key = parts[-1] if parts and isinstance(parts[-1], str) else None
    index = next((p for p in parts if isinstance(p, int)), None)
    section = ".".join(tables)
    current = ""
    seen_array = -1
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", stripped)
        if header:
            current = header[1]
            if index is None and current == ".".join(str(p) for p in parts):
                return number  # the key is a table of its own
            if stripped.startswith("[[") and current == section:
                seen_array += 1
            if key is None and current == section and (index is None or seen_array == index):
                return number
            continue
        in_place = current == section and (index is None or seen_array == index)
        if key is not None and in_place and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
        dotted = f"{section}.{key}" if section else key
        top_level = key is not None and current == ""
        if top_level and re.match(rf"^{re.escape(str(dotted))}\s*=", stripped):
            return number
    return None


def _check_values(settings: Settings, text: str, source: str) -> None:
    """Range checks that types alone do not express."""

    def fail(parts: list[str | int], why: str) -> None:
        # A key that is missing has no line: name the line of its table instead.
        line = line_of(text, parts) or line_of(text, parts[:-1])
        where = f"{source}, line {line}" if line else source
        raise ConfigError(f"{where}: {key_name(parts)}: {why}")

    if len(settings.symbols) != 2:
        fail(["symbols"], f"must name exactly two symbols, got {len(settings.symbols)}")
    for symbol in settings.symbols:
        problem = symbol_problem(symbol)
        if problem:
            fail(["symbols"], problem)
    problem = url_problem(settings.feed.url, ("ws", "wss"))
    if problem:
        fail(["feed", "url"], problem)
    if settings.feed.rest_url is not None:
        problem = url_problem(settings.feed.rest_url, ("http", "https"))
        if problem:
            fail(["feed", "rest_url"], problem)
    if settings.alerts.keep < 1:
        fail(["alerts", "keep"], "must be at least 1")
    for i, pair in enumerate(settings.watchlist.pairs):
        problem = pair_problem(pair)
        if problem:
            fail(["watchlist", "pairs"], f"entry {i + 1}: {problem}")
    for i, symbol in enumerate(settings.scan.symbols):
        if not SYMBOL_PATTERN.fullmatch(symbol.upper()):
            fail(
                ["scan", "symbols"], f"entry {i + 1}: {symbol!r} is not 2 to 30 letters and digits"
            )
    names: set[str] = set()
    for i, rule in enumerate(settings.alerts.rules):
        for key, why in rule_problems(rule):
            fail(["alerts", "rules", i, key], why)
        if rule.name and rule.name in names:
            fail(["alerts", "rules", i, "name"], f"{rule.name!r} names two rules")
        names.add(rule.name)
    for i, sink in enumerate(settings.alerts.sinks):
        for key, why in sink_problems(sink):
            fail(["alerts", "sinks", i, key], why)


def rule_problems(rule: AlertRule) -> list[tuple[str, str]]:
    """What is wrong with an alert rule beyond its types, as ``(key, why)`` pairs.

    Shared by the config file and the command palette, so a rule means the same in both.
    """
    problems: list[tuple[str, str]] = []
    for key in ("threshold", "hysteresis", "cooldown_seconds"):
        value = getattr(rule, key)
        if not math.isfinite(value):
            problems.append((key, f"must be a finite number, got {value}"))
    if rule.hysteresis < 0:
        problems.append(("hysteresis", "must be >= 0"))
    if rule.cooldown_seconds < 0:
        problems.append(("cooldown_seconds", "must be >= 0"))
    if rule.metric == "stale":
        if rule.op not in (">", ">="):
            problems.append(("op", f"the stale rule fires on silence: use > or >=, got {rule.op}"))
        if not rule.threshold > 0:
            problems.append(("threshold", "seconds of silence, must be > 0"))
    if rule.metric == "adf_p" and not 0 <= rule.threshold <= 1:
        problems.append(("threshold", f"a p-value is between 0 and 1, got {rule.threshold}"))
    if rule.op.startswith("abs") and rule.threshold < 0:
        problems.append(("threshold", f"{rule.op} compares a size, must be >= 0"))
    return problems
