"""Headless mode with ``[[alerts.sinks]]``: every alert of the JSON lines reaches every sink."""

from __future__ import annotations

import json
import socket
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pairs_tui.cli import main
from pairs_tui.sinks import delivery
from sources import ENVELOPES

RULE = """
[[alerts.rules]]
name = "z wide"
metric = "zscore"
op = "abs>"
threshold = 1.5
hysteresis = 0.5
"""


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[bytes]

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the bodies."""


@pytest.fixture
def webhook_bodies() -> Iterator[tuple[str, list[bytes]]]:
    """A stdlib HTTP server in a thread (``main`` runs its own event loop): its URL, and the
    bodies it was POSTed, in arrival order."""
    bodies: list[bytes] = []
    handler = type("Recorder", (_Recorder,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_every_alert_of_the_lines_reaches_the_webhook_and_the_command_in_order(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    webhook_bodies: tuple[str, list[bytes]],
) -> None:
    url, bodies = webhook_bodies
    received = tmp_path / "received.ndjson"
    config = tmp_path / "config.toml"
    config.write_text(
        textwrap.dedent(f"""
        [export]
        folder = "{tmp_path / "exports"}"
        {RULE}
        [[alerts.sinks]]
        kind = "webhook"
        url = "{url}"

        [[alerts.sinks]]
        kind = "command"
        argv = ["sh", "-c", "cat >> \\"$0\\"", "{received}"]
        """)
    )
    code = main(
        ["--replay", str(ENVELOPES), "--headless", "--config", str(config), "--window", "30"]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    fired = [(a["time"], a["value"], a["message"]) for line in lines for a in line["alerts"]]
    assert len(fired) >= 5
    posted = [json.loads(body) for body in bodies]
    assert [(p["ts"], p["value"], p["message"]) for p in posted] == fired
    assert {(p["symbol_a"], p["symbol_b"], p["timeframe"]) for p in posted} == {
        ("BTCUSDT", "ETHUSDT", "1s")
    }
    piped = [json.loads(line) for line in received.read_text().splitlines()]
    assert piped == posted
    assert "\x1b" not in out


def test_alerts_that_could_not_be_delivered_make_the_run_exit_1_naming_them(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(
        textwrap.dedent(f"""
        [export]
        folder = "{tmp_path / "exports"}"
        {RULE}
        [[alerts.sinks]]
        kind = "webhook"
        url = "http://127.0.0.1:{dead}/bot123:SECRET/sendMessage"
        format = "telegram"
        chat_id = 7
        """)
    )
    code = main(
        ["--replay", str(ENVELOPES), "--headless", "--config", str(config), "--window", "30"]
    )
    captured = capsys.readouterr()
    fired = sum(len(json.loads(line)["alerts"]) for line in captured.out.splitlines())
    assert code == 1 and fired >= 5
    assert f"alerts: {fired} not delivered (webhook telegram (127.0.0.1): {fired})" in captured.err
    assert "SECRET" not in captured.err
    assert "Traceback" not in captured.err  # a known loss is one line, not a crash
