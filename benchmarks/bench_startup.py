"""Start-up: ``pairs-tui --help``, and the first frames of ``pairs-tui --demo`` on a terminal.

Goals: ``--help`` under 0.3 s (issue 7); the first frame of ``--demo`` under 1 s (issue 17).

``--help`` is timed against ``python -c pass`` and ``import textual.app`` in the same run.

``--demo`` is started as a user starts it: ``python -m pairs_tui --demo`` on a pseudo-terminal of
160x50 (``TERM=xterm-256color``, empty config and state folders), timed from the spawn to the
moment the bytes it wrote, stripped of escape sequences, hold:

- **screen**: the monitor screen (the target leg's name in its quote line);
- **first price**: the target leg with a price;
- **both prices**: both legs with a price. The shipped recording's first ETHUSDT trade comes
  238 ms (of exchange time, replayed at 1x) after its first BTCUSDT trade, so this one cannot
  come sooner than that after the first price.

The baseline is the least a Textual app can do on the same terminal: a one-line ``Static`` app's
first frame. Each command runs ``--repeats`` times, interleaved; median and best are printed.

    python -m benchmarks.bench_startup [--repeats R]
"""

from __future__ import annotations

import argparse
import fcntl
import math
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

from benchmarks.noise import probe

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "python -c 'import textual.app' (reference)": [sys.executable, "-c", "import textual.app"],
    "pairs-tui --help": [sys.executable, "-m", "pairs_tui", "--help"],
}
MINIMAL_APP = """
from textual.app import App
from textual.widgets import Static

class Minimal(App):
    def compose(self):
        yield Static("BTCUSDT  61,800.30")

Minimal().run()
"""
SIZE = (160, 50)
_ESCAPE = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
"""CSI and OSC sequences and two-byte escapes: what is left is the text on the screen."""
_PRICE = rb" +[\d,]+\.\d+"


def time_commands(repeats: int) -> dict[str, list[float]]:
    """Wall seconds of each command in :data:`COMMANDS`, interleaved."""
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):
        for name, argv in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    return times


def first_frames(
    argv: list[str], marks: dict[str, bytes], timeout: float = 20.0
) -> dict[str, float]:
    """Spawn ``argv`` on a pseudo-terminal; seconds until its screen text matches each mark.

    The process group is ended once every mark was seen (or at the timeout).
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    home = tempfile.mkdtemp(prefix="pairs-tui-bench-")
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "XDG_CONFIG_HOME": home,
        "XDG_STATE_HOME": home,
        "XDG_DATA_HOME": home,
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=home, start_new_session=True
    )
    os.close(slave)
    written = b""
    seen: dict[str, float] = {}
    try:
        while len(seen) < len(marks) and time.perf_counter() - started < timeout:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                break  # the process ended
            if not data:
                break
            at = time.perf_counter() - started
            written += data
            text = _ESCAPE.sub(b"", written)
            for name, pattern in marks.items():
                if name not in seen and re.search(pattern, text):
                    seen[name] = at
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        os.close(master)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"noise probe before: {probe():.0f} ms")
    times = time_commands(args.repeats)
    frames: dict[str, list[float]] = {
        "minimal Textual app: first frame (baseline)": [],
        "pairs-tui --demo: screen": [],
        "pairs-tui --demo: first price": [],
        "pairs-tui --demo: both prices": [],
    }
    demo_marks = {
        "screen": rb"BTCUSDT",
        "first price": rb"BTCUSDT" + _PRICE,
        "both prices": rb"ETHUSDT" + _PRICE,
    }
    for _ in range(args.repeats):  # interleaved; a mark never seen (a timeout) shows as nan
        seen = first_frames([sys.executable, "-c", MINIMAL_APP], {"frame": rb"BTCUSDT" + _PRICE})
        frames["minimal Textual app: first frame (baseline)"].append(seen.get("frame", math.nan))
        seen = first_frames([sys.executable, "-m", "pairs_tui", "--demo"], demo_marks)
        for mark in demo_marks:
            frames[f"pairs-tui --demo: {mark}"].append(seen.get(mark, math.nan))
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"{'command':<46}{'median ms':>10}{'best ms':>10}{'x baseline':>12}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<46}{median * 1e3:>10.0f}{min(samples) * 1e3:>10.0f}{median / base:>12.1f}")
    frame_base = statistics.median(frames["minimal Textual app: first frame (baseline)"])
    print(
        f"\n{'first frames on a 160x50 pty':<46}{'median ms':>10}{'best ms':>10}{'x baseline':>12}"
    )
    for name, samples in frames.items():
        median = statistics.median(samples)
        print(
            f"{name:<46}{median * 1e3:>10.0f}{min(samples) * 1e3:>10.0f}"
            f"{median / frame_base:>12.1f}"
        )
    print(f"noise probe after: {probe():.0f} ms")


if __name__ == "__main__":
    main()
