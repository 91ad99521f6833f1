"""``--headless --timeframe tick --replay FILE``: one line per trade of either leg, in the
headless schema, each with the other leg's price as of that trade."""

from __future__ import annotations

import bisect
import json
import os
import subprocess
import sys
from pathlib import Path

from sources import ENVELOPES, HEADLESS_KEYS, PAIR, session_b_frame


def run_headless(tmp_path: Path, *args: str) -> list[dict[str, object]]:
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pairs_tui", *PAIR, "--headless", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_tick_lines_are_one_per_trade_in_the_schema_with_as_of_prices(tmp_path: Path) -> None:
    lines = run_headless(
        tmp_path, "--timeframe", "tick", "--window", "50", "--replay", str(ENVELOPES)
    )
    trades = session_b_frame()
    legs = {s: trades.filter(symbol=s) for s in PAIR}
    times = {s: legs[s]["time"].to_list() for s in PAIR}
    prices = {s: legs[s]["price"].to_list() for s in PAIR}
    first_both = max(times[s][0] for s in PAIR)
    # Every trade from the moment both legs have a price makes a line; none before.
    made = sum(1 for s in PAIR for t in times[s] if t >= first_both)
    assert abs(len(lines) - made) <= 1  # the trade that gives the second leg its first price
    assert [k for k in lines[0]] == HEADLESS_KEYS
    assert {line["timeframe"] for line in lines} == {"tick"}
    assert all(lines[i]["ts"] <= lines[i + 1]["ts"] for i in range(len(lines) - 1))  # type: ignore[operator]
    assert lines[-1]["zscore"] is not None and lines[-1]["window"] == 50
    for line in lines:
        ts = line["ts"]
        assert isinstance(ts, int)
        own, other = ("a", "b") if line["trades_a"] == 1 else ("b", "a")
        assert line[f"trades_{own}"] == 1 and line[f"trades_{other}"] == 0
        symbol = PAIR[0 if other == "a" else 1]
        # The other leg's price: from its last trade before this one's time, or from a trade
        # at the same millisecond; never from a later trade.
        before = bisect.bisect_left(times[symbol], ts)
        upto = bisect.bisect_right(times[symbol], ts)
        allowed = set(prices[symbol][before:upto])
        if before:
            allowed.add(prices[symbol][before - 1])
        assert line[f"close_{other}"] in allowed, line
