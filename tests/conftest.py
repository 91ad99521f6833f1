"""Every test runs with its own XDG folders, so none reads or writes the user's, and leaves no log
handler behind; the tapes and the embedded exchanges on loopback that the exchange, feed and fault
tests share."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import TradeTape, recorded_tape


@pytest.fixture(autouse=True)
def private_xdg(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    return home


@pytest.fixture(autouse=True)
def own_log_handlers() -> Iterator[None]:
    """A test that runs ``cli.main`` in this process leaves the log handlers it installed,
    one of them on the stderr pytest captured for that test and closes after it: remove them."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_pairs_tui", False)]:
        root.removeHandler(handler)
        handler.close()


@pytest.fixture(scope="session")
def packaged_tape() -> TradeTape:
    """The real recording shipped in the package (16,656 aggregate trades)."""
    return recorded_tape()


@pytest.fixture(scope="session")
def sim_tape() -> TradeTape:
    """A small seeded simulation: 20 s of BTCUSDT/ETHUSDT at 40 and 25 arrivals a second."""
    return simulated_tape(duration_s=20.0, rate_per_s=(40.0, 25.0), seed=11)


@pytest.fixture
async def exchange(packaged_tape: TradeTape) -> AsyncIterator[EmbeddedExchange]:
    """An embedded exchange publishing the packaged tape as fast as clients read."""
    async with EmbeddedExchange(packaged_tape, speed=0) as ex:
        yield ex


@pytest.fixture
async def sim_exchange(sim_tape: TradeTape) -> AsyncIterator[EmbeddedExchange]:
    """An embedded exchange publishing the small simulation at 20 times real time (about 1 s)."""
    async with EmbeddedExchange(sim_tape, speed=20) as ex:
        yield ex
