"""The same trades give the same headless lines from a file and through the embedded exchange.

The exchange publishes session B on its own timeline, the real client receives it over a
loopback socket in another process (``pairs-tui --headless --url ws://…``), and its lines must
equal those of ``pairs-tui --replay`` on the file the exchange was built from.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from pairs_tui.cli import main
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import recorded_tape
from sources import ENVELOPES

ARGS = ["btcusdt", "ethusdt", "--headless", "--window", "60"]
LIVE = ["--no-history"]  # lines from the first trade on, as the replay gives them
WAIT_S = 60.0


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config without alert rules or carry (a replay has no mark prices), so lines differ
    only if bars or analytics do."""
    path = tmp_path / "config.toml"
    path.write_text(f'[export]\nfolder = "{tmp_path / "exports"}"\n[carry]\nenabled = false\n')
    return path


def replay_lines(config: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main([*ARGS, "--config", str(config), "--replay", str(ENVELOPES)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


async def exchange_lines(config: Path, stream: str, expected: int) -> list[dict[str, Any]]:
    """Run the client in its own process against the exchange until it printed ``expected``
    lines, then stop it with SIGINT as a user would."""
    async with EmbeddedExchange(recorded_tape(), speed=0, rebase=False) as exchange:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pairs_tui",
            *ARGS,
            *LIVE,
            "--config",
            str(config),
            "--url",
            exchange.url,
            "--stream",
            stream,
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
    return lines


def without_feed(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in line.items() if k != "feed"} for line in lines]


def test_trade_stream_through_exchange_equals_replay_of_file(
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replayed = replay_lines(config, capsys)
    received = asyncio.run(exchange_lines(config, "trade", len(replayed)))
    assert len(received) == len(replayed) == 345
    assert without_feed(received) == without_feed(replayed)
    assert {json.dumps(line["feed"]) for line in received} == {
        json.dumps({"state": "live", "reconnects": 0, "gaps": 0, "late": 0, "malformed": 0})
    }


def test_agg_trade_stream_gives_the_same_prices_and_analytics(
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replayed = replay_lines(config, capsys)
    received = asyncio.run(exchange_lines(config, "aggTrade", len(replayed)))
    assert len(received) == len(replayed)
    for got, want in zip(received, replayed, strict=True):
        # Aggregation merges fills of one taker at one price: fewer, larger trades.
        assert 0 < got["trades_a"] <= want["trades_a"] or got["trades_a"] == want["trades_a"] == 0
        assert got["volume_a"] == pytest.approx(want["volume_a"], rel=1e-9)
        assert got["volume_b"] == pytest.approx(want["volume_b"], rel=1e-9)
        for key in ("ts", "close_a", "close_b", "beta", "alpha", "zscore", "corr", "kalman_beta"):
            assert got[key] == want[key], key
