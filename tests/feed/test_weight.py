"""The request-weight budget, 429s and bans, against the embedded exchange's own accounting of
weight per UTC minute, over a real loopback socket."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.feed.errors import IpBanned, RateLimited
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.feed.weight import WeightBudget, kline_weight, weight_of

from .conftest import FeedStarter, Recorder


class ShiftedClock:
    """A wall clock (seconds) that runs at real speed, shifted so that a UTC minute ends
    ``seconds`` from now (the weight window rolls during the test, not a minute later); a test
    moves it on by :meth:`skip`.

    Args:
        seconds: How far from now the current minute ends.
    """

    def __init__(self, seconds: float) -> None:
        now = time.time()
        self.shift = (math.floor(now / 60.0) + 1) * 60.0 - seconds - now

    def __call__(self) -> float:
        return time.time() + self.shift

    def ms(self) -> float:
        """The clock in ms, for the client's budget."""
        return self() * 1000.0

    def skip(self, seconds: float) -> None:
        """Move the clock on."""
        self.shift += seconds


def test_each_endpoint_weighs_what_binance_says() -> None:
    limits = (1, 99, 100, 499, 500, 1000, 1001, 1500)
    assert [kline_weight(n) for n in limits] == [1, 1, 2, 2, 5, 5, 10, 10]
    assert weight_of("/fapi/v1/aggTrades", {"symbol": "X", "fromId": "1"}) == 20
    assert weight_of("/fapi/v1/klines", {"limit": "499"}) == 2
    assert weight_of("/fapi/v1/continuousKlines", {}) == 5  # Binance's default limit: 500
    assert weight_of("/fapi/v1/ticker/24hr", {}) == 40
    assert weight_of("/fapi/v1/ticker/24hr", {"symbol": "X"}) == 1
    assert weight_of("/fapi/v1/premiumIndex", {}) == 10
    assert weight_of("/fapi/v1/premiumIndex", {"symbol": "X"}) == 1
    assert weight_of("/fapi/v1/exchangeInfo", {}) == weight_of("/fapi/v1/time", {}) == 1


async def test_a_request_that_would_cross_the_limit_waits_for_the_next_minute(
    packaged_tape: TradeTape,
) -> None:
    clock = ShiftedClock(1.5)
    async with EmbeddedExchange(
        packaged_tape, speed=0, wait_for_subscriber=False, weight_limit=100, weight_clock=clock
    ) as ex:
        await ex.wait_until(ex.finished.is_set)
        budget = WeightBudget(clock_ms=clock.ms)
        rest = BinanceRest(ex.rest_url, budget=budget)
        await rest.exchange_info()
        assert (budget.limit, budget.ceiling) == (100, 90)  # exchange info's, 10% kept free
        started = time.monotonic()
        # Six users of one client at once, 120 of weight: four fit in this minute (81 with
        # exchange info), two wait for the next instead of crossing the limit.
        pages = await asyncio.gather(*(rest.agg_trades("BTCUSDT", limit=5) for _ in range(6)))
        waited = time.monotonic() - started
    assert all(len(page) == 5 for page in pages)
    calls = [(c.path, c.status, c.used) for c in ex.rest_calls]
    assert calls == [("/fapi/v1/exchangeInfo", 200, 1)] + [
        ("/fapi/v1/aggTrades", 200, used) for used in (21, 41, 61, 81, 20, 40)
    ]
    assert budget.waits >= 1 and budget.used == 40
    assert waited >= 1.0  # the rest of the minute, not a retry


async def test_a_429_waits_its_retry_after_then_succeeds(packaged_tape: TradeTape) -> None:
    async with EmbeddedExchange(packaged_tape, speed=0) as ex:
        ex.faults.too_many_requests = 1
        ex.faults.retry_after_s = 1  # asking again sooner earns a ban (418)
        rest = BinanceRest(ex.rest_url)
        started = time.monotonic()
        assert await rest.server_time_ms() > 0
        waited = time.monotonic() - started
    assert [c.status for c in ex.rest_calls] == [429, 200]
    assert rest.rate_limited == 1
    assert 1.0 <= waited < 3.0


async def test_429_after_every_retry_is_rate_limited(packaged_tape: TradeTape) -> None:
    async with EmbeddedExchange(packaged_tape, speed=0) as ex:
        ex.faults.too_many_requests = 10
        ex.faults.retry_after_s = 0
        rest = BinanceRest(ex.rest_url, retries_429=2)
        with pytest.raises(RateLimited) as limited:
            await rest.server_time_ms()
    assert [c.status for c in ex.rest_calls] == [429, 429, 429]
    assert limited.value.retry_after_s == 0 and limited.value.status == 429


async def test_a_ban_raises_ip_banned_and_nothing_is_asked_until_it_ends(
    packaged_tape: TradeTape,
) -> None:
    clock = ShiftedClock(30.0)
    async with EmbeddedExchange(packaged_tape, speed=0, ban_s=2.0, weight_clock=clock) as ex:
        rest = BinanceRest(ex.rest_url, budget=WeightBudget(clock_ms=clock.ms))
        ex.faults.ban_next = True
        with pytest.raises(IpBanned) as banned:
            await rest.agg_trades("BTCUSDT", limit=1)
        until = banned.value.until_ms
        assert until == pytest.approx((clock() + 2.0) * 1000.0, abs=500)
        assert "banned until" in str(banned.value) and rest.banned_until_ms == until
        with pytest.raises(IpBanned):
            await rest.server_time_ms()  # failing fast: asking during a ban lengthens it
        assert [c.status for c in ex.rest_calls] == [418]
        clock.skip(2.0)  # the ban's length
        assert await rest.server_time_ms() > 0
    assert [c.status for c in ex.rest_calls] == [418, 200]


async def test_the_live_feed_goes_on_while_rest_is_banned(
    sim_tape: TradeTape, run_feed: FeedStarter, recorder: Recorder
) -> None:
    async with EmbeddedExchange(sim_tape, speed=5, ban_s=600.0) as ex:
        feed = run_feed(ex, recorder)
        await recorder.wait_for_count(300)
        ex.faults.ban_next = True
        ex.faults.refuse_handshakes = 2  # an outage that trades are published in
        ex.drop_connections()  # the catch-up after it cannot be fetched: the IP is banned
        await recorder.wait_until(lambda: feed.status.reconnects == 1)
        before = len(recorder.trades)
        await recorder.wait_until(lambda: len(recorder.trades) >= before + 300)
        await recorder.wait_until(lambda: not recorder.held() and feed.status.gaps > 0)
        assert feed.rest.banned_until_ms is not None
        assert feed.status.state == "live" and feed.backfilled == 0
        statuses = [c.status for c in ex.rest_calls]
    # Exchange info and the time, then what was in flight when the ban came (the time and
    # both legs' catch-ups at most); every later fetch failed without asking.
    assert statuses[:2] == [200, 200] and set(statuses[2:]) == {418} and len(statuses) <= 5
