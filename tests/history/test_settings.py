"""The ``[history]`` section: documented in the shipped config.toml, and where the store goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairs_tui.config import ConfigError, HistorySettings, load_settings, parse_settings
from pairs_tui.history.store import HistoryStore, history_root

SHIPPED = Path(__file__).parents[2] / "config.toml"


def test_the_shipped_config_documents_the_defaults() -> None:
    assert load_settings(SHIPPED).history == HistorySettings(enabled=True, folder="")
    text = SHIPPED.read_text()
    assert "[history]" in text
    for key in ("enabled", "folder"):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{key} ="))
        assert "#" in line, f"{key} has no comment in config.toml"


def test_an_empty_folder_is_the_xdg_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    settings = parse_settings("[history]\nenabled = false\n")
    assert settings.history.enabled is False
    store = HistoryStore(history_root(settings.history.folder))
    assert store.root == tmp_path / "pairs-tui" / "history"


def test_a_folder_is_the_store_root(tmp_path: Path) -> None:
    settings = parse_settings(f'[history]\nfolder = "{tmp_path / "bars"}"\n')
    assert HistoryStore(history_root(settings.history.folder)).root == tmp_path / "bars"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[history]\nenabled = "yes"\n', "line 2: history.enabled: expected `bool`"),
        ("[history]\nfolder = 3\n", "line 2: history.folder: expected `str`"),
        ('[history]\nfodler = "x"\n', "line 2: history.fodler: unknown key"),
    ],
)
def test_a_bad_history_key_is_named_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(text)
