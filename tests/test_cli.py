"""The command line: bad arguments and bad configuration are one line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pairs_tui.cli import main


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["btcusdt"], "give two symbols"),
        (["btcusdt", "btcusdt"], "BTCUSDT twice"),
        (["btcusdt", "ethusdt", "--timeframe", "2m"], "--timeframe"),
        (["btcusdt", "ethusdt", "--window", "1"], "--window"),
        (["btcusdt", "ethusdt", "--bogus"], "--bogus"),
        (["btcusdt", "ethusdt", "--replay", "no/such/file.csv"], "no/such/file.csv"),
        (["btcusdt", "ethusdt", "--speed", "2"], "--speed"),
        (["btcusdt", "ethusdt", "--duration", "-1"], "--duration"),
        (["--config", "missing.toml", "--demo"], "missing.toml"),
    ],
)
def test_bad_argument_is_one_line_naming_it_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    names: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = run_main(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and names in err


def test_argument_errors_found_after_parsing_also_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = run_main(capsys, "--demo", "--replay", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "--demo and --replay" in err


def test_wrong_config_key_names_key_and_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[analytics]\nwindow = 300\nwindw = 20\n")
    code, err = run_main(capsys, "--config", str(config), "--demo", "--headless")
    assert code == 2
    assert err.strip() == f"pairs-tui: error: {config}, line 3: analytics.windw: unknown key"


def test_wrong_config_type_names_key_and_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('symbols = ["BTCUSDT", "ETHUSDT"]\n\n[bars]\ntimeframe = 5\n')
    code, err = run_main(capsys, "--config", str(config), "--demo", "--headless")
    assert code == 2 and "line 4: bars.timeframe" in err and err.count("\n") == 1


def test_help_works_without_a_config_or_a_network() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pairs_tui", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "--replay" in done.stdout and "--headless" in done.stdout
