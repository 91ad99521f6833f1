"""The warm start over a real socket: a live run started mid-tape equals a replay of the whole
tape, line for line from its first line (the stitch is exact), at 1s and at 1m.

The embedded exchange publishes a simulated tape whose first half hour is already history when
the client connects (klines, aggregate trades by time); the client (``pairs-tui --headless``
in its own process) loads that history, stitches it to the stream, and prints lines. The same
tape, replayed from a file, gives the reference.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from pairs_tui.cli import main
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import TradeTape
from sources import tape_file

PAIR = ("BTCUSDT", "ETHUSDT")
PAST_S = 1_800.0
"""The tape already published when the client connects."""
WAIT_S = 90.0
PATH_DEPENDENT = ("feed", "kalman_beta", "alerts")
"""Not compared: the feed's counters, the Kalman filter (its state depends on where a run
starts, not on the window), alerts (a rule's hysteresis state likewise)."""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[export]\nfolder = "{tmp_path / "exports"}"\n'
        f'[history]\nfolder = "{tmp_path / "history"}"\n'
        "[carry]\nenabled = false\n"
    )
    return path


async def live_lines(
    tape: TradeTape, args: list[str], config: Path, speed: float, expected: int
) -> list[dict[str, Any]]:
    """Lines of a headless client started ``PAST_S`` into the tape, until ``expected``."""
    async with EmbeddedExchange(
        tape, speed=speed, lead_in_s=PAST_S, wait_for_subscriber=False
    ) as exchange:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pairs_tui",
            *args,
            "--config",
            str(config),
            "--url",
            exchange.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "XDG_STATE_HOME": str(config.parent)},
        )
        assert child.stdout is not None
        lines: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(WAIT_S):
                while len(lines) < expected:
                    line = await child.stdout.readline()
                    if not line:
                        break
                    lines.append(json.loads(line))
        finally:
            child.send_signal(signal.SIGINT)
            _, err = await child.communicate()
        assert child.returncode == 0, err.decode()
        kline_requests = [r for r in exchange.requests if "klines" in r.lower()]
    assert kline_requests, "the client never asked for history"
    return lines


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key, value in want.items():
        if key in PATH_DEPENDENT:
            continue
        other = got[key]
        if isinstance(value, float) and isinstance(other, float):
            assert math.isclose(other, value, rel_tol=1e-9, abs_tol=1e-12), (key, got["ts"])
        else:
            assert other == value, (key, got["ts"], other, value)


@pytest.mark.parametrize(
    ("timeframe", "window", "speed", "expected"),
    [("1s", 30, 2.0, 12), ("1m", 10, 40.0, 4)],
)
def test_a_run_started_mid_tape_equals_a_replay_of_the_whole_tape(
    timeframe: str,
    window: int,
    speed: float,
    expected: int,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tape = simulated_tape(PAIR, duration_s=PAST_S + 600, seed=5)
    args = [*PAIR, "--headless", "--timeframe", timeframe, "--window", str(window)]
    live = asyncio.run(live_lines(tape, args, config, speed, expected))
    assert len(live) == expected
    first = live[0]
    assert first["zscore"] is not None and first["beta"] is not None  # analytics at once
    start = tape.start_ms + PAST_S * 1000
    assert start - 120_000 <= first["ts"] <= start + 120_000  # it did start mid-tape
    replay = tape_file(tape, tmp_path / "tape.ndjson.gz")
    assert main([*args, "--config", str(config), "--replay", str(replay)]) == 0
    reference = {line["ts"]: line for line in map(json.loads, capsys.readouterr().out.splitlines())}
    for line in live:
        assert line["ts"] in reference, line["ts"]
        assert_same(line, reference[line["ts"]])
