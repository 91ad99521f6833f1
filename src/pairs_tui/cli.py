"""``pairs-tui``: arguments → settings → one of: the TUI, headless mode, the backtest.

Exit codes: 0 done; 2 bad arguments or configuration (one line on stderr, no traceback);
1 anything else, with the log's path.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from pairs_tui import __version__
from pairs_tui.config import (
    DEMO_SYMBOLS,
    CommandLine,
    ConfigError,
    NotWritten,
    Options,
    UsageError,
    find_config,
    load_settings,
)
from pairs_tui.config.checks import argument_problems, parse_pair
from pairs_tui.launcher import state_dir
from pairs_tui.records import TICK, TIMEFRAMES
from pairs_tui.sinks import AlertsUndelivered

log = logging.getLogger("pairs_tui")


def build_parser() -> argparse.ArgumentParser:
    """The command line: two symbols and the options of a run, each with its help line."""
    parser = CommandLine(
        prog="pairs-tui",
        description="Watch a pair of Binance USD-M perpetual futures for stat-arb signals. "
        "`pairs-tui scan --help`: rank every pair of a universe by cointegration.",
        epilog="Keys: 1 2 3 timeframe (0 ticks) · + - window · a ADF/coint · e export · "
        "s scanner · w watchlist · p pause · ? help · ctrl+p palette · q quit",
    )
    parser.add_argument(
        "symbols",
        nargs="*",
        metavar="SYMBOL",
        help="target leg y, then hedge leg x (e.g. btcusdt ethusdt)",
    )
    parser.add_argument(
        "--demo", action="store_true", help="run offline against the embedded exchange on loopback"
    )
    parser.add_argument(
        "--replay",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="feed recorded trades or bars instead of a live socket",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=None,
        help="replay speed in trade time (0 = as fast as possible; default 0)",
    )
    parser.add_argument(
        "--headless", action="store_true", help="no screen: one JSON line per closed bar on stdout"
    )
    parser.add_argument(
        "--backtest",
        action="store_true",
        help="backtest the z-score signal on the replayed session",
    )
    parser.add_argument(
        "--from",
        dest="backtest_from",
        metavar="TIME",
        help="with --backtest: exchange history from this ISO 8601 date or time (UTC)",
    )
    parser.add_argument(
        "--to", dest="backtest_to", metavar="TIME", help="with --from: up to this time (now)"
    )
    parser.add_argument(
        "--sweep",
        nargs="+",
        metavar="KEY=V1,V2",
        help="with --backtest: every combination of window, entry_z, exit_z, stop_z, fee_bps, "
        "hedge, price",
    )
    parser.add_argument(
        "--oos",
        type=float,
        metavar="FRACTION",
        help="with --sweep: choose on the first bars, report on this held-out last share",
    )
    parser.add_argument(
        "--record", type=Path, metavar="DIR", help="also write every trade to Parquet under DIR"
    )
    parser.add_argument("--url", metavar="BASE", help="WebSocket base URL")
    parser.add_argument("--rest-url", metavar="BASE", help="REST base URL")
    parser.add_argument("--stream", choices=("aggTrade", "trade"), help="trade stream")
    parser.add_argument(
        "--timeframe",
        choices=(TICK, *TIMEFRAMES),
        help="starting timeframe (tick: one row per trade, noisy)",
    )
    parser.add_argument("--window", type=int, metavar="N", help="starting analytics window")
    parser.add_argument("--config", metavar="FILE", help="config file")
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop cleanly after this long"
    )
    parser.add_argument(
        "--watch",
        nargs="+",
        metavar="A/B",
        help="watch several pairs at once (TARGET/HEDGE each); with --headless, lines for all",
    )
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="no warm start: analytics start empty and fill as bars close",
    )
    parser.add_argument("--version", action="version", version=f"pairs-tui {__version__}")
    return parser


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Arguments over config over defaults.

    Raises:
        UsageError: arguments that parse but do not make sense together.
        ConfigError: a bad config file.
    """
    args = build_parser().parse_args(argv)
    problem = argument_problems(
        symbols=args.symbols,
        url=args.url,
        rest_url=args.rest_url,
        window=args.window,
        duration=args.duration,
        speed=args.speed,
    )
    if problem:
        raise UsageError(problem)
    config_path = find_config(args.config)
    settings = load_settings(config_path)
    if settings.keys and not (args.headless or args.backtest):
        from pairs_tui.keymap import check_keys  # Textual's key names: the TUI path only

        check_keys(settings, config_path)
    watch = _watch_pairs(args.watch or [])
    symbols = [s.upper() for s in args.symbols]
    if watch and not symbols:
        symbols = list(watch[0])
    if len(symbols) not in (0, 2):
        raise UsageError(
            f"give two symbols (target, then hedge), got {len(symbols)}: " + " ".join(args.symbols)
        )
    if not symbols:
        if not (args.demo or args.replay):
            raise UsageError("give two symbols, e.g. `pairs-tui btcusdt ethusdt`, or --demo")
        symbols = list(DEMO_SYMBOLS) if args.demo else [s.upper() for s in settings.symbols]
    if symbols[0] == symbols[1]:
        raise UsageError(f"the two legs must differ, got {symbols[0]} twice")
    if args.demo and args.replay:
        raise UsageError("--demo and --replay exclude each other")
    research = _research(args)
    if args.speed is not None and not args.replay:
        raise UsageError("--speed needs --replay")
    for path in args.replay or []:
        if not path.exists():
            raise UsageError(f"--replay {path}: no such file or directory")
    return Options(
        settings=settings,
        symbols=(symbols[0], symbols[1]),
        demo=args.demo,
        replay=list(args.replay or []),
        speed=args.speed or 0.0,
        headless=args.headless,
        backtest=args.backtest,
        record=args.record,
        url=(args.url or settings.feed.url).rstrip("/"),
        rest_url=args.rest_url or settings.feed.rest_url,
        stream=args.stream or settings.feed.stream,
        timeframe=args.timeframe or settings.bars.timeframe,
        window=args.window or settings.analytics.window,
        duration=args.duration,
        watch=tuple(dict.fromkeys(((symbols[0], symbols[1]), *watch))) if watch else (),
        history=not args.no_history,
        **research,
    )


