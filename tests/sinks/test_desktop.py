"""Desktop notifications: the OSC sequences, plain and through tmux, on a real terminal."""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import time

import pytest
from textual.app import App
from textual.drivers.headless_driver import HeadlessDriver

from pairs_tui.sinks.delivery import AlertDelivery
from pairs_tui.sinks.desktop import DesktopSink, clean, notification
from pairs_tui.sinks.settings import DesktopSinkSettings
from pairs_tui.ui.terminal import terminal_writer
from sinks.receiver import event

E = "\x1b"
ST = "\x1b\\"


def test_osc9_and_osc777_carry_title_and_body() -> None:
    assert notification("pairs-tui BTCUSDT/ETHUSDT 1s", "zscore 2.13 crossed above 2") == (
        f"{E}]9;pairs-tui BTCUSDT/ETHUSDT 1s: zscore 2.13 crossed above 2{ST}"
    )
    assert notification("T", "b", "osc777") == f"{E}]777;notify;T;b{ST}"
    assert notification("T", "b", "both") == f"{E}]9;T: b{ST}{E}]777;notify;T;b{ST}"


def test_inside_tmux_the_sequence_is_wrapped_with_its_escapes_doubled() -> None:
    assert notification("T", "b", "osc777", tmux=True) == (
        f"{E}Ptmux;{E}{E}]777;notify;T;b{E}{E}\\{ST}"
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "rule\x1b]52;c;ZXZpbA==\x07",  # an OSC 52 clipboard write hidden in a rule name
        "a;b",  # would start a new field of OSC 777
        "bel\x07 st\x1b\\ c1-st\x9c c1-osc\x9d nl\n tab\t del\x7f",
    ],
)
def test_no_text_can_end_the_sequence_early_or_start_another(hostile: str) -> None:
    sequence = notification(hostile, hostile, "osc777")
    inner = sequence.removeprefix(f"{E}]777;notify;").removesuffix(ST)
    assert inner.count(";") == 1  # the one between title and body
    assert not [c for c in inner if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]
    assert clean("a;b\x1b]x", 80) == "a,b ]x"


def test_long_text_is_cut_to_a_notification() -> None:
    assert clean("x" * 500, 240) == "x" * 239 + "…"


# A tiny headless run on a pseudo-terminal: stdout is a pipe, as when JSON lines are piped on.
CHILD = """
import asyncio, json, os, sys
os.open(sys.argv[1], os.O_RDWR)  # a session leader opening a terminal makes it its own
from pairs_tui.sinks.delivery import build_delivery
from pairs_tui.sinks.settings import DesktopSinkSettings
from pairs_tui.snapshot import AlertEvent

async def main():
    delivery = build_delivery([DesktopSinkSettings(escape="both")], environ=os.environ)
    run = asyncio.create_task(delivery.run())
    delivery.notify(
        AlertEvent(0, "z", "zscore", ">", 2.0, 2.5, "zscore 2.5 crossed above 2 (rule z;x)"),
        ("BTCUSDT", "ETHUSDT"),
        "1s",
    )
    await delivery.flush()
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    print(json.dumps({"delivered": delivery.stats.sinks[0].delivered}))

asyncio.run(main())
"""


def _read_until(fd: int, wanted: bytes, deadline: float) -> bytes:
    got = b""
    while wanted not in got and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            got += os.read(fd, 4096)
        except OSError:  # EIO: the terminal's last writer closed it
            break
    return got


@pytest.mark.parametrize("tmux", [False, True])
def test_headless_mode_writes_the_notification_to_the_terminal_not_to_stdout(
    tmux: bool,
) -> None:
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    if tmux:
        env["TMUX"] = "/tmp/tmux-1000/default,1234,0"
    try:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, os.ttyname(slave)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            start_new_session=True,
            timeout=60,
            check=True,
        )
        osc777 = (
            f"{E}]777;notify;pairs-tui BTCUSDT/ETHUSDT 1s;zscore 2.5 crossed above 2 (rule z,x){ST}"
        )
        osc9 = f"{E}]9;pairs-tui BTCUSDT/ETHUSDT 1s: zscore 2.5 crossed above 2 (rule z,x){ST}"
        expected = osc9 + osc777
        if tmux:
            expected = "".join(f"{E}Ptmux;{s.replace(E, E + E)}{ST}" for s in (osc9, osc777))
        screen = _read_until(master, expected.encode(), time.monotonic() + 10)
    finally:
        os.close(master)
        os.close(slave)
    assert expected.encode() in screen
    assert json.loads(child.stdout) == {"delivered": 1}  # stdout: the JSON, no escape
    assert b"\x1b" not in child.stdout


async def test_in_the_tui_the_notification_goes_through_the_apps_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[str] = []
    monkeypatch.setattr(HeadlessDriver, "write", lambda self, data: written.append(data))
    app: App[None] = App()
    async with app.run_test():
        delivery = AlertDelivery(
            [DesktopSink(DesktopSinkSettings(), terminal_writer(app), tmux=False)]
        )
        run = asyncio.create_task(delivery.run())
        delivery.notify(event(0), ("BTCUSDT", "ETHUSDT"), "1s")
        await delivery.flush()
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
    assert (
        f'{E}]9;pairs-tui BTCUSDT/ETHUSDT 1s: zscore 2.5 crossed above 2 (rule "z above 2"){ST}'
        in written
    )
    assert delivery.stats.sinks[0].delivered == 1


async def test_with_the_app_gone_the_write_fails_and_is_counted() -> None:
    app: App[None] = App()  # never run: no driver
    delivery = AlertDelivery(
        [DesktopSink(DesktopSinkSettings(), terminal_writer(app))], retry_delays=()
    )
    run = asyncio.create_task(delivery.run())
    delivery.notify(event(0), ("BTCUSDT", "ETHUSDT"), "1s")
    await delivery.flush()
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    assert delivery.stats.sinks[0].failed == 1
