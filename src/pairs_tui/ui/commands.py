"""Palette commands that take what the user types: alert rules, and the pair to watch.

The fixed commands (Export, Timeframe, Window, Run, Theme…) are system commands of the app;
an alert rule is free text (``zscore abs> 2 cooldown=60 bell``) and so is a pair
(``Pair: BTCUSDT/SOLUSDT``), so each needs a provider that reads the query itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider

from pairs_tui.alerts import AlertBook, parse_rule, rule_name
from pairs_tui.config import ConfigError

_PREFIX = re.compile(r"^\s*(alerts?\s*:?\s*)?(add\s*(rule)?\s*:?\s*)?", re.IGNORECASE)
_PAIR = re.compile(
    r"^\s*(?:pair\s*:?\s*)?(?P<a>[^\s/]+)\s*(?:/|\s)\s*(?P<b>[^\s/]+)\s*$", re.IGNORECASE
)
PAIR_EXAMPLE = "BTCUSDT/SOLUSDT"
"""What a typed pair looks like, shown in the palette."""
EXAMPLE = "zscore abs> 2 hysteresis=0.5 cooldown=60 bell"
"""What a rule looks like, shown in the palette."""


def rule_text(query: str) -> str:
    """The rule in ``Alerts: add zscore > 2`` (the words before the rule are optional)."""
    return _PREFIX.sub("", query, count=1).strip()


@runtime_checkable
class AlertsApp(Protocol):
    """An app whose alert rules the palette edits (the pairs-tui app is one)."""

    @property
    def alerts(self) -> AlertBook | None:
        """The running pipeline's alert book; None until the source is open."""
        ...


COMMAND_WORDS = frozenset({"list", "rules", "rule", "mute", "unmute", "remove"})
"""First words that name an Alerts command rather than start a rule to add."""


class AlertCommands(Provider):
    """Every ``Alerts:`` command: add a typed rule, list the rules, and mute, unmute or
    remove each rule. Typing part of a title (``alert``, ``mute``) finds it."""

    def _book(self) -> AlertBook | None:
        return self.app.alerts if isinstance(self.app, AlertsApp) else None

    def _commands(self) -> list[tuple[str, Callable[[], None], str]]:
        """``(title, callback, help)`` of every command but the typed add."""
        out: list[tuple[str, Callable[[], None], str]] = [
            ("Alerts: add rule…", self._explain, f"Type the rule after it, e.g. {EXAMPLE}"),
            ("Alerts: list rules", self._list, "Every rule in force, and which are muted"),
        ]
        book = self._book()
        for rule in self._rules():
            muted = book is not None and rule in book.muted
            if muted:
                out.append(
                    (f'Alerts: unmute rule "{rule}"', self._muter(rule, False), "Fire it again")
                )
            else:
                out.append(
                    (
                        f'Alerts: mute rule "{rule}"',
                        self._muter(rule, True),
                        "Keep the rule but fire nothing until unmuted",
                    )
                )
            out.append((f'Alerts: remove rule "{rule}"', self._remover(rule), "Stop watching it"))
        return out

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        text = rule_text(query)
        first = text.split(maxsplit=1)[0].lower() if text else ""
        if text and query.lower().lstrip().startswith("alert") and first not in COMMAND_WORDS:
            title = f"Alerts: add rule {text}"
            yield Hit(
                1.0,
                matcher.highlight(title),
                self._adder(text),
                text=title,
                help="Watch this rule from the next bar on",
            )
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)

    def _rules(self) -> list[str]:
        book = self._book()
        if book is None:
            return []
        return [rule_name(rule) for rule in book.rules]

    def _explain(self) -> None:
        self.app.notify(f"type the rule after it, e.g. Alerts: add {EXAMPLE}", timeout=8)

    def _list(self) -> None:
        book = self._book()
        if book is None:
            self.app.notify("alerts are not running yet", severity="warning")
            return
        if not book.rules:
            self.app.notify(f"no alert rule: add one, e.g. Alerts: add {EXAMPLE}", title="alerts")
            return
        lines = [
            f"{rule_name(r)}{' (muted)' if rule_name(r) in book.muted else ''}" for r in book.rules
        ]
        self.app.notify("\n".join(lines), title=f"alert rules ({len(lines)})", timeout=10)

    def _adder(self, text: str) -> Callable[[], None]:
        def add() -> None:
            add_rule(self.app, self._book(), text)

        return add

    def _muter(self, name: str, muted: bool) -> Callable[[], None]:
        def mute() -> None:
            book = self._book()
            if book is not None and book.mute_rule(name, muted):
                said = "muted" if muted else "unmuted"
                self.app.notify(f'alert rule "{name}" {said}', title="alerts")

        return mute

    def _remover(self, name: str) -> Callable[[], None]:
        def remove() -> None:
            book = self._book()
            if book is not None and book.remove_rule(name):
                self.app.notify(f'alert rule "{name}" removed', title="alerts")

        return remove


