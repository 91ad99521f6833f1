"""The ``[keys]`` table checked against the bindings it remaps: unknown ids, keys that do not
parse, and keys that two actions would share.

Textual-free: the caller hands in the bindings (each scope is one screen's keys) and the
function that parses a key list with Textual's names (:mod:`pairs_tui.keymap` does both).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pairs_tui.config.settings import ConfigError, Settings, line_of


@dataclass(frozen=True)
class BoundKeys:
    """One binding as the app declares it."""

    id: str | None
    """The id ``[keys]`` remaps it by; None for a binding that cannot be remapped."""
    action: str
    """What it does (``quit``, ``export('parquet')``), for messages about a binding without
    an id."""
    keys: tuple[str, ...]
    """Its default keys, in Textual's long names (``question_mark``, ``ctrl+p``)."""


KeyParser = Callable[[str], tuple[str, ...]]
"""``"ctrl+e, f5"`` → ``("ctrl+e", "f5")`` in Textual's names; raises ValueError saying why."""


def keymap_problems(
    keymap: Mapping[str, str],
    scopes: Sequence[Sequence[BoundKeys]],
    parse: KeyParser,
) -> list[tuple[str, str]]:
    """What is wrong with a ``[keys]`` table, as ``(binding id, why)`` pairs, in table order.

    Args:
        keymap: Binding id → keys, as the config has it.
        scopes: The bindings of each screen; a key may mean one thing per screen.
        parse: Parses one entry's keys.
    """
    ids = sorted({b.id for scope in scopes for b in scope if b.id is not None})
    problems: list[tuple[str, str]] = []
    parsed: dict[str, tuple[str, ...]] = {}
    for binding_id, value in keymap.items():
        if binding_id not in ids:
            problems.append((binding_id, f"unknown binding id; one of {', '.join(ids)}"))
            continue
        try:
            parsed[binding_id] = parse(value)
        except ValueError as exc:
            problems.append((binding_id, f"{value!r} is not a key Textual knows ({exc})"))
    for scope in scopes:
        owners: dict[str, list[BoundKeys]] = {}
        for binding in scope:
            keys = parsed.get(binding.id, binding.keys) if binding.id else binding.keys
            for key in dict.fromkeys(keys):
                owners.setdefault(key, []).append(binding)
        for key, bindings in owners.items():
            remapped = [b for b in bindings if b.id in parsed]
            if not remapped:
                continue  # the app's own defaults: not the config's doing
            others = {b.id or b.action for b in bindings} - {str(remapped[0].id)}
            if others:
                taken = " and ".join(sorted(others))
                problems.append((str(remapped[0].id), f"{key!r} is already bound to {taken}"))
    order = list(keymap)
    return sorted(problems, key=lambda p: order.index(p[0]) if p[0] in order else len(order))


def check_keymap(
    settings: Settings,
    path: Path | None,
    scopes: Sequence[Sequence[BoundKeys]],
    parse: KeyParser,
) -> None:
    """Raise on the first problem of ``settings.keys``, naming the entry and its line.

    Raises:
        ConfigError: an unknown binding id, a key that does not parse, or a collision.
    """
    problems = keymap_problems(settings.keys, scopes, parse)
    if not problems:
        return
    binding_id, why = problems[0]
    source = str(path) if path is not None else "config.toml"
    try:
        text = path.read_text(encoding="utf-8") if path is not None else ""
    except OSError:
        text = ""
    line = line_of(text, ["keys", binding_id])
    where = f"{source}, line {line}" if line else source
    raise ConfigError(f"{where}: keys.{binding_id}: {why}")
