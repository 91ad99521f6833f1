"""``pairs-tui scan``: the pair scanner from the command line.

Arguments over the config's ``[scan]`` over defaults; the scan itself is
:func:`pairs_tui.scanner.run.run_scan`. Rows go to stdout (a ranked table, or ``--json`` lines),
progress and the pairs left out to stderr, ``--output`` to a Parquet or CSV file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar, TextIO

from pairs_tui.config import CommandLine, ConfigError, UsageError, find_config, load_settings
from pairs_tui.config.settings import Settings
from pairs_tui.scanner.run import SCAN_TIMEFRAMES, BadScan, ScanReport, ScanRequest, Stage

log = logging.getLogger("pairs_tui")

TABLE_ROWS = 100
"""Rows the table shows; ``--json`` and ``--output`` have them all."""


def build_parser() -> argparse.ArgumentParser:
    """The ``scan`` subcommand's arguments."""
    parser = CommandLine(
        prog="pairs-tui scan",
        description="Rank every pair of a universe of USD-M perpetuals by Engle-Granger "
        "cointegration (statsmodels' coint, exactly), best first.",
    )
    parser.add_argument(
        "symbols", nargs="*", metavar="SYMBOL", help="the universe (default: --top N by volume)"
    )
    parser.add_argument(
        "--top", type=int, metavar="N", help="the N USDT perpetuals with most 24 h quote volume"
    )
    parser.add_argument("--timeframe", choices=SCAN_TIMEFRAMES, help="bar timeframe")
    parser.add_argument("--bars", type=int, metavar="N", help="the last N closed bars")
    parser.add_argument("--json", action="store_true", help="one JSON object a line on stdout")
    parser.add_argument(
        "--output", type=Path, metavar="FILE", help="also write the rows to FILE.parquet or .csv"
    )
    parser.add_argument(
        "--screen",
        type=int,
        metavar="K",
        help="test exactly only the K pairs a cheap lag-0 statistic ranks best (default: all)",
    )
    parser.add_argument("--engine", choices=("local", "dask"), help="where the pairs are tested")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler (default: local)")
    parser.add_argument("--demo", action="store_true", help="scan the embedded exchange's universe")
    parser.add_argument("--url", metavar="BASE", help="WebSocket base URL")
    parser.add_argument("--rest-url", metavar="BASE", help="REST base URL")
    parser.add_argument("--config", metavar="FILE", help="config file")
    return parser


def parse_request(argv: Sequence[str]) -> tuple[argparse.Namespace, Settings, ScanRequest]:
    """Arguments over ``[scan]`` over defaults.

    Raises:
        UsageError: Arguments that parse but are wrong (a bad symbol, count or file name).
        ConfigError: A bad config file.
        SystemExit: ``--help`` or an argparse error (already printed).
    """
    from pairs_tui.scanner.output import output_format

    args = build_parser().parse_args(argv)
    settings = load_settings(find_config(args.config))
    conf = settings.scan
    if args.output is not None:
        try:
            output_format(args.output)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if args.scheduler and (args.engine or conf.engine) != "dask":
        raise UsageError("--scheduler needs --engine dask")
    try:
        request = ScanRequest(
            symbols=tuple(args.symbols or conf.symbols),
            top=conf.top if args.top is None else args.top,
            timeframe=args.timeframe or conf.timeframe,
            bars=conf.bars if args.bars is None else args.bars,
            engine=args.engine or conf.engine,
            scheduler=args.scheduler or conf.scheduler or None,
            price=settings.analytics.price,
            carry=settings.carry.enabled,
            screen=args.screen,
        )
    except BadScan as exc:
        raise UsageError(str(exc)) from None
    return args, settings, request


