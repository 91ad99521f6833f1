"""The data path loads without Textual, checked at run time in a fresh interpreter.

The import-linter contracts in pyproject.toml read the static graph; this test runs the real
imports and looks at ``sys.modules``, so a dependency that pulls Textual in sideways (a library of
ours importing it, a plugin hook) is caught too.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pairs_tui

FORBIDDEN = ("textual", "pairs_tui.ui")
"""What headless mode, exports, alerts and the backtest must run without."""

NOT_DATA_PATH = ("pairs_tui.ui", "pairs_tui.__main__")
"""The screen itself, and ``python -m pairs_tui``, which runs the CLI when imported."""


def data_path_modules() -> list[str]:
    """Every module of the package but the UI: the CLI too, since ``--headless`` starts there."""
    found = pkgutil.walk_packages(pairs_tui.__path__, prefix="pairs_tui.")
    return sorted(
        info.name
        for info in found
        if not any(info.name == x or info.name.startswith(x + ".") for x in NOT_DATA_PATH)
    )


PROBE = """
import importlib, json, sys
forbidden = {forbidden!r}
for name in {modules!r}:
    importlib.import_module(name)
    leaked = [m for m in forbidden if m in sys.modules]
    if leaked:
        print(json.dumps({{"module": name, "leaked": leaked}}))
        break
else:
    print(json.dumps({{"module": None, "leaked": []}}))
"""


def test_the_data_path_is_walked_whole() -> None:
    modules = data_path_modules()
    for name in (
        "pairs_tui.records",
        "pairs_tui.snapshot",
        "pairs_tui.feed.binance",
        "pairs_tui.exchange.server",
        "pairs_tui.bars",
        "pairs_tui.analytics.stationarity",
        "pairs_tui.pipeline",
        "pairs_tui.alerts",
        "pairs_tui.headless",
        "pairs_tui.export",
        "pairs_tui.record",
        "pairs_tui.backtest.session",
        "pairs_tui.config.options",
        "pairs_tui.launcher",
        "pairs_tui.cli",
    ):
        assert name in modules, name
    assert not any(name.startswith("pairs_tui.ui") for name in modules)


def test_importing_the_data_path_loads_no_textual() -> None:
    probe = PROBE.format(forbidden=FORBIDDEN, modules=data_path_modules())
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"module": None, "leaked": []}, (
        f"importing {result['module']} loaded {result['leaked']}"
    )


def test_the_probe_sees_textual_when_the_ui_is_imported() -> None:
    probe = PROBE.format(forbidden=FORBIDDEN, modules=["pairs_tui.records", "pairs_tui.ui.app"])
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["module"] == "pairs_tui.ui.app"
    assert set(result["leaked"]) == {"textual", "pairs_tui.ui"}
