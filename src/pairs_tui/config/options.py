"""What one run does: the command line's arguments over the config's settings.

The CLI fills :class:`Options` from its arguments and :class:`~pairs_tui.config.settings.Settings`;
the TUI, headless mode and the backtest all start from it (:mod:`pairs_tui.launcher`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from pairs_tui.config.checks import parse_pair
from pairs_tui.config.settings import Settings, StreamKind
from pairs_tui.records import Timeframe

DEMO_SYMBOLS = ("BTCUSDT", "ETHUSDT")
"""The pair of the recording that ships with the package."""


class CommandLine(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr, naming the command, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class UsageError(Exception):
    """A bad argument or input, reported in one line with exit code 2."""


class NotWritten(Exception):
    """Something the run was asked to write (a recording, an export) is not all on disk.

    The message is one line naming what was lost and where the rest went; the run exits 1.
    """


@dataclass
class Options:
    """Everything that decides what a run does; the CLI fills it from arguments and config."""

    settings: Settings
    """The config file's settings (defaults where it is silent)."""
    symbols: tuple[str, str]
    """The pair, target leg first."""
    demo: bool = False
    """Run against the embedded exchange on loopback."""
    replay: list[Path] = field(default_factory=list)
    """Recorded trades or bars to feed instead of a live socket."""
    speed: float = 0.0
    """Replay speed in trade time; 0 as fast as possible."""
    headless: bool = False
    """No screen: one JSON line per closed bar on stdout."""
    backtest: bool = False
    """Backtest the z-score signal on the replayed session."""
    record: Path | None = None
    """Also write every trade to Parquet under this folder."""
    url: str = "wss://fstream.binance.com"
    """WebSocket base URL."""
    rest_url: str | None = None
    """REST base URL; None derives it from ``url``."""
    stream: StreamKind = "aggTrade"
    """The trade stream subscribed to."""
    timeframe: Timeframe = "1s"
    """The timeframe shown at start."""
    window: int = 300
    """The analytics window at start."""
    duration: float | None = None
    """Stop cleanly after this many seconds; None runs until the source ends or the user quits."""
    watch: tuple[tuple[str, str], ...] = ()
    """The pairs of ``--watch`` (the monitored pair is the first); empty without it."""
    history: bool = True
    """Warm start from exchange history (``--no-history`` turns it off)."""
    backtest_from: int | None = None
    """``--backtest --from``: backtest exchange history from this time, ms UTC."""
    backtest_to: int | None = None
    """``--to``: bars before this time, ms UTC; None is now."""
    sweep: tuple[str, ...] = ()
    """``--sweep KEY=V1,V2,...`` terms: backtest every combination."""
    oos: float | None = None
    """``--oos FRACTION``: pick the sweep's best on the rest, report it on this last share."""

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every pair the run follows: ``--watch``'s, or the monitored pair and, on screen,
        the config's watchlist (headless output is for the pairs asked for on the command
        line only)."""
        if self.watch:
            return self.watch
        listed = () if self.headless else map(parse_pair, self.settings.watchlist.pairs)
        return tuple(dict.fromkeys((self.symbols, *listed)))
