"""Gap recovery over REST, driven as the client's read loop drives it, against the embedded
exchange over a real loopback socket.

Each test publishes the tape with nobody subscribed, so every trade is in the exchange's history
only, then tells the backfill what the live stream saw: a jump in ids, or a lost connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pairs_tui.exchange.faults import Faults
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TapeTrade, TradeTape
from pairs_tui.feed import backfill
from pairs_tui.feed.backfill import Backfill, Leg
from pairs_tui.feed.rest import MAX_AGG_TRADES_LIMIT, BinanceRest

from .conftest import Recorder

SYMBOL = "BTCUSDT"


@pytest.fixture
async def published(packaged_tape: TradeTape) -> AsyncIterator[EmbeddedExchange]:
    """An exchange that has published the whole packaged tape into its history."""
    async with EmbeddedExchange(packaged_tape, speed=0, wait_for_subscriber=False) as ex:
        await ex.wait_until(ex.finished.is_set)
        yield ex


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry pauses of milliseconds rather than 0.2 and 0.4 s."""
    monkeypatch.setattr(backfill, "PAUSE_S", 0.001)


class Harness:
    """A backfill, its sink and what it reported, on one leg that has delivered up to a trade.

    Args:
        ex: The exchange.
        last: The last trade the live stream delivered.
    """

    def __init__(self, ex: EmbeddedExchange, last: TapeTrade) -> None:
        self.sink = Recorder()
        self.reports: list[str] = []
        self.backfill = Backfill(BinanceRest(ex.rest_url), self.reports.append)
        self.backfill.sink = self.sink
        self.leg = Leg(SYMBOL, "btcusdt@aggTrade")
        self.leg.last_id, self.leg.last_time = last.id, last.time
        self.ex = ex

    async def settled(self) -> None:
        """Wait until nothing about the leg is unknown: no backfill running, no hold."""
        await self.sink.wait_until(lambda: self.leg.task is None and not self.sink.held())

    def pages(self) -> list[str]:
        """The ``/fapi/v1/aggTrades`` requests the exchange received."""
        return [r for r in self.ex.requests if r.startswith("/fapi/v1/aggTrades?")]


async def test_a_gap_is_recovered_exactly_once_in_id_order(published: EmbeddedExchange) -> None:
    history = published.history(SYMBOL)
    run = Harness(published, history[99])
    # The live stream jumps from trade 99 to trade 2,600: 2,500 missing, three pages.
    run.backfill.gap(run.leg, history[99].id, history[2600].id, fetch=True)
    run.leg.last_id = history[2600].id
    await run.settled()
    assert [t.id for t in run.sink.trades] == [t.id for t in history[100:2600]]
    assert (run.backfill.recovered, run.backfill.lost) == (2500, 0)
    assert run.sink.events == [("hold", SYMBOL, history[99].time), ("release", SYMBOL, None)]
    assert len(run.pages()) == 3
    assert run.reports[-1] == f"backfilled 2500 {SYMBOL} trades over REST"


async def test_small_gaps_are_fetched_together_and_what_came_live_is_skipped(
    published: EmbeddedExchange,
) -> None:
    history = published.history(SYMBOL)
    run = Harness(published, history[9])
    ids = [t.id for t in history]
    # Two jumps before the backfill runs: 10-12 missing, 13-19 came live, 20-25 missing.
    run.backfill.gap(run.leg, ids[9], ids[13], fetch=True)
    run.backfill.gap(run.leg, ids[19], ids[26], fetch=True)
    run.leg.last_id = ids[26]
    await run.settled()
    assert [t.id for t in run.sink.trades] == ids[10:13] + ids[20:26]
    assert (run.backfill.recovered, run.backfill.lost) == (9, 0)
    assert run.pages() == [f"/fapi/v1/aggTrades?symbol={SYMBOL}&fromId={ids[10]}&limit=16"]


async def test_a_reconnection_catches_up_on_everything_published_meanwhile(
    published: EmbeddedExchange,
) -> None:
    history = published.history(SYMBOL)
    run = Harness(published, history[99])
    run.backfill.connection_lost(run.leg)
    assert run.sink.held() == {SYMBOL}  # from the moment the connection is lost
    run.backfill.connected(run.leg)
    await run.settled()
    assert [t.id for t in run.sink.trades] == [t.id for t in history[100:]]
    assert (run.backfill.recovered, run.backfill.lost) == (len(history) - 100, 0)
    assert (run.leg.last_id, run.leg.last_time) == (history[-1].id, history[-1].time)
    assert not run.leg.resuming and not run.leg.catching_up
    assert run.sink.events == [("hold", SYMBOL, history[99].time), ("release", SYMBOL, None)]
    pages = run.pages()
    assert len(pages) == (len(history) - 100) // MAX_AGG_TRADES_LIMIT + 1
    assert run.reports[-1] == f"caught up {SYMBOL} over REST after the reconnection"


async def test_a_reconnection_with_nothing_missed_releases_after_one_page(
    published: EmbeddedExchange,
) -> None:
    history = published.history(SYMBOL)
    run = Harness(published, history[-1])
    run.backfill.connection_lost(run.leg)
    run.backfill.connected(run.leg)
    await run.settled()
    assert run.sink.trades == []
    assert (run.backfill.recovered, run.backfill.lost) == (0, 0)
    assert run.pages() == [
        f"/fapi/v1/aggTrades?symbol={SYMBOL}&fromId={history[-1].id + 1}&limit=1000"
    ]


async def test_rest_down_counts_the_range_as_lost_and_releases_the_bars(
    packaged_tape: TradeTape,
) -> None:
    faults = Faults(rest_unavailable=True)
    async with EmbeddedExchange(
        packaged_tape, speed=0, wait_for_subscriber=False, faults=faults
    ) as ex:
        await ex.wait_until(ex.finished.is_set)
        history = ex.history(SYMBOL)
        run = Harness(ex, history[9])
        ids = [t.id for t in history]
        # Two ranges more than a page apart: the second is counted with the first's failure
        # rather than tried again.
        run.backfill.gap(run.leg, ids[9], ids[13], fetch=True)
        run.backfill.gap(run.leg, ids[13], ids[3000], fetch=True)
        run.leg.last_id = ids[3000]
        await run.settled()
        assert run.sink.trades == []
        assert (run.backfill.recovered, run.backfill.lost) == (0, 3 + 2986)
        assert run.sink.events == [("hold", SYMBOL, history[9].time), ("release", SYMBOL, None)]
        assert len(run.pages()) == backfill.RETRIES  # the 503 is retried, then given up
        assert run.reports[-1] == (
            f"backfilled 0 {SYMBOL} trades over REST; 2989 could not be recovered"
        )


async def test_a_gap_of_individual_trades_is_counted_not_fetched(
    published: EmbeddedExchange,
) -> None:
    history = published.history(SYMBOL)
    run = Harness(published, history[9])
    run.backfill.gap(run.leg, history[9].id, history[15].id, fetch=False)
    assert (run.backfill.recovered, run.backfill.lost) == (0, 5)
    assert run.sink.events == [] and run.pages() == []
    assert run.reports == [f"5 {SYMBOL} trades missed (ids {history[10].id}-{history[14].id})"]
