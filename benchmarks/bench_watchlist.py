"""The watchlist under a busy feed: 20 pairs at 1s bars, the TUI at 160x50 with ``w`` open.

Three processes, as in :mod:`benchmarks.bench_tui`:

- the **exchange**: the embedded Binance-compatible exchange publishing the simulated universe
  (13 USDT perpetuals, :mod:`pairs_tui.exchange.universe`) with every symbol's trade rate scaled
  so that all of them together publish ``--rate`` aggregate trades a second, in real time;
- the **app**: ``pairs-tui --watch A/B ... --url ws://... --window 60 --no-history`` under a
  pseudo-terminal of 160x50, with the watchlist screen opened at start;
- this **harness**: drains the pty (counting bytes) and takes the app's CPU from ``/proc``:
  process time over wall time, after ``--warmup`` seconds (connection, the 60-bar window).

The same run measures, on the same exchange, a baseline: the single-pair monitor (``pairs-tui
BTCUSDT ETHUSDT``), and the 20 pairs with the monitor shown instead of the watchlist (what the
data path of 20 pairs costs with the screen the same as the baseline's).

Budget (issue 14): the watchlist of 20 pairs under 25% of one core.

    python -m benchmarks.bench_watchlist                 # about 5 minutes
    python -m benchmarks.bench_watchlist --seconds 30 --warmup 70 --rate 2000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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
PAIR_COUNT = 20
MODES = ("monitor-1", "monitor-20", "watchlist-20")
"""What the app shows: the monitor of one pair, the monitor with 20 pairs on the desk, the
watchlist of 20 pairs."""


def watch_pairs(count: int = PAIR_COUNT) -> list[tuple[str, str]]:
    """The universe's four cointegrated pairs, then other pairs of its symbols (legs shared)."""
    from pairs_tui.exchange.universe import PAIRS, UNIVERSE

    pairs = [(p.y, p.x) for p in PAIRS]
    symbols = [m.spec.symbol for m in UNIVERSE]
    for a, b in itertools.combinations(symbols, 2):
        if len(pairs) >= count:
            break
        if (a, b) not in pairs and (b, a) not in pairs:
            pairs.append((a, b))
    return pairs[:count]


# -- the exchange process ----------------------------------------------------------------------


def _market(rate: float) -> object:
    """The universe trading ``rate`` aggregate trades a second in total, without end."""
    import msgspec

    from pairs_tui.exchange.market import SimulatedMarket
    from pairs_tui.exchange.universe import PAIRS, UNIVERSE

    scale = rate / sum(m.rate_per_s for m in UNIVERSE)
    members = [msgspec.structs.replace(m, rate_per_s=m.rate_per_s * scale) for m in UNIVERSE]
    return SimulatedMarket(members, PAIRS, past_s=600, start_ms=round(time.time() * 1000))


async def _serve(rate: float) -> None:
    from pairs_tui.exchange.server import EmbeddedExchange

    exchange = EmbeddedExchange(_market(rate), speed=1.0, rebase=True, loop=True)  # type: ignore[arg-type]
    await exchange.start()
    print(exchange.url, exchange.rest_url, flush=True)
    await asyncio.Event().wait()


# -- the app process ---------------------------------------------------------------------------


