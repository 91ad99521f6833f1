"""Bad arguments, bad config paths and broken outputs, driven from outside as a user would:
``python -m pairs_tui`` in a clean folder with clean XDG homes.

Exit 2 with one line naming what and where for bad input; exit 1 with one line (and the log's
path) for anything else; never a traceback on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sources import ENVELOPES


def run_cli(
    home: Path, *argv: str, stdout: int | None = subprocess.PIPE, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m pairs_tui argv`` in ``home/cwd`` with every XDG folder under ``home``."""
    cwd = home / "cwd"
    cwd.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "pairs_tui", *argv],
        cwd=cwd,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )


def error_lines(stderr: str) -> list[str]:
    """The lines of stderr that are not headless log lines."""
    return [line for line in stderr.splitlines() if not line.startswith("pairs-tui: INFO")]


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["btcusdt", "ethusdt", "--url", "notaurl"], "--url 'notaurl'"),
        (["btcusdt", "ethusdt", "--url", "http://example.com"], "--url 'http://example.com'"),
        (["btcusdt", "ethusdt", "--url", "ws://host:99999"], "--url 'ws://host:99999'"),
        (["btcusdt", "ethusdt", "--rest-url", "ws://example.com"], "--rest-url"),
        (["btcusdt", "ethusdt", "--window", str(10**30)], "--window"),
    ],
)
def test_bad_url_or_huge_window_is_exit_2_in_one_line(
    tmp_path: Path, argv: list[str], names: str
) -> None:
    done = run_cli(tmp_path, *argv, "--headless", "--duration", "1")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and names in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--demo", "--duration", "nan"], "--duration"),
        (["--demo", "--duration", "inf"], "--duration"),
        (["--demo", "--window", str(10**12)], "--window"),
        (["--replay", str(ENVELOPES), "--speed", "nan"], "--speed"),
    ],
)
def test_nan_duration_and_absurd_window_are_exit_2(
    tmp_path: Path, argv: list[str], names: str
) -> None:
    done = run_cli(tmp_path, *argv, "--headless", timeout=20)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and names in done.stderr


