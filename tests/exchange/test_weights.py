"""Request weight: the used-weight header, each endpoint's weight, 429 then 418, forced faults."""

from __future__ import annotations

from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.exchange.weights import weight_of

from .conftest import ManualClock, rest

MINUTE = 1_800_000_000 // 60 * 60  # a minute boundary, seconds


def test_endpoint_weights_follow_binance_docs() -> None:
    limits = (1, 99, 100, 499, 500, 1000, 1001, 1500)
    assert [weight_of("/fapi/v1/klines", {"limit": [str(n)]}) for n in limits] == [
        1,
        1,
        2,
        2,
        5,
        5,
        10,
        10,
    ]
    assert weight_of("/fapi/v1/klines", {}) == 5  # the default limit is 500
    assert weight_of("/fapi/v1/continuousKlines", {"limit": ["1500"]}) == 10
    assert weight_of("/fapi/v1/aggTrades", {"symbol": ["BTCUSDT"]}) == 20
    assert weight_of("/fapi/v1/ticker/24hr", {}) == 40
    assert weight_of("/fapi/v1/ticker/24hr", {"symbol": ["BTCUSDT"]}) == 1
    assert weight_of("/fapi/v1/premiumIndex", {}) == 10
    assert weight_of("/fapi/v1/premiumIndex", {"symbol": ["BTCUSDT"]}) == 1
    assert weight_of("/fapi/v1/fundingRate", {}) == 1
    assert weight_of("/fapi/v1/exchangeInfo", {}) == 1


async def test_every_answer_carries_the_weight_used_this_minute(packaged_tape: TradeTape) -> None:
    clock = ManualClock(MINUTE + 5.0)
    async with EmbeddedExchange(packaged_tape, speed=0, weight_clock=clock) as ex:
        status, headers, info = await rest(ex, "/fapi/v1/exchangeInfo")
        assert status == 200 and headers["x-mbx-used-weight-1m"] == "1"
        assert info["rateLimits"][0] == {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": 2400,
        }
        _, headers, _ = await rest(ex, "/fapi/v1/aggTrades?symbol=BTCUSDT&limit=5")
        assert headers["x-mbx-used-weight-1m"] == "21"
        status, headers, _ = await rest(ex, "/fapi/v1/aggTrades?symbol=NOPE")  # errors count too
        assert status == 400 and headers["x-mbx-used-weight-1m"] == "41"
        status, headers, _ = await rest(ex, "/fapi/v1/nothing")
        assert status == 404 and headers["x-mbx-used-weight-1m"] == "42"
        clock.now = MINUTE + 60.0  # the next UTC minute starts from zero
        _, headers, _ = await rest(ex, "/fapi/v1/time")
        assert headers["x-mbx-used-weight-1m"] == "1"
        assert ex.weight_used == 1
    assert [(c.path, c.weight, c.status, c.used) for c in ex.rest_calls] == [
        ("/fapi/v1/exchangeInfo", 1, 200, 1),
        ("/fapi/v1/aggTrades", 20, 200, 21),
        ("/fapi/v1/aggTrades", 20, 400, 41),
        ("/fapi/v1/nothing", 1, 404, 42),
        ("/fapi/v1/time", 1, 200, 1),
    ]
    assert ex.rest_calls[1].query == "symbol=BTCUSDT&limit=5"


async def test_over_the_limit_429_then_418_for_who_does_not_wait(packaged_tape: TradeTape) -> None:
    clock = ManualClock(MINUTE + 20.5)
    async with EmbeddedExchange(
        packaged_tape, speed=0, weight_limit=50, ban_s=90, weight_clock=clock
    ) as ex:
        info = (await rest(ex, "/fapi/v1/exchangeInfo"))[2]
        assert info["rateLimits"][0]["limit"] == 50
        assert (await rest(ex, "/fapi/v1/aggTrades?symbol=BTCUSDT"))[0] == 200  # 21
        assert (await rest(ex, "/fapi/v1/aggTrades?symbol=BTCUSDT"))[0] == 200  # 41
        status, headers, body = await rest(ex, "/fapi/v1/aggTrades?symbol=BTCUSDT")  # 61 > 50
        assert status == 429
        assert headers["retry-after"] == "40"  # seconds to the minute's end, rounded up
        assert headers["x-mbx-used-weight-1m"] == "61"
        assert body["code"] == -1003 and body["msg"].startswith("Too many requests;")
        clock.now += 10.0  # told to wait 40 s, back after 10: banned
        status, headers, body = await rest(ex, "/fapi/v1/time")
        assert status == 418 and headers["retry-after"] == "90"
        assert body["code"] == -1003 and body["msg"].startswith("Way too many requests; IP(")
        clock.now += 60.0  # a new minute, still banned: the ban is not extended
        status, headers, _ = await rest(ex, "/fapi/v1/time")
        assert status == 418 and headers["retry-after"] == "30"
        clock.now += 30.0
        status, headers, _ = await rest(ex, "/fapi/v1/time")
        assert status == 200 and headers["x-mbx-used-weight-1m"] == "1"
    assert [c.status for c in ex.rest_calls] == [200, 200, 200, 429, 418, 418, 200]


async def test_a_client_that_waits_is_not_banned(packaged_tape: TradeTape) -> None:
    clock = ManualClock(MINUTE + 59.2)
    async with EmbeddedExchange(packaged_tape, speed=0, weight_limit=20, weight_clock=clock) as ex:
        assert (await rest(ex, "/fapi/v1/aggTrades?symbol=BTCUSDT"))[0] == 200
        status, headers, _ = await rest(ex, "/fapi/v1/time")
        assert status == 429 and headers["retry-after"] == "1"
        clock.now = MINUTE + 60.0
        assert (await rest(ex, "/fapi/v1/time"))[0] == 200


async def test_forced_429s_and_418(packaged_tape: TradeTape) -> None:
    clock = ManualClock(MINUTE + 1.0)
    async with EmbeddedExchange(packaged_tape, speed=0, ban_s=5, weight_clock=clock) as ex:
        ex.faults.too_many_requests = 2
        ex.faults.retry_after_s = 3
        status, headers, body = await rest(ex, "/fapi/v1/time")
        assert (status, headers["retry-after"], body["code"]) == (429, "3", -1003)
        clock.now += 3.0
        status, headers, _ = await rest(ex, "/fapi/v1/time")
        assert (status, headers["retry-after"]) == (429, "3")
        clock.now += 3.0
        status, headers, _ = await rest(ex, "/fapi/v1/time")
        assert status == 200 and headers["x-mbx-used-weight-1m"] == "1"  # forced ones add none
        ex.faults.ban_next = True
        status, headers, _ = await rest(ex, "/fapi/v1/time")
        assert (status, headers["retry-after"]) == (418, "5")
        status, _, _ = await rest(ex, "/fapi/v1/exchangeInfo")
        assert status == 418  # a real ban
        clock.now += 5.0
        assert (await rest(ex, "/fapi/v1/exchangeInfo"))[0] == 200
        ex.faults.too_many_requests = 1
        ex.faults.retry_after_s = 0
        assert (await rest(ex, "/fapi/v1/time"))[0] == 429
        assert (await rest(ex, "/fapi/v1/time"))[0] == 200  # Retry-After 0: at once is fine
