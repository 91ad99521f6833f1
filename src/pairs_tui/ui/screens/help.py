"""The help screen: every key, read from the live bindings so that remapped keys show."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


def key_table(bindings: dict[str, ActiveBinding]) -> list[tuple[str, str]]:
    """(keys, what they do) for every binding with an id (the app's own, remappable ones),
    with all the keys each is bound to.

    Args:
        bindings: A screen's active bindings, key → binding.
    """
    rows: dict[str, tuple[list[str], str]] = {}
    for active in bindings.values():
        binding = active.binding
        if binding.id is None:
            continue
        keys, _ = rows.setdefault(binding.id, ([], binding.tooltip or binding.description))
        shown = binding.key_display or active.node.app.get_key_display(binding)
        if shown not in keys:
            keys.append(shown)
    return [(" ".join(keys), text) for keys, text in rows.values()]


PALETTE_GROUPS = (
    "Export",
    "Timeframe",
    "Window",
    "Pair",
    "Hedge",
    "Prices",
    "Run",
    "Alerts",
    "Display",
    "Help",
    "Theme",
)
"""The palette's groups of commands, when the app does not say."""


def _listed(names: Sequence[str]) -> str:
    """``A, B and C``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


class HelpScreen(ModalScreen[None]):
    """Keys and what they do; any of escape, ``?`` or ``q`` closes it.

    Args:
        bindings: The main screen's active bindings (after the user's keymap).
    """

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > Vertical {
            width: 72;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            padding: 0 2;
            border: round $accent;
            border-title-color: $accent;
            background: $surface;
        }
        & Static { height: auto; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "close", show=False),
    ]

    def __init__(
        self, bindings: dict[str, ActiveBinding], palette_groups: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self._rows = key_table(bindings)
        self._groups = tuple(palette_groups) or PALETTE_GROUPS

    def compose(self) -> ComposeResult:
        width = max((len(keys) for keys, _ in self._rows), default=4) + 2
        lines: list[str | tuple[str, str]] = []
        for keys, text in self._rows:
            lines += [(keys.ljust(width), "bold $accent"), f"{text}\n"]
        lines += [
            "\n",
            ("ctrl+p ", "bold"),
            f"also lists {_listed(self._groups)} commands; type part of a name to find it.\n",
            "Keys are remapped in config.toml: ",
            ('[keys] export = "ctrl+e"', "italic"),
            "\nescape closes this screen.",
        ]
        with Vertical() as box:
            box.border_title = "pairs-tui keys"
            yield Static(Content.assemble(*lines))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