@pytest.mark.parametrize(
    "symbol", ["btc/usdt", "btc\nusdt", "b", "btcusdt?x=1", "ethusdt&streams=x", "x" * 31]
)
def test_symbol_is_checked_before_anything_is_sent(tmp_path: Path, symbol: str) -> None:
    # --url points at a port nothing listens on: a symbol that passed would try to connect.
    done = run_cli(
        tmp_path,
        symbol,
        "btcusdt",
        "--headless",
        "--duration",
        "1",
        "--url",
        "ws://127.0.0.1:9",
        timeout=20,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and repr(symbol) in done.stderr


def test_config_symbols_are_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('symbols = ["BTCUSDT", "ETH/USDT"]\n')
    done = run_cli(tmp_path, "--config", str(config), "--replay", str(ENVELOPES), "--headless")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "line 1: symbols" in done.stderr


def test_config_url_is_checked_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[feed]\nstream = "aggTrade"\nurl = "https://fstream.binance.com"\n')
    done = run_cli(tmp_path, "--config", str(config), "--demo", "--headless")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "line 3: feed.url" in done.stderr


def test_config_that_is_a_directory_says_so(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--config", str(tmp_path), "--demo", "--headless")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "a directory" in done.stderr


def test_config_in_a_symlink_loop_says_so(tmp_path: Path) -> None:
    (tmp_path / "a.toml").symlink_to(tmp_path / "b.toml")
    (tmp_path / "b.toml").symlink_to(tmp_path / "a.toml")
    done = run_cli(tmp_path, "--config", str(tmp_path / "a.toml"), "--demo", "--headless")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "loop of symbolic links" in done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_headless_stdout_on_a_full_disk_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = run_cli(tmp_path, "--replay", str(ENVELOPES), "--headless", stdout=full.fileno())
    assert done.returncode == 1
    errors = error_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    assert "stdout" in errors[0] and "No space left" in errors[0]
    assert "Traceback" not in done.stderr
    log = (tmp_path / "state" / "pairs-tui" / "pairs-tui.log").read_text()
    assert "Traceback" in log  # the details are in the log, and only there


def test_backtest_with_headless_prints_the_backtest(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--replay", str(ENVELOPES), "--backtest", "--headless")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert "metrics" in summary and "trades" in summary


def test_failed_backtest_export_still_prints_the_result(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the export folder should be\n")
    config = tmp_path / "c.toml"
    config.write_text(
        f"[analytics]\nbacktest_export = true\n\n[export]\nfolder = {str(blocker / 'x')!r}\n"
    )
    done = run_cli(tmp_path, "--config", str(config), "--replay", str(ENVELOPES), "--backtest")
    assert done.returncode == 1
    summary = json.loads(done.stdout)  # the result is not lost
    assert "metrics" in summary and summary["exports"] == []
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and "export" in errors[0] and str(blocker) in errors[0], errors
    assert "Traceback" not in done.stderr


def test_without_a_config_the_two_zscore_rules_hold(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--replay", str(ENVELOPES), "--headless")
    assert done.returncode == 0, done.stderr
    fired = [a for line in done.stdout.splitlines() for a in json.loads(line)["alerts"]]
    assert fired, "no alert fired on session B with the default rules"
    assert {a["rule"] for a in fired} <= {"z above 2", "z below -2"}


@pytest.mark.parametrize(
    "argv",
    [
        ["--demo", "--headless", "--duration", "4"],
        ["--replay", str(ENVELOPES), "--headless"],
        ["--replay", str(ENVELOPES), "--backtest"],
    ],
    ids=["demo", "replay", "backtest"],
)
def test_nothing_is_written_into_the_current_folder_unasked(
    tmp_path: Path, argv: list[str]
) -> None:
    # The user's config (in $XDG_CONFIG_HOME) has alert rules, so alerts fire and are logged.
    config = tmp_path / "config" / "pairs-tui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        '[[alerts.rules]]\nmetric = "zscore"\nop = "abs>"\nthreshold = 2.0\nhysteresis = 0.5\n'
    )
    done = run_cli(tmp_path, *argv)
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "cwd").iterdir()) == []
    if argv[0] == "--replay" and "--headless" in argv:  # alerts fired: their log is kept
        assert (tmp_path / "state" / "pairs-tui" / "alerts.ndjson").is_file()


def test_headless_counts_are_never_null_and_volumes_are_rounded(tmp_path: Path) -> None:
    ticks = tmp_path / "ticks.ndjson"
    rows = [
        ("btcusdt", 1723161256100, 61800.3, 0.1),
        ("btcusdt", 1723161256200, 61800.4, 0.2),  # 0.1 + 0.2 is 0.30000000000000004
        ("btcusdt", 1723161257100, 61800.5, 0.578),
        ("ethusdt", 1723161258200, 2680.1, 0.1),
        ("btcusdt", 1723161258300, 61800.5, 0.1),
        ("ethusdt", 1723161259200, 2680.1, 0.1),
        ("btcusdt", 1723161259300, 61800.5, 0.1),
    ]
    ticks.write_text(
        "".join(
            json.dumps({"symbol": s, "ts": t, "price": p, "size": q}) + "\n" for s, t, p, q in rows
        )
    )
    done = run_cli(tmp_path, "--replay", str(ticks), "--headless")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 4
    first = lines[0]
    assert first["trades_b"] == 0 and first["close_b"] is None and first["volume_b"] == 0
    assert first["volume_a"] == 0.3 and first["trades_a"] == 2
    for line in lines:
        assert all(line[k] is not None for k in ("trades_a", "trades_b", "volume_a", "volume_b"))
        assert all(v is not None for v in line["feed"].values())
