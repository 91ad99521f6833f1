"""Config files users actually write: any content is settings or one line naming key and line.

Generated documents mix the real sections and keys (taken from the settings model itself, so a
new key is covered the day it is added) with unknown ones, and well-typed values with values of
any type, NaN and infinities included.
"""

from __future__ import annotations

import math
import re
import string
import typing
from typing import Any, Literal, get_args, get_origin

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairs_tui.config import ConfigError, Settings, parse_settings

SOURCE = "config.toml"
SECTIONS: dict[str, type[msgspec.Struct]] = {
    f.name: f.type
    for f in msgspec.structs.fields(Settings)
    if isinstance(f.type, type) and issubclass(f.type, msgspec.Struct)
}
"""Each ``[section]`` of the file and the model behind it."""

TEXT = st.text(string.ascii_letters + string.digits + " _-./:@", max_size=12)
ANY_VALUE = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    st.lists(st.one_of(st.integers(0, 9), TEXT), max_size=3),
)


def typed_value(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of the type a field declares."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, type(int | None)):
        return st.one_of([typed_value(a) for a in args if a is not type(None)])
    if origin is list:
        return st.lists(typed_value(args[0]), max_size=3)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(-(10**6), 10**6)
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if annotation is str:
        return TEXT
    return ANY_VALUE


def field_types(section: str) -> dict[str, Any]:
    hints = typing.get_type_hints(SECTIONS[section])
    return {f.name: hints[f.name] for f in msgspec.structs.fields(SECTIONS[section])}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value + '"'
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


@st.composite
def documents(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """Sections (one may be unknown), each with some keys (one may be unknown)."""
    names = draw(st.lists(st.sampled_from([*SECTIONS, "bogus"]), unique=True, max_size=4))
    doc: dict[str, dict[str, Any]] = {}
    for name in names:
        types = field_types(name) if name in SECTIONS else {}
        keys = draw(st.lists(st.sampled_from([*types, "nonsense_key"]), unique=True, max_size=4))
        doc[name] = {
            key: draw(st.one_of(typed_value(types[key]), ANY_VALUE) if key in types else ANY_VALUE)
            for key in keys
        }
    return doc


def render(doc: dict[str, dict[str, Any]]) -> str:
    lines = ["# written by a test"]
    for section, values in doc.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


def assert_names_key_and_line(message: str, text: str, names: list[str]) -> None:
    """One line, starting with the file, naming one of ``names``; its line number (if any)
    points at that key or its section."""
    assert "\n" not in message and message.startswith(SOURCE)
    named = [n for n in names if re.search(rf"(^|[ :]){re.escape(n)}(\[\d+\])?:", message)]
    assert named, message
    line = re.match(rf"{re.escape(SOURCE)}, line (\d+):", message)
    if line:
        at = text.splitlines()[int(line[1]) - 1]
        assert any(n.rsplit(".", 1)[-1] in at for n in named), (message, at)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
def test_any_config_is_settings_or_one_line_naming_key_and_line(
    doc: dict[str, dict[str, Any]],
) -> None:
    text = render(doc)
    names = [*doc, *(f"{s}.{k}" for s, keys in doc.items() for k in keys)]
    try:
        parsed = parse_settings(text, SOURCE)
    except ConfigError as exc:
        assert_names_key_and_line(str(exc), text, names)
        return
    assert isinstance(parsed, Settings)
    assert "bogus" not in doc and not any("nonsense_key" in keys for keys in doc.values())


@st.composite
def one_typed_key(draw: st.DrawFn) -> tuple[str, str, Any]:
    section = draw(st.sampled_from(sorted(SECTIONS)))
    types = field_types(section)
    key = draw(st.sampled_from(sorted(types)))
    return section, key, draw(typed_value(types[key]))


@settings(max_examples=150, deadline=None)
@given(entry=one_typed_key())
def test_a_value_of_the_right_type_is_taken_as_given_or_refused_by_name(
    entry: tuple[str, str, Any],
) -> None:
    section, key, value = entry
    if section == "alerts" and key == "rules":
        return  # an array of tables, covered by tests/test_alert_config.py
    text = render({section: {key: value}})
    try:
        parsed = parse_settings(text, SOURCE)
    except ConfigError as exc:
        assert_names_key_and_line(str(exc), text, [f"{section}.{key}"])
        return
    got = getattr(getattr(parsed, section), key)
    assert got == value or (isinstance(value, float) and got == pytest.approx(value))


# Values of the right type that the feed and the bars cannot work with: a NaN watchdog never
# fires, a zero one tears every connection down at once, a negative grace makes bars final
# before they end, a negative demo speed would stop the demo with a traceback (exit 1, not 2).
UNUSABLE = [
    ("feed", "watchdog_seconds", math.nan),
    ("feed", "watchdog_seconds", 0.0),
    ("feed", "watchdog_seconds", -5.0),
    ("bars", "grace_ms", -250),
    ("demo", "speed", -1.0),
    ("demo", "speed", math.nan),
]


@pytest.mark.parametrize(("section", "key", "value"), UNUSABLE)
def test_values_the_feed_cannot_use_are_refused_by_name(
    section: str, key: str, value: object
) -> None:
    text = render({section: {key: value}})
    with pytest.raises(ConfigError) as refused:
        parse_settings(text, SOURCE)
    assert_names_key_and_line(str(refused.value), text, [f"{section}.{key}"])


def test_an_unknown_table_is_named_with_its_line() -> None:
    text = render({"feed": {"watchdog_seconds": 5.0}, "bogus": {"x": 1}})
    with pytest.raises(ConfigError, match=r"^config\.toml, line 4: bogus: unknown key$"):
        parse_settings(text, SOURCE)
