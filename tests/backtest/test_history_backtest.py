"""``--backtest --from --to`` over a real socket: the backtest of exchange history equals the
backtest of the same trades replayed, and charges funding at each funding time.

The embedded exchange publishes a simulated BTCUSDT/ETHUSDT tape, all of it already past, whose
40 minutes straddle a funding time (00:00 UTC). The client (``pairs-tui`` in this process, on its
own event loop in a thread) fetches 1m klines into its history store and the fundings from
``/fapi/v1/fundingRate``. The reference is ``pairs-tui --backtest --replay`` of the tape's trades
of the same range.

The comparison, precisely:

1. Funding off on both sides (``[carry] enabled = false`` for history; a replay has no funding):
   the two JSON objects have the same trades (every field) and the same metrics, floats to a
   relative 1e-9, the same history bar count and equity corners.
2. Funding on for history (its second run, from the store: no kline request reaches the
   exchange) against the engine run on the replayed pipeline's bars with the fundings the
   exchange reports for the range: the same trades and metrics to 1e-9; the funding total is
   not 0 and is the sum, over fundings held over, of ``-qty * mark * rate``.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pairs_tui.backtest.engine import backtest_history
from pairs_tui.backtest.results import FundingEvent
from pairs_tui.backtest.session import backtest_source
from pairs_tui.cli import main, parse_options
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.feed.replay.source import ReplaySource
from pairs_tui.feed.rest import BinanceRest
from sources import tape_file

PAIR = ("BTCUSDT", "ETHUSDT")
FUNDING_MS = 1_723_161_600_000
"""2024-08-09 00:00 UTC: a funding time of every 8-hour (and 4-hour) symbol."""
START_MS = FUNDING_MS - 20 * 60_000
END_MS = FUNDING_MS + 18 * 60_000
TAPE_S = 40 * 60.0


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def config(tmp_path: Path, name: str, *, carry: bool) -> Path:
    path = tmp_path / name
    path.write_text(
        f'[history]\nfolder = "{tmp_path / "history"}"\n'
        f"[carry]\nenabled = {str(carry).lower()}\n"
        "[analytics]\nentry_z = 1.0\nexit_z = 0.0\nfee_bps = 2.0\n"
    )
    return path


def assert_close(got: Any, want: Any, where: str = "") -> None:
    """Equal, floats to a relative 1e-9."""
    if isinstance(want, float) and isinstance(got, float):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (where, got, want)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for n, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{n}]")
    else:
        assert got == want, (where, got, want)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def sweep_lines(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def tape() -> TradeTape:
    return simulated_tape(PAIR, duration_s=TAPE_S, seed=5, start_ms=START_MS)


async def test_history_backtest_equals_the_replayed_trades_backtest_and_charges_funding(
    tape: TradeTape, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [*PAIR, "--backtest", "--timeframe", "1m", "--window", "10"]
    history = [*common, "--from", iso(START_MS), "--to", iso(END_MS)]
    replay_file = tape_file(tape, tmp_path / "trades.ndjson", START_MS, END_MS)
    replay_args = [*common, "--replay", str(replay_file)]
    off = config(tmp_path, "off.toml", carry=False)
    on = config(tmp_path, "on.toml", carry=True)
    async with EmbeddedExchange(
        tape, speed=1, lead_in_s=TAPE_S, wait_for_subscriber=False
    ) as exchange:
        url = ["--url", exchange.url]
        got = await asyncio.to_thread(run_cli, [*history, *url, "--config", str(off)], capsys)
        first_klines = [r for r in exchange.requests if "klines" in r.lower()]
        asked = len(exchange.requests)
        charged = await asyncio.to_thread(run_cli, [*history, *url, "--config", str(on)], capsys)
        sweep = [*history, *url, "--config", str(on), "--sweep", "entry_z=1,1.5"]
        swept = await asyncio.to_thread(sweep_lines, sweep, capsys)
        again = exchange.requests[asked:]
        rest = BinanceRest(exchange.rest_url)
        try:
            rows = {s: await rest.funding_rate(s, start_ms=START_MS, end_ms=END_MS) for s in PAIR}
        finally:
            await rest.aclose()
    want = await asyncio.to_thread(run_cli, [*replay_args, "--config", str(off)], capsys)

    # 1. Funding off: history and replay agree on everything but where the bars came from.
    assert first_klines, "the first run fetched klines"
    assert (got["source"], want["source"]) == ("history", "replay")
    assert got["history_bars"] == want["history_bars"] == 38
    assert len(want["trades"]) >= 3, "entry 1.0 was chosen to trade"
    for key in ("trades", "metrics", "equity", "symbol_a", "window", "entry_z", "fee_bps"):
        assert_close(got[key], want[key], key)
    assert got["metrics"]["funding"] == 0.0 and got["funding_events"] == 0

    # 2. Funding on, from the store: no kline request, the fundings asked for.
    assert not [r for r in again if "klines" in r.lower()], again
    assert [r for r in again if "fundingRate" in r]
    events = [
        FundingEvent(r.time, leg, r.rate, r.mark_price)
        for leg, symbol in enumerate(PAIR)
        for r in rows[symbol]
    ]
    assert [e.time_ms for e in events] == [FUNDING_MS, FUNDING_MS]
    assert charged["funding_events"] == 2
    options = parse_options([*replay_args, "--config", str(on)])
    session = await backtest_source(options, ReplaySource(options.replay, PAIR))
    reference = backtest_history(session.bars, options.settings, "1m", events)
    assert_close(charged["trades"], msgspec.to_builtins(reference.trades), "trades")
    assert_close(charged["metrics"], msgspec.to_builtins(reference.metrics), "metrics")
    # By hand: each funding falls on the trade held over it (entered by, left after, 00:00).
    held = [
        t
        for t in charged["trades"]
        if t["entry_ts"] + 60_000 <= FUNDING_MS
        and (t["exit_ts"] is None or t["exit_ts"] + 60_000 > FUNDING_MS)
    ]
    assert len(held) == 1, "the levels were chosen to hold a position over the funding"
    (trade,) = held
    paid = -sum(
        (trade["qty_a"] if e.leg == 0 else trade["qty_b"]) * (e.mark or 0.0) * e.rate
        for e in events
    )
    assert paid != 0.0
    assert trade["funding"] == pytest.approx(paid, rel=1e-12)
    assert charged["metrics"]["funding"] == pytest.approx(paid, rel=1e-12)
    assert charged["metrics"]["total_pnl"] == pytest.approx(
        got["metrics"]["total_pnl"] + paid, rel=1e-9
    )

    # 3. A sweep over the same history (from the store): its entry 1 line is that backtest.
    assert [line["params"] for line in swept] == [{"entry_z": 1.0}, {"entry_z": 1.5}]
    assert {k: v for k, v in swept[0].items() if k != "params"} == charged


async def test_history_backtest_on_1s_bars_equals_the_replay(
    tape: TradeTape, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [*PAIR, "--backtest", "--timeframe", "1s", "--window", "60"]
    start, end = START_MS + 5 * 60_000, START_MS + 15 * 60_000
    off = config(tmp_path, "off.toml", carry=False)
    replay_file = tape_file(tape, tmp_path / "trades.ndjson", start, end)
    async with EmbeddedExchange(
        tape, speed=1, lead_in_s=TAPE_S, wait_for_subscriber=False
    ) as exchange:
        history = [*common, "--from", iso(start), "--to", iso(end), "--url", exchange.url]
        got = await asyncio.to_thread(run_cli, [*history, "--config", str(off)], capsys)
        assert [r for r in exchange.requests if "continuousKlines" in r]
    want = await asyncio.to_thread(
        run_cli, [*common, "--replay", str(replay_file), "--config", str(off)], capsys
    )
    assert got["history_bars"] == want["history_bars"] == 600
    assert len(want["trades"]) >= 3
    for key in ("trades", "metrics", "equity"):
        assert_close(got[key], want[key], key)