def _research(args: argparse.Namespace) -> dict[str, Any]:
    """``--backtest``'s own options, checked (:mod:`pairs_tui.backtest.grid`).

    Raises:
        UsageError: one used without what it needs, or a bad time, key or value.
    """
    from pairs_tui.backtest.grid import check_fraction, parse_grid, parse_time

    for flag, given in (("--from", args.backtest_from), ("--sweep", args.sweep)):
        if given is not None and not args.backtest:
            raise UsageError(f"{flag} needs --backtest")
    for flag, given in (("--replay", args.replay), ("--demo", args.demo)):
        if args.backtest_from and given:
            raise UsageError(f"--from and {flag} exclude each other")
    if args.backtest_to is not None and args.backtest_from is None:
        raise UsageError("--to needs --from")
    if args.backtest and not (args.replay or args.backtest_from):
        raise UsageError("--backtest needs --replay FILE... or --from TIME")
    if args.oos is not None and not args.sweep:
        raise UsageError("--oos needs --sweep")
    start = None if args.backtest_from is None else parse_time(args.backtest_from, "--from")
    end = None if args.backtest_to is None else parse_time(args.backtest_to, "--to")
    if start is not None and end is not None and end <= start:
        raise UsageError(f"--to {args.backtest_to} must be after --from {args.backtest_from}")
    if args.sweep:
        parse_grid(args.sweep)
    return {
        "backtest_from": start,
        "backtest_to": end,
        "sweep": tuple(args.sweep or ()),
        "oos": None if args.oos is None else check_fraction(args.oos),
    }


def _watch_pairs(texts: Sequence[str]) -> list[tuple[str, str]]:
    """``--watch`` pairs, upper case.

    Raises:
        UsageError: one is not ``TARGET/HEDGE``; the message names it.
    """
    pairs = []
    for text in texts:
        try:
            pairs.append(parse_pair(text))
        except ValueError as exc:
            raise UsageError(f"--watch {exc}") from None
    return pairs


