"""``[keys]``: an unknown binding id, a key Textual cannot parse, or a key already bound to
another action is exit 2 naming the entry and its line, before any screen opens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pairs_tui.cli import main
from pairs_tui.config.keymap import BoundKeys, keymap_problems


def keys_config(tmp_path: Path, entries: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f"[ui]\nrefresh_hz = 10.0\n\n[keys]\n{entries}\n")
    return config


@pytest.mark.parametrize(
    ("entries", "names"),
    [
        ('export = "q"', "keys.export: 'q' is already bound to quit"),
        ('exprt = "x"', "keys.exprt: unknown binding id"),
        ('export = "ctrl+"', "keys.export: 'ctrl+'"),
        ('export = "foo"', "keys.export: 'foo'"),
        ('export = "hyperspace+e"', "unknown modifier 'hyperspace'"),
        ('export = "e,,f"', "an empty key"),
        ('pause = "1"', "keys.pause: '1' is already bound to timeframe_1s"),
        ('export = "ctrl+q"', "keys.export: 'ctrl+q' is already bound to quit"),
        ('backtest_export = "escape"', "keys.backtest_export: 'escape'"),
        ('pause = "x"\nexport = "x"', "line 6: keys.export: 'x' is already bound to pause"),
    ],
)
def test_bad_keys_entry_is_exit_2_naming_entry_and_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    entries: str,
    names: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = keys_config(tmp_path, entries)
    code = main(["--demo", "--config", str(config), "--duration", "0.1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and names in err, err
    assert f"{config}, line " in err


def test_a_swap_of_two_keys_is_no_collision() -> None:
    scope = [
        BoundKeys("export", "export", ("e",)),
        BoundKeys("quit", "quit", ("q",)),
        BoundKeys(None, "dismiss", ("escape",)),
    ]
    assert keymap_problems({"export": "q", "quit": "e"}, [scope], lambda v: (v,)) == []
    assert keymap_problems({"export": "escape"}, [scope], lambda v: (v,)) == [
        ("export", "'escape' is already bound to dismiss")
    ]


def test_headless_never_imports_textual_even_with_a_keys_table(tmp_path: Path) -> None:
    config = keys_config(tmp_path, 'export = "ctrl+e"')
    code = (
        "import sys\n"
        "from pairs_tui.cli import parse_options\n"
        f"parse_options(['--demo', '--headless', '--config', {str(config)!r}])\n"
        "assert 'textual' not in sys.modules, 'textual imported on the headless path'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=60)


@pytest.mark.parametrize(
    ("entries", "names"),
    [
        ('watchlist_sort_z = "escape"', "keys.watchlist_sort_z: 'escape' is already bound to"),
        ('watchlist_sort_z = "s"', ""),
    ],
)
def test_keys_of_other_screens_are_known_and_checked_within_their_screen(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    entries: str,
    names: str,
) -> None:
    from pairs_tui.cli import parse_options

    monkeypatch.chdir(tmp_path)
    config = keys_config(tmp_path, entries)
    if not names:  # `s` is the scanner on the monitor, free on the watchlist screen
        parse_options(["--demo", "--config", str(config)])
        return
    code = main(["--demo", "--config", str(config), "--duration", "0.1"])
    err = capsys.readouterr().err
    assert code == 2 and names in err, err
