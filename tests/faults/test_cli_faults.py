"""The command line end to end: faults on a live connection, and odd files given to --replay.

``pairs_tui.cli.main`` runs in the test's own thread, as a user's process would (it owns its
event loop and its signal handlers); the exchange runs in a thread of its own.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pairs_tui.cli import main
from pairs_tui.exchange.faults import Faults
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from sources import ENVELOPES, FIXTURES, SESSION

from .conftest import PAIR


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean working folder and XDG homes; the root logger's handlers put back after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield tmp_path
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    """``main(argv)``: exit code, stdout lines, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


class ExchangeThread:
    """An embedded exchange on its own event loop in a thread.

    Args:
        faults: The faults to show; a test may change its fields while the CLI runs.
    """

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.loop = asyncio.new_event_loop()
        self.exchange: EmbeddedExchange | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exchange", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        tape = simulated_tape(PAIR, duration_s=600.0, rate_per_s=(40.0, 25.0), seed=31)
        self.exchange = EmbeddedExchange(tape, speed=5, rebase=True, faults=self.faults)
        self.loop.run_until_complete(self.exchange.start())
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.exchange.stop())
        self.loop.close()

    def __enter__(self) -> EmbeddedExchange:
        self._thread.start()
        assert self._ready.wait(10), "the exchange did not start"
        assert self.exchange is not None
        return self.exchange

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def feed_of(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line)["feed"] for line in lines]


def test_headless_live_run_reconnects_and_says_so(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = Faults(drop_after_messages=400)  # a TCP reset a little over every second
    with ExchangeThread(faults) as ex:
        code, lines, err = run_cli(
            capsys, "btcusdt", "ethusdt", "--headless", "--url", ex.url, "--duration", "4"
        )
    assert code == 0, err
    feeds = feed_of(lines)
    assert len(lines) >= 5 and feeds[-1]["reconnects"] >= 1
    assert all(f["gaps"] == 0 and f["late"] == 0 and f["malformed"] == 0 for f in feeds)
    stamps = [json.loads(line)["ts"] for line in lines]
    assert stamps == list(range(stamps[0], stamps[0] + 1_000 * len(stamps), 1_000))
    assert "connection lost (no close frame" in err and "reconnecting in" in err


def test_headless_live_run_counts_gaps_rest_cannot_fill(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = Faults(skip_every=50, rest_unavailable=True)
    with ExchangeThread(faults) as ex:
        code, lines, err = run_cli(
            capsys, "btcusdt", "ethusdt", "--headless", "--url", ex.url, "--duration", "3"
        )
    assert code == 0, err
    gaps = [f["gaps"] for f in feed_of(lines)]
    assert gaps == sorted(gaps) and gaps[-1] > 0
    assert "could not be recovered" in err


# -- files users give --replay ---------------------------------------------------------------


def archive_rows(symbol: str) -> tuple[str, list[str]]:
    """Session B of one symbol as Binance's archive CSV: header and rows."""
    path = FIXTURES / f"{SESSION}_{symbol}-trades.vision-style.csv.gz"
    header, *rows = gzip.decompress(path.read_bytes()).decode().splitlines()
    return header, rows


def write_pair(folder: Path, name: str, make: Callable[[str, str, list[str]], str]) -> list[Path]:
    """One archive CSV per leg, named as Binance names them, with content from ``make``."""
    paths = []
    for symbol in PAIR:
        header, rows = archive_rows(symbol)
        path = folder / f"{symbol}-trades-{name}.csv"
        path.write_text(make(symbol, header, rows))
        paths.append(path)
    return paths


def clean(symbol: str, header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def microseconds(symbol: str, header: str, rows: list[str]) -> str:
    out = []
    for row in rows:
        f = row.split(",")
        f[4] = str(int(f[4]) * 1000)
        out.append(",".join(f))
    return "\n".join([header, *out]) + "\n"


def shuffled(symbol: str, header: str, rows: list[str]) -> str:
    rows = rows[:]
    random.Random(symbol).shuffle(rows)  # monthly archives interleave id sequences
    return "\n".join([header, *rows]) + "\n"


def headerless(symbol: str, header: str, rows: list[str]) -> str:
    return "\n".join(rows) + "\n"  # archives up to 2022-08-10 have no header


_CLEAN: list[list[str]] = []
"""The headless lines of session B from clean archive files, computed once."""


def clean_lines(folder: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    if not _CLEAN:
        paths = write_pair(folder, "clean", clean)
        code, lines, err = run_cli(
            capsys, "btcusdt", "ethusdt", "--headless", "--replay", *map(str, paths)
        )
        assert code == 0 and len(lines) > 300, err
        _CLEAN.append(lines)
    return _CLEAN[0]


@pytest.mark.parametrize("make", [microseconds, shuffled, headerless])
def test_files_binance_archives_produce_give_the_same_bars(
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[str, str, list[str]], str],
) -> None:
    expected = clean_lines(cli_env, capsys)
    paths = write_pair(cli_env, make.__name__, make)
    code, lines, err = run_cli(
        capsys, "btcusdt", "ethusdt", "--headless", "--replay", *map(str, paths)
    )
    assert code == 0, err
    assert lines == expected


def truncated_gzip(folder: Path) -> list[Path]:
    whole = ENVELOPES.read_bytes()
    path = folder / "session.ndjson.gz"
    path.write_bytes(whole[: len(whole) // 2])
    return [path]


def wrong_columns(folder: Path) -> list[Path]:
    return write_pair(folder, "wrong", lambda s, h, r: "a,b,c\n1,2,3\n")


def missing_column(folder: Path) -> list[Path]:
    def make(symbol: str, header: str, rows: list[str]) -> str:
        keep = [0, 1, 2, 3, 5]  # no time (quote_qty alone may go: nothing needs it)
        cut = [",".join(row.split(",")[i] for i in keep) for row in rows[:20]]
        return "id,price,qty,quote_qty,is_buyer_maker\n" + "\n".join(cut) + "\n"

    return write_pair(folder, "missing", make)


def empty_file(folder: Path) -> list[Path]:
    return write_pair(folder, "empty", lambda s, h, r: "")


def other_symbols(folder: Path) -> list[Path]:
    path = folder / "solusdt.ndjson"
    frame = (
        '{{"stream":"solusdt@aggTrade","data":{{"e":"aggTrade","E":{t},"a":{a},'
        '"s":"SOLUSDT","p":"145.1","q":"1","f":1,"l":1,"T":{t},"m":false}}}}'
    )
    path.write_text("\n".join(frame.format(t=1723161256000 + i, a=i) for i in range(50)))
    return [path]


@pytest.mark.parametrize(
    "make", [truncated_gzip, wrong_columns, missing_column, empty_file, other_symbols]
)
def test_a_file_that_cannot_be_used_is_exit_2_and_one_line_naming_it(
    cli_env: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], list[Path]]
) -> None:
    paths = make(cli_env)
    code, lines, err = run_cli(
        capsys, "btcusdt", "ethusdt", "--headless", "--replay", *map(str, paths)
    )
    assert code == 2 and lines == []
    assert err.count("\n") == 1 and err.startswith("pairs-tui: error: ")
    assert "Traceback" not in err
    assert any(str(path) in err for path in paths), err