class _OneLine(logging.Formatter):
    """A record on stderr is its one line: tracebacks go to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(self.formatMessage(self._with_message(record)).split("\n"))

    @staticmethod
    def _with_message(record: logging.LogRecord) -> logging.LogRecord:
        record.message = record.getMessage()
        return record


def _setup_logging(to_stderr: bool) -> Path:
    """Log to a file always, and to stderr in headless mode. Returns the log's path.

    Calling it again (the tests run ``main`` many times in one process) replaces the handlers
    an earlier call installed instead of adding more.
    """
    folder = state_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "pairs-tui.log"
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:  # never the current folder: the temporary one, per user
        path = Path(tempfile.gettempdir()) / f"pairs-tui-{os.getuid()}.log"
        handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handlers = [handler]
    if to_stderr:
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(_OneLine("pairs-tui: %(levelname)s %(message)s"))
        err.addFilter(lambda record: not getattr(record, "file_only", False))
        handlers.append(err)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_pairs_tui", False)]:
        root.removeHandler(old)
        old.close()
    for new in handlers:
        new._pairs_tui = True  # type: ignore[attr-defined]
        root.addHandler(new)
    root.setLevel(logging.INFO)
    return path


async def run_headless(options: Options) -> None:
    """Headless mode: JSON lines on stdout until the source ends, ``--duration``, or a signal.

    With several pairs (``--watch``) every pair's lines come in bar order, then pair order.
    """
    from pairs_tui.headless import HeadlessWriter, WatchWriter
    from pairs_tui.launcher import build_desk, open_source
    from pairs_tui.sinks.delivery import build_delivery, check_delivered

    # Desktop notifications go to /dev/tty: stdout carries the JSON lines.
    delivery = build_delivery(options.settings.alerts.sinks)
    async with open_source(options) as source:
        run = build_desk(options, source, delivery=delivery)
        desk, pipelines = run.desk, run.pipelines
        writer = HeadlessWriter(sys.stdout)
        watch = WatchWriter(writer, len(pipelines)) if len(pipelines) > 1 else None
        for n, pipeline in enumerate(pipelines):
            pipeline.add_bar_listener(writer if watch is None else watch.listener(n))
        if delivery is not None:
            desk.add_companion(delivery.run)
        try:
            await _run_until_stopped(desk.run(), options.duration)
        finally:
            if watch is not None:
                watch.flush()
            if delivery is not None:  # a run can end before its companions ever start
                await delivery.close()
    check_delivered(delivery)


async def _run_until_stopped(work: Coroutine[Any, Any, None], duration: float | None) -> None:
    """Run ``work`` until it ends, ``duration`` passes, or SIGINT/SIGTERM arrives."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait(
            {task, stopper}, timeout=duration, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()
    finally:
        for pending in (task, stopper):
            pending.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run(options: Options) -> None:
    """Run what the options ask for."""
    from pairs_tui.launcher import check_symbols

    if not (options.demo or options.replay):
        asyncio.run(check_symbols(options))
    if options.backtest and options.sweep:  # --headless changes nothing in a backtest
        from pairs_tui.backtest.sweep import run_sweep_command

        run_sweep_command(options)
    elif options.backtest:
        from pairs_tui.backtest.session import run_backtest

        asyncio.run(run_backtest(options))
    elif options.headless:
        asyncio.run(run_headless(options))
    else:
        from pairs_tui.ui.run import run_app

        run_app(options)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``pairs-tui`` entry point. Returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["scan"]:
        from pairs_tui.scan_command import main as scan_main

        return scan_main(args[1:], _setup_logging)
    try:
        options = parse_options(argv)
    except (UsageError, ConfigError) as exc:
        print(f"pairs-tui: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse: --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    log_path = _setup_logging(to_stderr=options.headless or options.backtest)
    try:
        try:
            run(options)
        finally:
            _check_recorded(options)
    except UsageError as exc:
        print(f"pairs-tui: error: {exc}", file=sys.stderr)
        return 2
    except (AlertsUndelivered, NotWritten) as exc:
        log.error("%s", exc, exc_info=True, extra={"file_only": True})
        print(f"pairs-tui: error: {exc} (see {log_path})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader of our stdout went away (`| head`): it has what it wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        log.exception("pairs-tui stopped on an error", extra={"file_only": True})
        print(
            f"pairs-tui: error: {type(exc).__name__}: {exc} (details in {log_path})",
            file=sys.stderr,
        )
        return 1
    finally:
        _settle_stdout()
    return 0


def _check_recorded(options: Options) -> None:
    """Raise :class:`NotWritten` when ``--record`` could not write every trade to its folder.

    Raises:
        NotWritten: naming how many trades missed the folder and where they went.
    """
    if options.record is None:
        return
    from pairs_tui.record import take_shortfalls

    shortfalls = take_shortfalls()
    if shortfalls:
        raise NotWritten("; ".join(shortfalls))


def _settle_stdout() -> None:
    """Flush stdout now; if it cannot take more (``> /dev/full``), point it at /dev/null so
    that the interpreter's own flush at exit adds no second message and no traceback."""
    try:
        sys.stdout.flush()
    except OSError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
