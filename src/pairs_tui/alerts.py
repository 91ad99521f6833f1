"""Alert rules on final bars: a line, hysteresis so a value sitting on it fires once, a cooldown.

A rule is ``metric op threshold``. It starts armed; it fires the first time its condition holds
on a non-null value, and is then disarmed until the value has gone back across the line by the
rule's hysteresis (``threshold - hysteresis`` for ``>``, ``>=``, ``abs>``, ``abs>=``;
``threshold + hysteresis`` for ``<``, ``<=``). A crossing within ``cooldown_seconds`` of the
last firing (in bar time) is swallowed: the rule disarms without an event, so a cooldown really
thins the alerts instead of delaying them. Null and NaN values never fire and change nothing.

Where the values come from:

- ``zscore``, ``spread``, ``corr``, ``beta``, ``half_life``: the analytics of every final bar of
  the active timeframe (:meth:`AlertBook.on_bar`, called by the pipeline). Switching timeframe
  re-arms them, since the series is a different one.
- ``carry_bp_day``, ``funding_a``, ``funding_b``: the funding in force when each final bar of
  the active timeframe became final (``funding_*`` as fractions: 0.0001 is 1 bp); never with
  ``[carry]`` off. A timeframe switch does not re-arm them: funding is one series whatever the
  bars.
- ``stale``: seconds since the quieter leg last traded, on the exchange clock
  (:meth:`AlertBook.on_feed`, called by the pipeline's clock tick). The feed's own watchdog
  state rides in the message. A replay at full speed has no clock, so it is never stale.
- ``adf_p``: the p-value of the last on-demand ADF test (:meth:`AlertBook.on_stationarity`).

Every event is kept for the screen's list, and appended to the alert log (NDJSON, one event a
line, flushed per event so a crash loses none).
"""

from __future__ import annotations

import logging
import math
import os
import shlex
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, get_args

import msgspec

from pairs_tui.config import AlertMetric, AlertOp, AlertRule, ConfigError, rule_problems
from pairs_tui.feed.status import FeedStatus
from pairs_tui.records import TICK, TIMEFRAMES
from pairs_tui.snapshot import AlertEvent, ClosedBar

log = logging.getLogger("pairs_tui.alerts")

BAR_METRICS = frozenset({"zscore", "spread", "corr", "beta", "half_life"})
"""Metrics read from the analytics of each final bar."""
CARRY_METRICS = frozenset({"carry_bp_day", "funding_a", "funding_b"})
"""Metrics read from the funding in force when each bar became final (None with carry off)."""
_QUIET_STATES = frozenset({"done", "stopped"})
"""Feed states in which silence is expected, not an alarm."""

AlertListener = Callable[[AlertEvent, tuple[str, str], str | None], None]
"""Called with every event, the pair, and the timeframe (None for ``stale``)."""


def rule_name(rule: AlertRule) -> str:
    """The rule's name, or the rule written out when it has none (``zscore abs> 2``)."""
    return rule.name or f"{rule.metric} {rule.op} {rule.threshold:g}"


def holds(op: str, value: float, line: float) -> bool:
    """Whether ``value op line`` is true."""
    if op == ">":
        return value > line
    if op == ">=":
        return value >= line
    if op == "<":
        return value < line
    if op == "<=":
        return value <= line
    if op == "abs>":
        return abs(value) > line
    if op == "abs>=":
        return abs(value) >= line
    raise ValueError(f"unknown operator {op!r}")


def rearm_line(rule: AlertRule) -> float:
    """The line the value must go back across before the rule can fire again."""
    return (
        rule.threshold + rule.hysteresis
        if rule.op in ("<", "<=")
        else (rule.threshold - rule.hysteresis)
    )


@dataclass
class _RuleState:
    """A rule and where it stands."""

    rule: AlertRule
    name: str
    armed: bool = True
    last_fired_ms: float | None = None
    """Clock time (bar end, or exchange clock) of the last firing."""