def typed_pair(query: str) -> tuple[str, str] | None:
    """The pair in ``Pair: btcusdt/solusdt`` (or ``btcusdt/solusdt``, ``pair BTCUSDT SOLUSDT``),
    upper-cased and not yet checked; None when the text is not two symbols."""
    match = _PAIR.match(query)
    if match is None:
        return None
    a, b = match["a"].upper(), match["b"].upper()
    if a == "PAIR:" or a.endswith(":"):
        return None
    return a, b


@runtime_checkable
class PairApp(Protocol):
    """An app whose monitor can switch pairs (the pairs-tui app is one)."""

    pair: tuple[str, str]

    def switch_pair(self, pair: tuple[str, str]) -> None:
        """Show ``pair`` on the monitor (checked; says why not when it cannot)."""
        ...


class PairCommands(Provider):
    """``Pair: A/B`` from the typed text: the monitor switches to that pair, live."""

    async def discover(self) -> Hits:
        yield DiscoveryHit(
            "Pair: …",
            self._explain,
            help=f"Type the pair after it, e.g. Pair: {PAIR_EXAMPLE}",
        )
        app = self.app
        if isinstance(app, PairApp):
            for pair in self._others(app):
                yield DiscoveryHit(
                    f"Pair: {pair[0]}/{pair[1]}",
                    self._switcher(app, pair),
                    help="Show this pair of the desk on the monitor",
                )

    @staticmethod
    def _others(app: PairApp) -> list[tuple[str, str]]:
        """The desk's other pairs (a watchlist's), which the palette offers by name."""
        pipelines = getattr(app, "pipelines", {})
        return [pair for pair in pipelines if pair != app.pair]

    async def search(self, query: str) -> Hits:
        app = self.app
        if not isinstance(app, PairApp):
            return
        matcher = self.matcher(query)
        pair = typed_pair(query)
        if pair is not None and ("/" in query or query.lower().lstrip().startswith("pair")):
            title = f"Pair: {pair[0]}/{pair[1]}"
            yield Hit(
                1.0,
                matcher.highlight(title),
                self._switcher(app, pair),
                text=title,
                help="Watch this pair instead, keeping the timeframe, window and hedge",
            )
            return
        for other in self._others(app):
            title = f"Pair: {other[0]}/{other[1]}"
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    self._switcher(app, other),
                    text=title,
                    help="Show this pair of the desk on the monitor",
                )
        title = "Pair: …"
        score = matcher.match(title)
        if score > 0:
            yield Hit(
                score,
                matcher.highlight(title),
                self._explain,
                text=title,
                help=f"Type the pair after it, e.g. Pair: {PAIR_EXAMPLE}",
            )

    def _explain(self) -> None:
        self.app.notify(f"type the pair after it, e.g. Pair: {PAIR_EXAMPLE}", timeout=8)

    @staticmethod
    def _switcher(app: PairApp, pair: tuple[str, str]) -> Callable[[], None]:
        def switch() -> None:
            app.switch_pair(pair)

        return switch


def add_rule(app: App[object], book: AlertBook | None, text: str) -> None:
    """Add the alert rule ``text`` to the running pipeline's alert book, or say why not.

    Args:
        app: Where to say what happened.
        book: The alert book; None before the source is open.
        text: The rule as typed, e.g. ``zscore abs> 2 cooldown=60 bell``.
    """
    if book is None:
        app.notify("alerts are not running yet", severity="warning")
        return
    try:
        rule = parse_rule(text)
        book.add_rule(rule)
    except ConfigError as exc:
        app.notify(str(exc), severity="error", timeout=8)
    else:
        app.notify(f'alert rule "{rule_name(rule)}" added', title="alerts")
