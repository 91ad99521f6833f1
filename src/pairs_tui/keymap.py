"""``[keys]`` checked with Textual's key names before the screen opens (the TUI path only).

The app's bindings and Textual's key parsing live with Textual; the checking itself is
:mod:`pairs_tui.config.keymap`, which imports neither. Headless runs never import this module.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pairs_tui.config import Settings
from pairs_tui.config.keymap import BoundKeys, check_keymap

if TYPE_CHECKING:
    from textual.binding import BindingType

# Textual is imported inside the functions: importing this module (the CLI does, lazily, on the
# TUI path only) costs nothing, and the data path stays free of Textual (tests/test_import_rules).

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
"""The modifiers a key may carry, joined with ``+`` (``ctrl+shift+e``)."""


def check_keys(settings: Settings, path: Path | None) -> None:
    """Check the config's ``[keys]`` against the app's bindings.

    Raises:
        ConfigError: an unknown binding id, a key Textual cannot parse, or a key already bound
            to another action; the message names the entry and its line.
    """
    from textual.app import App
    from textual.dom import DOMNode

    from pairs_tui.ui.keys import BINDINGS

    importlib.import_module("pairs_tui.ui.app")  # every screen and widget, with their keys

    ours = _bound(BINDINGS)
    taken = {key for binding in ours for key in binding.keys}
    # The app's own keys override Textual's defaults for the same key, as Textual merges them.
    defaults = [b for b in _bound(App.BINDINGS) if not taken.intersection(b.keys)]
    scopes = [[*defaults, *ours]]
    # Each screen or widget of ours with keys of its own: a key means one thing within it.
    for node in _subclasses(DOMNode):
        own = node.__dict__.get("BINDINGS")
        if own and node.__module__.startswith("pairs_tui.ui") and own is not BINDINGS:
            scopes.append(_bound(own))
    check_keymap(settings, path, scopes, parse_keys)


def _subclasses(cls: type) -> list[type]:
    """Every subclass of ``cls``, depth first, each once."""
    found: dict[type, None] = {}
    stack: list[type] = list(cls.__subclasses__())
    while stack:
        sub = stack.pop()
        if sub not in found:
            found[sub] = None
            stack.extend(sub.__subclasses__())
    return list(found)


def parse_keys(value: str) -> tuple[str, ...]:
    """``"ctrl+e, ?"`` → ``("ctrl+e", "question_mark")``, the way Textual reads a keymap.

    Raises:
        ValueError: an empty key, an unknown modifier or a key name Textual does not know.
    """
    from textual.keys import _character_to_key, key_to_character

    keys = []
    for part in value.split(","):
        token = part.strip()
        if not token:
            raise ValueError("an empty key")
        if len(token) == 1:
            token = _character_to_key(token)
        *modifiers, name = token.split("+") if len(token) > 1 else [token]
        unknown = [m for m in modifiers if m not in MODIFIERS]
        if unknown:
            raise ValueError(f"unknown modifier {unknown[0]!r}; one of {', '.join(MODIFIERS)}")
        if not name or (name not in _key_names() and key_to_character(name) is None):
            raise ValueError(f"no key named {name!r}")
        keys.append(token)
    return tuple(keys)


@cache
def _key_names() -> frozenset[str]:
    """Key names Textual sends: its named keys and every printable ASCII character's name."""
    from textual.keys import Keys, _character_to_key

    named = {key.value.rpartition("+")[2] for key in Keys}
    printable = {_character_to_key(chr(code)) for code in range(33, 127)}
    return frozenset(named | printable | {"space"})


def _bound(bindings: list[BindingType]) -> list[BoundKeys]:
    """Each binding with its default keys in Textual's long names."""
    from textual.binding import Binding

    out = []
    for item in bindings:
        binding = item if isinstance(item, Binding) else Binding(*item)
        keys = tuple(b.key for b in Binding.make_bindings([binding]))
        out.append(BoundKeys(binding.id, binding.action, keys))
    return out