class AlertBook:
    """The alert rules of a session, their state, the recent events and the log.

    Implements the pipeline's alert evaluator. Everything runs on the pipeline's thread.

    Args:
        rules: Rules to start with (from ``config.toml``).
        log_path: The NDJSON alert log; None keeps no log. Created (with its folder) on the
            first event, and appended to across sessions.
        pair: The two symbols, written into each log line.
        keep: Events kept for the screen's list.
    """

    def __init__(
        self,
        rules: list[AlertRule] | tuple[AlertRule, ...] = (),
        log_path: str | os.PathLike[str] | None = None,
        *,
        pair: tuple[str, str] = ("", ""),
        keep: int = 200,
    ) -> None:
        self._states: list[_RuleState] = []
        self.log_path = None if log_path is None else Path(log_path)
        """Where events are appended; None: nowhere."""
        self.pair = pair
        self.keep = keep
        """Events kept for the screen's list."""
        self._recent: deque[AlertEvent] = deque(maxlen=keep)
        self._log: IO[bytes] | None = None
        self._log_failed = False
        self._encode = msgspec.json.Encoder().encode
        self._timeframe: str | None = None
        self._silent_since: float | None = None
        """Exchange time of the first clock tick, standing in for a last trade before any."""
        self._listeners: list[AlertListener] = []
        self._muted: set[str] = set()
        for rule in rules:
            self.add_rule(rule)

    # -- rules ----------------------------------------------------------------------------

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        """The rules in force, in the order they were added."""
        return tuple(state.rule for state in self._states)

    def add_rule(self, rule: AlertRule) -> None:
        """Add a rule (from the palette); it starts armed.

        Raises:
            ConfigError: the rule is out of range, or its name is taken.
        """
        for key, why in rule_problems(rule):
            raise ConfigError(f"alert rule {rule_name(rule)!r}: {key}: {why}")
        name = rule_name(rule)
        if any(state.name == name for state in self._states):
            raise ConfigError(f"alert rule {name!r}: a rule of that name exists")
        self._states.append(_RuleState(rule, name))

    def remove_rule(self, name: str) -> bool:
        """Remove the rule called ``name``; return whether there was one."""
        before = len(self._states)
        self._states = [state for state in self._states if state.name != name]
        self._muted.discard(name)
        return len(self._states) != before

    @property
    def muted(self) -> frozenset[str]:
        """Names of the muted rules: evaluated (their state goes on) but never firing."""
        return frozenset(self._muted)

    def mute_rule(self, name: str, muted: bool = True) -> bool:
        """Mute (or unmute) the rule called ``name``; return whether there is one."""
        if not any(state.name == name for state in self._states):
            return False
        if muted:
            self._muted.add(name)
        else:
            self._muted.discard(name)
        return True

    def add_listener(self, listener: AlertListener) -> None:
        """Call ``listener(event, pair, timeframe)`` with every event the book emits (bar
        rules, ``stale``, ``adf_p``), e.g. the alert sinks' queue. It runs on the data path,
        so it must return at once."""
        self._listeners.append(listener)

    @property
    def recent(self) -> tuple[AlertEvent, ...]:
        """The latest events, oldest first."""
        return tuple(self._recent)

    # -- evaluation -----------------------------------------------------------------------

    def on_bar(self, closed: ClosedBar) -> list[AlertEvent]:
        """Evaluate the bar metrics on one final bar; return the events that fire."""
        if closed.timeframe != self._timeframe:
            self._timeframe = closed.timeframe
            for state in self._states:
                if state.rule.metric in BAR_METRICS:
                    state.armed = True
        # A tick row ends where it starts: at its trade.
        bar_end = closed.bar.ts + (0 if closed.timeframe == TICK else TIMEFRAMES[closed.timeframe])
        fired: list[AlertEvent] = []
        for state in self._states:
            metric = state.rule.metric
            if metric in BAR_METRICS:
                value = getattr(closed.stats, metric)
            elif metric in CARRY_METRICS:
                value = None if closed.carry is None else getattr(closed.carry, metric)
            else:
                continue
            event = self._check(state, value, closed.bar.ts, bar_end, "")
            if event is not None:
                fired.append(event)
        return self._emit(fired, closed.timeframe)

    def on_feed(
        self,
        status: FeedStatus,
        now_ms: float,
        last_trade_ms: int | None = None,
    ) -> list[AlertEvent]:
        """Evaluate the ``stale`` rules on the clock tick.

        Args:
            status: The feed's status now; its state goes into the message.
            now_ms: The exchange clock.
            last_trade_ms: Trade time of the quieter leg's latest trade; None before both
                legs traded, when silence counts from the first call.
        """
        if self._silent_since is None:
            self._silent_since = now_ms
        if status.state in _QUIET_STATES:
            return []
        since = self._silent_since if last_trade_ms is None else last_trade_ms
        silence = max(0.0, (now_ms - since) / 1000.0)
        fired: list[AlertEvent] = []
        for state in self._states:
            if state.rule.metric == "stale":
                event = self._check(state, silence, int(now_ms), now_ms, f" ({status.state})")
                if event is not None:
                    fired.append(event)
        return self._emit(fired, None)

    def on_stationarity(self, pvalue: float | None, ts_ms: int) -> list[AlertEvent]:
        """Evaluate the ``adf_p`` rules on the p-value of an on-demand ADF test.

        Hand what it returns to ``pipeline.add_alerts`` so the snapshot and the next headless
        line carry it, like every other alert.

        Args:
            pvalue: The test's p-value (None when the window was not full).
            ts_ms: When it ran, ms UTC (the last bar's start, or the exchange clock).
        """
        fired: list[AlertEvent] = []
        for state in self._states:
            if state.rule.metric == "adf_p":
                event = self._check(state, pvalue, ts_ms, ts_ms, "")
                if event is not None:
                    fired.append(event)
        # The test ran on the window of the timeframe on screen: the last one with a bar.
        return self._emit(fired, self._timeframe)

    def _check(
        self,
        state: _RuleState,
        value: float | None,
        time_ms: int,
        clock_ms: float,
        note: str,
    ) -> AlertEvent | None:
        """Advance one rule on one value; return its event if it fires."""
        if value is None or not math.isfinite(value):
            return None
        rule = state.rule
        if not state.armed:
            if not holds(rule.op, value, rearm_line(rule)):
                state.armed = True
            return None
        if not holds(rule.op, value, rule.threshold):
            return None
        state.armed = False
        last = state.last_fired_ms
        if last is not None and clock_ms - last < rule.cooldown_seconds * 1000.0:
            return None
        state.last_fired_ms = clock_ms
        return AlertEvent(
            time=time_ms,
            rule=state.name,
            metric=rule.metric,
            op=rule.op,
            threshold=rule.threshold,
            value=float(value),
            message=_message(rule, value, state.name, note),
            bell=rule.bell,
        )

    # -- events ---------------------------------------------------------------------------

    def _emit(self, events: list[AlertEvent], timeframe: str | None) -> list[AlertEvent]:
        if self._muted:
            events = [event for event in events if event.rule not in self._muted]
        for event in events:
            self._recent.append(event)
            self._append_to_log(event, timeframe)
            for listener in self._listeners:
                listener(event, self.pair, timeframe)
        return events

    def _append_to_log(self, event: AlertEvent, timeframe: str | None) -> None:
        if self.log_path is None or self._log_failed:
            return
        record = {
            "utc": datetime.fromtimestamp(event.time / 1000, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "pair": "/".join(self.pair),
            "timeframe": timeframe,
            **msgspec.structs.asdict(event),
        }
        try:
            if self._log is None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log = open(self.log_path, "ab")  # noqa: SIM115 (open for the session)
            self._log.write(self._encode(record) + b"\n")
            # Flushed per event: alerts are rare, and one lost to a crash is one too many.
            self._log.flush()
        except OSError as exc:
            # The data path must keep running; the screen and headless output still show it.
            self._log_failed = True
            log.error(
                "alert log %s: cannot write (%s); alerts are no longer logged", self.log_path, exc
            )

    def close(self) -> None:
        """Close the alert log (events after this reopen it)."""
        if self._log is not None:
            self._log.close()
            self._log = None


def _message(rule: AlertRule, value: float, name: str, note: str) -> str:
    if rule.metric == "stale":
        return f'no trade for {value:.0f} s{note} (rule "{name}")'
    below = rule.op in ("<", "<=")
    shown = (
        f"|{rule.metric}| {abs(value):.4g}"
        if rule.op.startswith("abs")
        else (f"{rule.metric} {value:.4g}")
    )
    return f'{shown} crossed {"below" if below else "above"} {rule.threshold:g} (rule "{name}")'


_OPTIONS = {
    "hysteresis": "hysteresis",
    "cooldown": "cooldown_seconds",
    "cooldown_seconds": "cooldown_seconds",
    "name": "name",
    "bell": "bell",
}
"""Palette words → rule fields."""


def parse_rule(text: str) -> AlertRule:
    """Read a rule typed in the command palette.

    The form is ``METRIC OP THRESHOLD [hysteresis=H] [cooldown=SECONDS] [bell] [name="..."]``,
    e.g. ``zscore abs> 2 hysteresis=0.5 cooldown=60 bell``.

    Raises:
        ConfigError: the text is not such a rule, naming what is wrong.
    """

    def fail(why: str) -> ConfigError:
        return ConfigError(f"alert rule {text!r}: {why}")

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if len(words) < 3:
        raise fail("write METRIC OP THRESHOLD, e.g. `zscore > 2`")
    metric, op, threshold, *options = words
    if metric not in get_args(AlertMetric):
        raise fail(f"unknown metric {metric!r}; one of {', '.join(get_args(AlertMetric))}")
    if op not in get_args(AlertOp):
        raise fail(f"unknown operator {op!r}; one of {', '.join(get_args(AlertOp))}")
    fields: dict[str, Any] = {"metric": metric, "op": op, "threshold": threshold}
    for word in options:
        key, has_value, value = word.partition("=")
        field = _OPTIONS.get(key)
        if field is None:
            raise fail(f"unknown option {key!r}; options: hysteresis=, cooldown=, name=, bell")
        if field == "bell":
            fields[field] = not has_value or value.lower() in ("1", "true", "yes", "on")
        else:
            fields[field] = value
    try:
        rule = msgspec.convert(fields, AlertRule, strict=False)
    except msgspec.ValidationError as exc:
        what, _, where = str(exc).partition(" - at `$.")
        key = where.rstrip("`")
        raise fail(f"{key}: {what[0].lower()}{what[1:]}" if key else what) from None
    for key, why in rule_problems(rule):
        raise fail(f"{key}: {why}")
    return rule
