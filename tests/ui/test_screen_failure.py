"""An unhandled error in the screen: one line on stderr, exit 1, the traceback in the log only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App

from pairs_tui.cli import main
from pairs_tui.snapshot import Snapshot
from pairs_tui.ui import view
from pairs_tui.ui.app import PairsApp
from sources import ENVELOPES


def test_a_crashing_screen_exits_1_in_one_line_with_the_traceback_in_the_log(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    private_xdg: Path,
) -> None:
    def broken(snapshot: Snapshot) -> Any:
        raise ZeroDivisionError("a widget's own defect")

    def headless_run(self: PairsApp, **kwargs: Any) -> Any:
        return App.run(self, headless=True, size=(80, 24))

    monkeypatch.setattr(view, "latest_stats", broken)
    monkeypatch.setattr(PairsApp, "run", headless_run)
    code = main(["BTCUSDT", "ETHUSDT", "--replay", str(ENVELOPES), "--speed", "1"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err + out, err
    assert "the screen stopped on an error" in err and "pairs-tui.log" in err
    text = (private_xdg / "state" / "pairs-tui" / "pairs-tui.log").read_text()
    assert "ZeroDivisionError" in text and "a widget's own defect" in text