def main(argv: Sequence[str], setup_logging: Callable[[bool], Path]) -> int:
    """``pairs-tui scan ...``. Returns the exit code."""
    try:
        args, settings, request = parse_request(argv)
    except (UsageError, ConfigError) as exc:
        print(f"pairs-tui: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    log_path = setup_logging(False)
    try:
        report = asyncio.run(_scan(args, settings, request))
    except (BadScan, UsageError) as exc:
        print(f"pairs-tui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.exception("pairs-tui scan stopped on an error")
        print(
            f"pairs-tui: error: {type(exc).__name__}: {exc} (details in {log_path})",
            file=sys.stderr,
        )
        return 1
    return _emit(report, args, log_path)


def _emit(report: ScanReport, args: argparse.Namespace, log_path: Path) -> int:
    """Rows to stdout, the summary to stderr, the file if asked for. Returns the exit code."""
    from pairs_tui.scanner.output import write_json_lines, write_table

    if args.json:
        write_json_lines(report.records(), sys.stdout)
    else:
        print_table(report, sys.stdout)
    result = report.result
    summary = f"{len(result.rows)} pairs ranked of {result.pairs} ({len(report.universe)} symbols)"
    print(f"pairs-tui: {summary}", file=sys.stderr)
    left = report.left_out_summary()
    if left:
        print(f"pairs-tui: {left}", file=sys.stderr)
    for note in report.notes:
        print(f"pairs-tui: {note}", file=sys.stderr)
    if args.output is not None:
        try:
            write_table(report.frame(), args.output)
        except OSError as exc:
            log.error("could not write %s: %s", args.output, exc)
            print(
                f"pairs-tui: error: could not write {args.output}: {exc.strerror or exc} "
                f"(details in {log_path})",
                file=sys.stderr,
            )
            return 1
        print(f"pairs-tui: wrote {len(result.rows)} rows to {args.output}", file=sys.stderr)
    return 0


async def _scan(args: argparse.Namespace, settings: Settings, request: ScanRequest) -> ScanReport:
    """Run the scan against the exchange the arguments name (or the embedded one)."""
    from pairs_tui.feed.rest import BinanceRest
    from pairs_tui.feed.routes import rest_url_for
    from pairs_tui.history import HistoryStore, history_root
    from pairs_tui.scanner.run import run_scan

    store = HistoryStore(history_root(settings.history.folder))
    progress = StderrProgress(sys.stderr)
    if args.demo:
        from pairs_tui.exchange.market import simulated_market
        from pairs_tui.exchange.server import EmbeddedExchange

        market = simulated_market(seed=settings.demo.seed)
        # The demo's market is made up: its bars must never join the real store.
        with tempfile.TemporaryDirectory(prefix="pairs-tui-demo-history-") as folder:
            async with EmbeddedExchange(
                market, speed=1.0, rebase=True, wait_for_subscriber=False
            ) as ex:
                rest = BinanceRest(ex.rest_url)
                try:
                    return await run_scan(rest, HistoryStore(folder), request, progress=progress)
                finally:
                    await rest.aclose()
    url = (args.url or settings.feed.url).rstrip("/")
    rest = BinanceRest(rest_url_for(url, args.rest_url or settings.feed.rest_url))
    try:
        return await run_scan(rest, store, request, progress=progress)
    finally:
        await rest.aclose()


class StderrProgress:
    """Progress on stderr: one line per stage, redrawn in place on a terminal."""

    LINES: ClassVar[dict[Stage, str]] = {
        "history": "history {done}/{total} requests",
        "pairs": "pairs {done}/{total} tested",
        "carry": "funding rates {done}/{total}",
    }
    """What each stage says (choosing the universe is quick: it says nothing)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._tty = out.isatty()

    def __call__(self, stage: Stage, done: int, total: int) -> None:
        text = self.LINES.get(stage)
        if text is None:
            return
        line = "pairs-tui: " + text.format(done=done, total=total)
        if self._tty:
            self.out.write(f"\r{line}" + ("\n" if done >= total else ""))
        elif done >= total:
            self.out.write(f"{line}\n")
        self.out.flush()


def print_table(report: ScanReport, out: TextIO) -> None:
    """The ranked rows as a table (the first :data:`TABLE_ROWS`)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    headings = ("#", "y", "x", "p", "p rev", "t", "lags", "beta", "half-life", "corr", "z")
    for heading in headings:
        table.add_column(heading, justify="left" if heading in ("y", "x") else "right")
    table.add_column("carry bp/d", justify="right")
    for record in report.records()[:TABLE_ROWS]:
        half = record["half_life"]
        carry = record["carry_bp_day"]
        table.add_row(
            str(record["rank"]),
            record["symbol_a"],
            record["symbol_b"],
            f"{record['coint_p']:.4f}",
            f"{record['coint_p_reverse']:.4f}",
            f"{record['coint_t']:.2f}",
            str(record["coint_lags"]),
            f"{record['beta']:.3f}",
            "-" if half is None else f"{half:.1f}",
            f"{record['corr']:.2f}",
            f"{record['resid_z']:+.2f}",
            "-" if carry is None else f"{carry:+.2f}",
        )
    Console(file=out, width=120 if not out.isatty() else None).print(table)
    more = len(report.result.rows) - TABLE_ROWS
    if more > 0:
        print(f"pairs-tui: {more} more rows: --json or --output has them all", file=sys.stderr)
