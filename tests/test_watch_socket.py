"""--watch over a real socket: three pairs sharing legs on one connection, each pair's lines
equal to those of a run of that pair alone against the same exchange."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pairs_tui.exchange.market import simulated_market
from pairs_tui.exchange.server import DEMO_LEAD_IN_S, EmbeddedExchange

PAIRS = ("ETHUSDT/BTCUSDT", "SOLUSDT/AVAXUSDT", "SOLUSDT/ETHUSDT")
COMMON = ["--headless", "--window", "60"]
SECONDS = 12
NOT_COMPARED = ("feed", "kalman_beta", "alerts")
"""The feed's counters and what depends on where a run started (the Kalman filter, an alert
rule's state); every other field is the window's."""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[export]\nfolder = "{tmp_path / "exports"}"\n'
        f'[history]\nfolder = "{tmp_path / "history"}"\n'
    )
    return path


async def headless(url: str, args: list[str], config: Path) -> list[dict[str, Any]]:
    """Lines of a headless client that stops itself after ``SECONDS`` (``--duration``)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pairs_tui",
        *args,
        *COMMON,
        "--duration",
        str(SECONDS),
        "--config",
        str(config),
        "--url",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "XDG_STATE_HOME": str(config.parent)},
    )
    out, err = await child.communicate()
    assert child.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()]


async def runs(config: Path) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]], list[str]]:
    symbols = sorted({s for pair in PAIRS for s in pair.split("/")})
    market = simulated_market(symbols, seed=3)
    async with EmbeddedExchange(
        market, rebase=True, loop=True, lead_in_s=DEMO_LEAD_IN_S, wait_for_subscriber=False
    ) as exchange:
        watch, *alone = await asyncio.gather(
            headless(exchange.url, ["--watch", *PAIRS], config),
            *(headless(exchange.url, pair.split("/"), config) for pair in PAIRS),
        )
        handshakes = [r for r in exchange.requests if r.startswith("/market/stream")]
    return watch, alone, handshakes


def test_three_pairs_on_one_connection_equal_each_pair_alone(config: Path) -> None:
    watch, alone, handshakes = asyncio.run(runs(config))
    watched = [h for h in handshakes if h.count("@aggTrade") == 4]
    assert len(watched) == 1, handshakes  # every symbol of the watchlist on one connection
    keys = [(line["ts"], PAIRS.index(f"{line['symbol_a']}/{line['symbol_b']}")) for line in watch]
    assert keys == sorted(keys)  # bar order, then pair order
    for n, pair in enumerate(PAIRS):
        mine = {key[0]: line for key, line in zip(keys, watch, strict=True) if key[1] == n}
        theirs = {line["ts"]: line for line in alone[n]}
        common = sorted(set(mine) & set(theirs))
        assert len(common) >= SECONDS // 2, pair
        assert mine[common[0]]["zscore"] is not None  # warm-started: analytics at once
        for ts in common:
            for key, value in theirs[ts].items():
                if key in NOT_COMPARED:
                    continue
                got = mine[ts][key]
                if isinstance(value, float) and isinstance(got, float):
                    assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-12), (pair, key)
                else:
                    assert got == value, (pair, ts, key, got, value)
