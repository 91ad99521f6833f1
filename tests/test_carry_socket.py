"""Carry over a real socket: the funding on the headless lines is what the exchange sent, and
carry_bp_day follows the contract's formula with each leg's own interval (4 h and 8 h)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from pairs_tui.exchange.market import simulated_market
from pairs_tui.exchange.server import DEMO_LEAD_IN_S, EmbeddedExchange

PAIR = ("SOLUSDT", "AVAXUSDT")
"""SOLUSDT funds every 8 hours, AVAXUSDT every 4 (the exchange's fundingInfo lists it)."""
SECONDS = 8


async def run(tmp_path: Path) -> tuple[list[dict[str, Any]], dict[str, set[tuple[float, int]]]]:
    config = tmp_path / "config.toml"
    config.write_text(f'[history]\nfolder = "{tmp_path / "history"}"\n')
    async with EmbeddedExchange(
        simulated_market(PAIR, seed=4),
        rebase=True,
        lead_in_s=DEMO_LEAD_IN_S,
        wait_for_subscriber=False,
    ) as exchange:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pairs_tui",
            *PAIR,
            "--headless",
            "--window",
            "60",
            "--duration",
            str(SECONDS),
            "--config",
            str(config),
            "--url",
            exchange.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
        )
        out, err = await child.communicate()
        assert child.returncode == 0, err.decode()
        lines = [json.loads(line) for line in out.decode().splitlines()]
        sent: dict[str, set[tuple[float, int]]] = {s: set() for s in PAIR}
        first, last = lines[0]["ts"] - 60_000, lines[-1]["ts"] + 5_000
        for symbol in PAIR:
            for second in range(first - first % 1000, last, 1000):
                payload = exchange.mark_payload(symbol, second)
                if payload is not None:
                    mark = json.loads(payload)
                    sent[symbol].add((float(mark["r"]), int(mark["T"])))
    return lines, sent


def test_funding_on_the_lines_is_what_the_exchange_sent(tmp_path: Path) -> None:
    lines, sent = asyncio.run(run(tmp_path))
    assert len(lines) >= SECONDS // 2
    rates_a = {r for r, _ in sent["SOLUSDT"]}
    rates_b = {r for r, _ in sent["AVAXUSDT"]}
    # The 4-hour leg funds no later than the 8-hour one (at the same time in half of every 8 h):
    # its next funding time is the line's.
    next_b = {t for _, t in sent["AVAXUSDT"]}
    assert min(next_b) <= min(t for _, t in sent["SOLUSDT"])
    assert all(t % (4 * 3_600_000) == 0 for t in next_b)
    for line in lines:
        assert line["funding_a"] in rates_a and line["funding_b"] in rates_b, line
        assert line["next_funding_ts"] in next_b
        expected = 1e4 * (-line["funding_a"] * 24 / 8 + line["beta"] * line["funding_b"] * 24 / 4)
        assert math.isclose(line["carry_bp_day"], expected, rel_tol=1e-12), line
