"""The TUI under a 5,000 trades/s feed: CPU of the app, frame time, bytes written to the terminal.

Three processes, so that each figure belongs to one of them:

- the **exchange**: the embedded Binance-compatible exchange publishing a seeded simulated pair
  (``simulated_tape``) at ``--rate`` aggregate trades per second in total, in real time;
- the **app**: ``pairs-tui BTCUSDT ETHUSDT --url ws://…`` exactly as a user runs it live, under a
  pseudo-terminal of 160x50, with a few timers wrapped to time its frames;
- this **harness**: reads the pty (counting bytes, as ssh would have to carry them) and samples
  both processes' CPU from ``/proc``.

The window is 60 bars so that the z-score and spread plots are drawn during the measurement; the
first ``--warmup`` seconds (connection, warm-up, first layout) are left out.

Goals (issue "The terminal monitor"): app CPU under 25% of one core, under 20 KiB/s at 160x50.

    python -m benchmarks.bench_tui                      # truecolor and 256 colours
    python -m benchmarks.bench_tui --colors truecolor --seconds 60 --warmup 70
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (160, 50)
TICKS = os.sysconf("SC_CLK_TCK")


# -- the exchange process ----------------------------------------------------------------------


def _tape(rate: float) -> object:
    """Two minutes of a simulated pair publishing ``rate`` aggregate trades a second."""
    from pairs_tui.exchange.simulation import simulated_tape

    # Arrivals at one price merge into one aggregate trade, more of them the faster they come:
    # scale the arrival rate until the exchange publishes ``rate`` aggregate trades a second.
    arrivals = rate / 2
    for _ in range(3):
        probe = simulated_tape(
            ("BTCUSDT", "ETHUSDT"), duration_s=10.0, rate_per_s=(arrivals, arrivals)
        )
        arrivals *= rate / (len(probe.trades) / 10.0)
    return simulated_tape(("BTCUSDT", "ETHUSDT"), duration_s=120.0, rate_per_s=(arrivals, arrivals))


async def _serve(rate: float) -> None:
    from pairs_tui.exchange.server import EmbeddedExchange

    exchange = EmbeddedExchange(_tape(rate), speed=1.0, rebase=True, loop=True)  # type: ignore[arg-type]
    await exchange.start()
    print(exchange.url, exchange.rest_url, flush=True)
    await asyncio.Event().wait()


def _demo_source(rate: float):  # type: ignore[no-untyped-def]
    """``open_source`` for ``--demo``, on the benchmark's tape: the exchange in the app's loop."""
    import contextlib

    from pairs_tui.exchange.server import EmbeddedExchange
    from pairs_tui.feed.binance import BinanceFeed

    tape = _tape(rate)

    @contextlib.asynccontextmanager
    async def open_demo(options):  # type: ignore[no-untyped-def]
        exchange = EmbeddedExchange(tape, speed=1.0, rebase=True, loop=True)  # type: ignore[arg-type]
        await exchange.start()
        try:
            yield BinanceFeed(options.symbols, url=exchange.url, rest_url=exchange.rest_url)
        finally:
            await exchange.stop()

    return open_demo


# -- the app process ---------------------------------------------------------------------------


class Timings:
    """Wall and CPU time of wrapped callables, per call."""

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = {}

    def wrap(self, owner: type, name: str, label: str) -> None:
        original = getattr(owner, name)
        samples = self.calls.setdefault(label, [])

        def timed(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                samples.append(time.perf_counter() - started)

        setattr(owner, name, timed)


def _run_app(
    url: str,
    rest_url: str,
    seconds: float,
    warmup: float,
    out: Path,
    demo_rate: float | None,
) -> None:
    from textual.screen import Screen

    from pairs_tui.config import Options, Settings
    from pairs_tui.ui.app import PairsApp
    from pairs_tui.ui.run import make_app
    from pairs_tui.ui.widgets.line_plot import LinePlot

    timings = Timings()
    timings.wrap(Screen, "_on_timer_update", "frame")
    timings.wrap(PairsApp, "refresh_numbers", "numbers")
    timings.wrap(PairsApp, "refresh_plots", "plots")
    timings.wrap(LinePlot, "_rebuild", "plot build")
    options = Options(
        settings=Settings(),
        symbols=("BTCUSDT", "ETHUSDT"),
        url=url,
        rest_url=rest_url,
        window=60,
        duration=warmup + seconds,
    )
    app = make_app(options, source_factory=None if demo_rate is None else _demo_source(demo_rate))
    marks: dict[str, float] = {}

    def mark_warm() -> None:
        for samples in timings.calls.values():
            samples.clear()
        pipeline = app.pipeline
        marks["messages"] = 0 if pipeline is None else pipeline.snapshot().feed.messages
        marks["time"] = time.monotonic()

    latencies: list[float] = []

    def sample_latency() -> None:
        pipeline = app.pipeline
        if pipeline is not None and "time" in marks:
            latency = pipeline.snapshot().feed.latency_ms
            if latency is not None:
                latencies.append(latency)

    app.call_later(lambda: app.set_timer(warmup, mark_warm))
    app.call_later(lambda: app.set_interval(0.5, sample_latency))
    app.run()
    snap = app.snapshot()
    elapsed = time.monotonic() - marks.get("time", time.monotonic())
    result = {
        "calls": timings.calls,
        "elapsed": elapsed,
        "messages": snap.feed.messages - marks.get("messages", 0),
        "bars": snap.bar_count,
        "warm": snap.latest is not None and snap.latest.stats.zscore is not None,
        "latency_ms": latencies,
        "state": snap.feed.state,
    }
    out.write_text(json.dumps(result))


# -- the harness -------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    colors: str,
    rate: float,
    seconds: float,
    warmup: float,
    dump: Path | None = None,
    demo: bool = False,
) -> dict[str, object]:
    """One run: the exchange, the app under a pty, the bytes and the CPU.

    With ``demo`` the exchange runs inside the app's process, as ``pairs-tui --demo`` does, and
    the exchange column is a sleeping placeholder.
    """
    exchange = (
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_tui", "--exchange", "--rate", str(rate)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        if not demo
        else subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1e6)"])
    )
    try:
        if demo:
            url, rest_url = "ws://127.0.0.1:1", "http://127.0.0.1:1"
        else:
            assert exchange.stdout is not None
            url, rest_url = exchange.stdout.readline().split()
        stats_file = Path(tempfile.mkstemp(suffix=".json")[1])
        env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR")}
        env["TERM"] = "xterm-256color"
        env["LINES"], env["COLUMNS"] = str(SIZE[1]), str(SIZE[0])
        if colors == "truecolor":
            env["COLORTERM"] = "truecolor"
        elif colors == "no-color":
            env["NO_COLOR"] = "1"
        argv = [
            sys.executable,
            "-m",
            "benchmarks.bench_tui",
            "--app",
            url,
            rest_url,
            "--seconds",
            str(seconds),
            "--warmup",
            str(warmup),
            "--out",
            str(stats_file),
        ]
        if demo:
            argv += ["--demo-rate", str(rate)]
        pid, fd = pty.fork()
        if pid == 0:  # the app
            import fcntl
            import struct
            import termios

            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
            os.chdir(tempfile.mkdtemp())
            os.environ["PYTHONPATH"] = str(ROOT)
            os.execve(sys.executable, argv, {**env, "PYTHONPATH": str(ROOT)})
        started = time.monotonic()
        total = warm_bytes = 0
        cpu_app = cpu_exchange = None
        last: tuple[float, float, float] | None = None
        while True:
            ready, _, _ = select.select([fd], [], [], 0.25)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                total += len(data)
                if cpu_app is not None:
                    warm_bytes += len(data)
                    if dump is not None:
                        with dump.open("ab") as raw:
                            raw.write(data)
            now = time.monotonic()
            try:
                sample = (now, _cpu_seconds(pid), _cpu_seconds(exchange.pid))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if cpu_app is None and now - started >= warmup:
                cpu_app, cpu_exchange, warm_at = sample[1], sample[2], now
            if cpu_app is not None:
                last = sample
        os.waitpid(pid, 0)
        stats = json.loads(stats_file.read_text())
        stats_file.unlink()
    finally:
        exchange.send_signal(signal.SIGTERM)
        exchange.wait(10)
    assert last is not None and cpu_app is not None and cpu_exchange is not None
    span = last[0] - warm_at
    frames = [1000 * s for s in stats["calls"]["frame"]]
    numbers = [1000 * s for s in stats["calls"]["numbers"]]
    plots = [1000 * s for s in stats["calls"]["plots"]]
    builds = [1000 * s for s in stats["calls"]["plot build"]]
    return {
        "colors": colors + (" demo" if demo else ""),
        "span_s": span,
        "msgs_per_s": stats["messages"] / max(stats["elapsed"], 1e-9),
        "app_cpu_pct": 100 * (last[1] - cpu_app) / span,
        "exchange_cpu_pct": 100 * (last[2] - cpu_exchange) / span,
        "kib_per_s": warm_bytes / 1024 / span,
        "frames_per_s": len(frames) / stats["elapsed"],
        "frame_ms": (statistics.median(frames), _percentile(frames, 0.95), max(frames)),
        "numbers_ms": (statistics.median(numbers), _percentile(numbers, 0.95)),
        "plots_ms": (statistics.median(plots), _percentile(plots, 0.95)),
        "plot_builds_per_s": len(builds) / stats["elapsed"],
        "plot_build_ms": (
            statistics.median(builds) if builds else float("nan"),
            _percentile(builds, 0.95),
        ),
        "latency_ms": (statistics.median(stats["latency_ms"]) if stats["latency_ms"] else None),
        "warm": stats["warm"],
        "state": stats["state"],
        "startup_bytes": total - warm_bytes,
    }


def measure_headless(rate: float, seconds: float, warmup: float) -> float:
    """CPU % of ``pairs-tui --headless`` on the same feed: what the data path costs alone."""
    exchange = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_tui", "--exchange", "--rate", str(rate)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert exchange.stdout is not None
        url, rest_url = exchange.stdout.readline().split()
        app = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pairs_tui",
                "BTCUSDT",
                "ETHUSDT",
                "--headless",
                "--url",
                url,
                "--rest-url",
                rest_url,
                "--window",
                "60",
                "--duration",
                str(warmup + seconds + 5),
            ],
            cwd=tempfile.mkdtemp(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        time.sleep(warmup)
        start = (time.monotonic(), _cpu_seconds(app.pid))
        time.sleep(seconds)
        end = (time.monotonic(), _cpu_seconds(app.pid))
        app.wait(30)
    finally:
        exchange.send_signal(signal.SIGTERM)
        exchange.wait(10)
    return 100 * (end[1] - start[1]) / (end[0] - start[0])


def report(rows: list[dict[str, object]]) -> None:
    print(
        f"{'colours':<11}{'msg/s':>7}{'app CPU':>9}{'exch CPU':>9}{'KiB/s':>7}{'fps':>6}"
        f"{'frame p50/p95/max ms':>22}{'numbers p50/p95':>17}{'plot build/s, p50/p95':>24}"
        f"{'lat ms':>8}"
    )
    for r in rows:
        f50, f95, fmax = r["frame_ms"]  # type: ignore[misc]
        n50, n95 = r["numbers_ms"]  # type: ignore[misc]
        b50, b95 = r["plot_build_ms"]  # type: ignore[misc]
        latency = r["latency_ms"]
        print(
            f"{r['colors']:<11}{r['msgs_per_s']:>7,.0f}{r['app_cpu_pct']:>8.1f}%"
            f"{r['exchange_cpu_pct']:>8.1f}%{r['kib_per_s']:>7.1f}{r['frames_per_s']:>6.1f}"
            f"{f50:>10.1f} /{f95:>5.1f} /{fmax:>5.0f}{n50:>9.2f} /{n95:>5.2f}"
            f"{r['plot_builds_per_s']:>10.1f}, {b50:>5.1f} /{b95:>5.1f}"
            f"{latency if latency is None else round(latency):>8}"
        )
        if not r["warm"]:
            print(f"  (the z-score was not warm at the end; feed state {r['state']})")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchange", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--app", nargs=2, metavar=("URL", "REST"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=5000.0, help="trades per second, total")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured span")
    parser.add_argument("--warmup", type=float, default=70.0, help="left out at the start")
    parser.add_argument(
        "--colors",
        nargs="+",
        default=["truecolor", "256"],
        choices=["truecolor", "256", "no-color"],
    )
    parser.add_argument("--dump", type=Path, help="append what the app writes after warm-up")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also run the exchange inside the app's process, as --demo does",
    )
    parser.add_argument("--demo-rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument(
        "--headless",
        action="store_true",
        help="also measure pairs-tui --headless on the same feed (no screen)",
    )
    args = parser.parse_args(argv)
    if args.exchange:
        asyncio.run(_serve(args.rate))
        return
    if args.app:
        _run_app(*args.app, args.seconds, args.warmup, args.out, args.demo_rate)
        return
    rows = []
    for colors in args.colors:
        rows.append(measure(colors, args.rate, args.seconds, args.warmup, args.dump))
        report(rows[-1:])
    if args.demo:
        rows.append(measure(args.colors[0], args.rate, args.seconds, args.warmup, None, True))
        report(rows[-1:])
    print()
    report(rows)
    if args.headless:
        cpu = measure_headless(args.rate, args.seconds, args.warmup)
        print(f"headless, same feed, no screen: {cpu:.1f}% CPU")


if __name__ == "__main__":
    main(sys.argv[1:])
