"""The command sink: a real program per alert, the alert's JSON on its stdin."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from pairs_tui.sinks.command import CommandSink
from pairs_tui.sinks.delivery import AlertDelivery, build_delivery
from pairs_tui.sinks.settings import CommandSinkSettings
from sinks.receiver import event

PAIR = ("BTCUSDT", "ETHUSDT")
APPEND_STDIN = "import sys; open(sys.argv[1], 'ab').write(sys.stdin.buffer.read())"


async def deliver_and_stop(delivery: AlertDelivery, count: int) -> None:
    """Queue ``count`` alerts, wait until each is delivered or given up, stop."""
    task = asyncio.create_task(delivery.run())
    for n in range(count):
        delivery.notify(event(n), PAIR, "1s")
    await delivery.flush()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_each_alert_reaches_the_program_as_json_on_stdin_in_order(tmp_path: Path) -> None:
    out = tmp_path / "got.ndjson"
    delivery = build_delivery(
        [CommandSinkSettings(argv=[sys.executable, "-c", APPEND_STDIN, str(out)])]
    )
    assert delivery is not None
    await deliver_and_stop(delivery, 3)
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["ts"] for g in got] == [1_723_161_256_000, 1_723_161_257_000, 1_723_161_258_000]
    assert got[1] == {
        "rule": "z above 2",
        "metric": "zscore",
        "op": ">",
        "threshold": 2.0,
        "value": 3.5,
        "ts": 1_723_161_257_000,
        "symbol_a": "BTCUSDT",
        "symbol_b": "ETHUSDT",
        "timeframe": "1s",
        "message": 'zscore 3.5 crossed above 2 (rule "z above 2")',
    }
    assert delivery.stats.sinks[0].delivered == 3
    assert delivery.unsent_at_exit == 0


async def test_a_non_zero_exit_is_retried_then_failed_with_its_last_stderr_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = "import sys; print('boom: no route', file=sys.stderr); sys.exit(3)"
    delivery = AlertDelivery(
        [CommandSink(CommandSinkSettings(argv=[sys.executable, "-c", script]))],
        retry_delays=(0.0, 0.0, 0.0),
    )
    await deliver_and_stop(delivery, 1)
    stats = delivery.stats.sinks[0]
    assert (stats.delivered, stats.retried, stats.failed) == (0, 3, 1)
    name = Path(sys.executable).name
    assert delivery.names == (f"command {name}",)
    assert [r.getMessage() for r in caplog.records if "not delivered to" in r.getMessage()] == [
        f"alert 'z above 2' not delivered to command {name} after 4 tries: "
        "exit status 3: boom: no route"
    ]


async def test_a_program_that_outlives_its_timeout_is_killed_and_counted() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    delivery = AlertDelivery(
        [CommandSink(CommandSinkSettings(argv=sleeper, timeout_seconds=0.3))], retry_delays=()
    )
    await deliver_and_stop(delivery, 1)
    stats = delivery.stats.sinks[0]
    assert (stats.delivered, stats.failed, stats.queued) == (0, 1, 0)


async def test_a_missing_program_fails_without_stopping_the_queue(
    caplog: pytest.LogCaptureFixture,
) -> None:
    delivery = AlertDelivery(
        [CommandSink(CommandSinkSettings(argv=["/nonexistent/notify-me"]))], retry_delays=()
    )
    await deliver_and_stop(delivery, 2)
    assert delivery.stats.sinks[0].failed == 2
    assert any("cannot start it (No such file" in r.getMessage() for r in caplog.records)


async def test_arguments_that_may_be_tokens_are_kept_out_of_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "xoxb-very-secret-token"
    script = "import sys; print('rejected', sys.argv[1], file=sys.stderr); sys.exit(1)"
    delivery = AlertDelivery(
        [CommandSink(CommandSinkSettings(argv=[sys.executable, "-c", script, token]))],
        retry_delays=(),
    )
    await deliver_and_stop(delivery, 1)
    lines = [r.getMessage() for r in caplog.records]
    assert any("exit status 1: rejected …" in line for line in lines)
    assert not [line for line in lines if token in line]
