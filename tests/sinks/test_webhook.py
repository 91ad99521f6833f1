"""Webhooks against a real HTTP server on loopback: bodies per format, retries, hangs, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from pairs_tui.sinks.delivery import AlertDelivery, build_delivery
from pairs_tui.sinks.settings import WebhookSinkSettings
from pairs_tui.sinks.webhook import WebhookSink, http_client
from sinks.receiver import Receiver, event

PAIR = ("BTCUSDT", "ETHUSDT")
TOKEN = "123456789:AAH-s3cr3t-T0ken_do-not-leak"


@asynccontextmanager
async def running(delivery: AlertDelivery) -> AsyncIterator[AlertDelivery]:
    """Run the service; on exit stop it as the pipeline does (cancel, then the grace)."""
    task = asyncio.create_task(delivery.run())
    try:
        yield delivery
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def webhook(url: str, **fields: Any) -> AlertDelivery:
    delivery = build_delivery([WebhookSinkSettings(url=url, **fields)])
    assert delivery is not None
    return delivery


async def test_json_alerts_arrive_once_each_in_order_with_the_documented_body(
    receiver: Receiver,
) -> None:
    delivery = webhook(receiver.url + "/hook")
    async with running(delivery):
        for n in range(5):
            delivery.notify(event(n), PAIR, "1s")
        requests = await receiver.wait_for(5)
    assert [r.method for r in requests] == ["POST"] * 5
    assert {r.path for r in requests} == {"/hook"}
    bodies = [json.loads(r.body) for r in requests]
    assert list(bodies[0]) == [
        "rule",
        "metric",
        "op",
        "threshold",
        "value",
        "ts",
        "symbol_a",
        "symbol_b",
        "timeframe",
        "message",
    ]
    assert bodies[2] == {
        "rule": "z above 2",
        "metric": "zscore",
        "op": ">",
        "threshold": 2.0,
        "value": 4.5,
        "ts": 1_723_161_258_000,
        "symbol_a": "BTCUSDT",
        "symbol_b": "ETHUSDT",
        "timeframe": "1s",
        "message": 'zscore 4.5 crossed above 2 (rule "z above 2")',
    }
    assert [b["ts"] for b in bodies] == [1_723_161_256_000 + n * 1000 for n in range(5)]
    assert requests[0].headers["content-type"] == "application/json"
    stats = delivery.stats.sinks[0]
    assert (stats.delivered, stats.retried, stats.failed, stats.queued) == (5, 0, 0, 0)
    assert len(receiver.requests) == 5  # nothing sent twice


@pytest.mark.parametrize(
    ("fmt", "extra", "expected"),
    [
        (
            "slack",
            {},
            {"text": 'BTCUSDT/ETHUSDT 1m: zscore 2.5 crossed above 2 (rule "z above 2")'},
        ),
        (
            "discord",
            {},
            {"content": 'BTCUSDT/ETHUSDT 1m: zscore 2.5 crossed above 2 (rule "z above 2")'},
        ),
        (
            "telegram",
            {"chat_id": -1001234},
            {
                "chat_id": -1001234,
                "text": 'BTCUSDT/ETHUSDT 1m: zscore 2.5 crossed above 2 (rule "z above 2")',
            },
        ),
    ],
)
async def test_chat_formats_carry_one_line_with_the_pair_and_timeframe(
    receiver: Receiver, fmt: str, extra: dict[str, Any], expected: dict[str, Any]
) -> None:
    delivery = webhook(receiver.url + "/x", format=fmt, **extra)
    async with running(delivery):
        delivery.notify(event(0), PAIR, "1m")
        (request,) = await receiver.wait_for(1)
    assert json.loads(request.body) == expected
    assert request.headers["content-type"] == "application/json"


async def test_ntfy_gets_plain_text_and_its_title_priority_and_tags_headers(
    receiver: Receiver,
) -> None:
    delivery = webhook(
        receiver.url + "/pairs-desk-alerts", format="ntfy", headers={"Authorization": "Bearer tk"}
    )
    async with running(delivery):
        delivery.notify(event(0), PAIR, "5m")
        delivery.notify(event(1, value=-3.0, op="<"), PAIR, "5m")
        first, second = await receiver.wait_for(2)
    assert first.path == "/pairs-desk-alerts"
    assert first.body.decode() == 'zscore 2.5 crossed above 2 (rule "z above 2")'
    assert first.headers["content-type"] == "text/plain; charset=utf-8"
    assert first.headers["title"] == "pairs-tui BTCUSDT/ETHUSDT 5m"
    assert first.headers["priority"] == "high"
    assert first.headers["tags"] == "chart_with_upwards_trend"
    assert first.headers["authorization"] == "Bearer tk"
    assert second.headers["tags"] == "chart_with_downwards_trend"


async def test_a_500_is_retried_three_times_then_logged_and_counted(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500]
    fast = AlertDelivery(
        [WebhookSink(WebhookSinkSettings(url=receiver.url), http_client([receiver.url]))],
        retry_delays=(0.0, 0.0, 0.0),
    )
    async with running(fast):
        fast.notify(event(0), PAIR, "1s")
        await receiver.wait_for(4)
    stats = fast.stats.sinks[0]
    assert (stats.delivered, stats.retried, stats.failed, stats.undelivered) == (0, 3, 1, 1)
    assert len(receiver.requests) == 4
    failures = [r.getMessage() for r in caplog.records if "not delivered to" in r.getMessage()]
    assert failures == [
        "alert 'z above 2' not delivered to webhook json (127.0.0.1) after 4 tries: HTTP 500"
    ]


async def test_a_retry_that_succeeds_counts_one_retry_and_one_delivery(receiver: Receiver) -> None:
    receiver.statuses = [503, 200]
    delivery = AlertDelivery(
        [WebhookSink(WebhookSinkSettings(url=receiver.url), http_client([receiver.url]))],
        retry_delays=(0.0, 0.0, 0.0),
    )
    async with running(delivery):
        delivery.notify(event(0), PAIR, "1s")
        await receiver.wait_for(2)
    stats = delivery.stats.sinks[0]
    assert (stats.delivered, stats.retried, stats.failed) == (1, 1, 0)
    assert receiver.requests[0].body == receiver.requests[1].body


async def test_a_sink_that_never_answers_times_out_and_does_not_hold_up_the_others(
    receiver: Receiver,
) -> None:
    hung = Receiver(statuses=[None])
    await hung.start()
    try:
        delivery = AlertDelivery(
            [
                WebhookSink(
                    WebhookSinkSettings(url=hung.url, timeout_seconds=0.2),
                    http_client([hung.url]),
                ),
                WebhookSink(WebhookSinkSettings(url=receiver.url), http_client([receiver.url])),
            ],
            retry_delays=(0.0, 0.0, 0.0),
            grace_s=0.1,  # what the hung sink still holds at the end is not waited for
        )
        async with running(delivery):
            for n in range(20):
                delivery.notify(event(n), PAIR, "1s")
            await receiver.wait_for(20)  # the healthy sink has everything ...
            waiting = delivery.stats.sinks[0]
            assert waiting.delivered == 0 and waiting.queued >= 19  # ... the hung one is stuck
            await hung.wait_for(5)  # the first alert tried four times, the next one begun
    finally:
        await hung.stop()
    hung_stats, good_stats = delivery.stats.sinks
    assert good_stats.delivered == 20
    assert hung_stats.delivered == 0 and hung_stats.retried >= 3 and hung_stats.failed >= 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_bot_token_in_the_url_reaches_no_log_line_and_no_name(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hung = Receiver(statuses=[None])
    await hung.start()
    receiver.statuses = [500]
    urls = [
        f"{receiver.url}/bot{TOKEN}/sendMessage",  # answers 500
        f"{hung.url}/bot{TOKEN}/sendMessage",  # never answers
        f"http://127.0.0.1:{_closed_port()}/bot{TOKEN}/sendMessage?key={TOKEN}",  # refused
    ]
    try:
        delivery = AlertDelivery(
            [
                WebhookSink(
                    WebhookSinkSettings(
                        url=url, format="telegram", chat_id=42, timeout_seconds=0.2
                    ),
                    http_client(urls),
                )
                for url in urls
            ],
            retry_delays=(0.0, 0.0, 0.0),
        )
        async with running(delivery):
            delivery.notify(event(0), PAIR, "1s")
            await receiver.wait_for(4)
            await hung.wait_for(4)
    finally:
        await hung.stop()
    assert delivery.names == (
        "webhook telegram (127.0.0.1)",
        "webhook telegram (127.0.0.1) #2",
        "webhook telegram (127.0.0.1) #3",
    )
    assert [s.failed for s in delivery.stats.sinks] == [1, 1, 1]
    logged = [record.getMessage() for record in caplog.records]
    assert sum("not delivered to webhook telegram" in line for line in logged) == 3
    assert not [line for line in logged if TOKEN in line or "sendMessage" in line]
    assert TOKEN not in repr(delivery.stats)


async def test_a_proxy_from_the_environment_is_used_but_never_for_loopback(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{_closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    delivery = webhook(receiver.url + "/direct")
    async with running(delivery):
        delivery.notify(event(0), PAIR, "1s")
        (direct,) = await receiver.wait_for(1)
    assert direct.path == "/direct"  # straight to the loopback server, past the dead proxy

    # A remote URL goes through the proxy: the receiver plays the proxy here.
    monkeypatch.setenv("HTTP_PROXY", receiver.url)
    monkeypatch.setenv("http_proxy", receiver.url)
    delivery = webhook("http://alerts.example.com/hook")
    async with running(delivery):
        delivery.notify(event(1), PAIR, "1s")
        _, proxied = await receiver.wait_for(2)
    assert proxied.path == "http://alerts.example.com/hook"
    assert json.loads(proxied.body)["ts"] == 1_723_161_257_000