def _run_app(
    url: str,
    rest_url: str,
    mode: str,
    seconds: float,
    warmup: float,
    out: Path,
    refresh_hz: float,
    profile: Path | None = None,
) -> None:
    from textual.screen import Screen

    from pairs_tui.config import Options, Settings
    from pairs_tui.ui.run import make_app
    from pairs_tui.ui.screens.watchlist import WatchlistScreen

    calls: dict[str, list[float]] = {"frame": [], "rows": []}

    def timed(owner: type, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                calls[label].append(time.perf_counter() - started)

        setattr(owner, name, wrapper)

    timed(Screen, "_on_timer_update", "frame")
    timed(WatchlistScreen, "refresh_rows", "rows")
    pairs = watch_pairs() if mode.endswith("-20") else watch_pairs()[:1]
    settings = Settings()
    settings.ui.refresh_hz = refresh_hz
    options = Options(
        settings=settings,
        symbols=pairs[0],
        url=url,
        rest_url=rest_url,
        window=60,
        duration=warmup + seconds,
        watch=tuple(pairs) if len(pairs) > 1 else (),
        history=False,
    )
    app = make_app(options)
    marks: dict[str, float] = {}

    def messages() -> int:
        source = None if app.running is None else app.running.desk.source
        return 0 if source is None else source.status.messages

    def mark_warm() -> None:
        for samples in calls.values():
            samples.clear()
        marks["messages"] = messages()
        marks["time"] = time.monotonic()

    if mode.startswith("watchlist"):
        app.call_later(app.action_watchlist)
    app.call_later(lambda: app.set_timer(warmup, mark_warm))
    if profile is None:
        app.run()
    else:  # the whole run, warm-up included, as pyinstrument's text report
        from pyinstrument import Profiler

        with Profiler(interval=0.001, async_mode="disabled") as profiler:
            app.run()
        profile.write_text(profiler.output_text(unicode=True, show_all=False))
    elapsed = time.monotonic() - marks.get("time", time.monotonic())
    warm = [
        p.snapshot().latest is not None and p.snapshot().latest.stats.zscore is not None  # type: ignore[union-attr]
        for p in app.pipelines.values()
    ]
    result = {
        "calls": calls,
        "elapsed": elapsed,
        "messages": messages() - marks.get("messages", 0),
        "pairs": len(app.pipelines),
        "warm": sum(warm),
    }
    out.write_text(json.dumps(result))


# -- the harness -------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(
    url: str,
    rest_url: str,
    mode: str,
    seconds: float,
    warmup: float,
    *,
    refresh_hz: float = 10.0,
    dump: Path | None = None,
    profile: Path | None = None,
) -> dict[str, object]:
    """One app run under a 160x50 pty: its CPU and bytes after the warm-up (``dump``: append
    them to that file)."""
    stats_file = Path(tempfile.mkstemp(suffix=".json")[1])
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR")}
    env.update(TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(ROOT))
    env["LINES"], env["COLUMNS"] = str(SIZE[1]), str(SIZE[0])
    argv = [sys.executable, "-m", "benchmarks.bench_watchlist", "--app", url, rest_url, mode]
    argv += ["--seconds", str(seconds), "--warmup", str(warmup), "--out", str(stats_file)]
    argv += ["--refresh-hz", str(refresh_hz)]
    if profile is not None:
        argv += ["--profile", str(profile.resolve())]
    pid, fd = pty.fork()
    if pid == 0:  # the app
        import fcntl
        import struct
        import termios

        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        os.chdir(tempfile.mkdtemp())
        os.execve(sys.executable, argv, env)
    started = time.monotonic()
    warm_bytes = 0
    tail = b""
    first: tuple[float, float] | None = None
    last: tuple[float, float] | None = None
    while True:
        ready, _, _ = select.select([fd], [], [], 0.25)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            tail = (tail + data)[-4096:]
            if first is not None:
                warm_bytes += len(data)
                if dump is not None:
                    with dump.open("ab") as raw:
                        raw.write(data)
        now = time.monotonic()
        try:
            sample = (now, _cpu_seconds(pid))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if first is None and now - started >= warmup:
            first = sample
        if first is not None:
            last = sample
    os.waitpid(pid, 0)
    if not stats_file.read_text():
        raise RuntimeError(f"the app ({mode}) failed: {tail.decode(errors='replace')[-2000:]}")
    stats = json.loads(stats_file.read_text())
    stats_file.unlink()
    assert first is not None and last is not None
    span = last[0] - first[0]
    frames = [1000 * s for s in stats["calls"]["frame"]]
    rows = [1000 * s for s in stats["calls"]["rows"]]
    return {
        "mode": mode,
        "pairs": stats["pairs"],
        "warm": stats["warm"],
        "msgs_per_s": stats["messages"] / max(stats["elapsed"], 1e-9),
        "cpu_pct": 100 * (last[1] - first[1]) / span,
        "kib_per_s": warm_bytes / 1024 / span,
        "frames_per_s": len(frames) / max(stats["elapsed"], 1e-9),
        "frame_p50_ms": statistics.median(frames) if frames else float("nan"),
        "rows_p50_ms": statistics.median(rows) if rows else None,
        "span_s": span,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchange", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--app", nargs=3, metavar=("URL", "REST", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=2000.0, help="trades per second, total")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured span")
    parser.add_argument("--warmup", type=float, default=70.0, help="left out at the start")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--refresh-hz", type=float, default=10.0, help="ui.refresh_hz")
    parser.add_argument("--dump", type=Path, help="append what the app writes after warm-up")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument report of the app")
    args = parser.parse_args(argv)
    if args.exchange:
        asyncio.run(_serve(args.rate))
        return
    if args.app:
        url, rest_url, mode = args.app
        _run_app(
            url, rest_url, mode, args.seconds, args.warmup, args.out, args.refresh_hz, args.profile
        )
        return
    exchange = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_watchlist",
            "--exchange",
            "--rate",
            str(args.rate),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert exchange.stdout is not None
        url, rest_url = exchange.stdout.readline().split()
        rows = [
            measure(
                url,
                rest_url,
                m,
                args.seconds,
                args.warmup,
                refresh_hz=args.refresh_hz,
                dump=args.dump,
                profile=args.profile,
            )
            for m in args.modes
        ]
    finally:
        exchange.send_signal(signal.SIGTERM)
        exchange.wait(10)
    base = next((r for r in rows if r["mode"] == "monitor-1"), None)
    print(
        f"feed: the simulated universe at {args.rate:,.0f} aggregate trades/s; 160x50, "
        f"truecolor; ui.refresh_hz {args.refresh_hz:g}"
    )
    print(
        f"{'mode':<14}{'pairs':>6}{'warm':>5}{'msg/s':>8}{'CPU':>8}{'x base':>8}"
        f"{'KiB/s':>7}{'fps':>6}{'frame p50':>10}{'rows p50':>9}"
    )
    for r in rows:
        ratio = "" if base is None else f"{r['cpu_pct'] / base['cpu_pct']:.2f}"  # type: ignore[operator]
        rows_ms = "" if r["rows_p50_ms"] is None else f"{r['rows_p50_ms']:.2f}"
        print(
            f"{r['mode']:<14}{r['pairs']:>6}{r['warm']:>5}{r['msgs_per_s']:>8,.0f}"
            f"{r['cpu_pct']:>7.1f}%{ratio:>8}{r['kib_per_s']:>7.1f}{r['frames_per_s']:>6.1f}"
            f"{r['frame_p50_ms']:>8.1f}ms{rows_ms:>9}"
        )
    watch = next((r for r in rows if r["mode"] == "watchlist-20"), None)
    if watch is not None:
        verdict = "within" if watch["cpu_pct"] < 25.0 else "OVER"  # type: ignore[operator]
        print(f"watchlist of 20 pairs: {watch['cpu_pct']:.1f}% of a core, {verdict} the 25% budget")


if __name__ == "__main__":
    main(sys.argv[1:])
