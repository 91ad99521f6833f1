"""The embedded exchange behaves like Binance's 2026 routes, over a real loopback socket."""

from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pairs_tui.feed.exchange import (
    EmbeddedExchange,
    TradeTape,
    parse_route,
    simulated_tape,
)
from pairs_tui.feed.faults import GARBAGE_KINDS, garbage
from pairs_tui.feed.frames import MalformedFrame, decode_frame
from pairs_tui.feed.rest import BinanceApiError, BinanceRest, UnknownSymbolError

AGG_KEYS_2026 = ["e", "E", "a", "s", "p", "q", "nq", "f", "l", "T", "m", "st"]


async def _open(ex: EmbeddedExchange, path: str) -> ClientConnection:
    # max_queue=None: a test that stops reading must not stall its own closing handshake
    # behind unread frames.
    return await connect(ex.url + path, proxy=None, compression=None, max_queue=None)


async def _recv(ws: ClientConnection, n: int, timeout: float = 5.0) -> list[dict[str, object]]:
    async with asyncio.timeout(timeout):
        return [json.loads(await ws.recv()) for _ in range(n)]


async def _assert_silent(ws: ClientConnection, request_id: int) -> None:
    """Nothing was queued on ``ws``: the answer to a request sent now is the next message."""
    await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
    (reply,) = await _recv(ws, 1)
    assert reply.get("id") == request_id, f"data arrived on a silent stream: {reply}"


def _http_get(url: str) -> tuple[int, dict[str, object] | list[object]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# -- tapes -------------------------------------------------------------------------------------


def test_packaged_tape_aggregates_fills_like_binance(packaged_tape: TradeTape) -> None:
    assert packaged_tape.fill_counts == {"BTCUSDT": 21_313, "ETHUSDT": 14_076}
    assert packaged_tape.start_ms == 1_723_161_256_322  # 2024-08-08 23:54:16.322 UTC
    previous: dict[str, object] = {}
    for trade in packaged_tape.trades:
        assert math.isclose(trade.qty, math.fsum(trade.fill_qtys))
        prev = previous.get(trade.symbol)
        if prev is not None:
            assert trade.id == prev.id + 1  # type: ignore[attr-defined]
            assert trade.first_trade_id == prev.last_trade_id + 1  # type: ignore[attr-defined]
            # A new aggregate starts only where time, price or side changes.
            assert (trade.time, trade.price, trade.buyer_maker) != (
                prev.time,  # type: ignore[attr-defined]
                prev.price,  # type: ignore[attr-defined]
                prev.buyer_maker,  # type: ignore[attr-defined]
            )
        previous[trade.symbol] = trade
    assert len(packaged_tape) < sum(packaged_tape.fill_counts.values())


def test_simulated_tape_is_seeded_on_the_grid_and_cointegrated() -> None:
    tape = simulated_tape(duration_s=1800.0, seed=3)
    assert (
        simulated_tape(duration_s=60.0, seed=3).trades
        == simulated_tape(duration_s=60.0, seed=3).trades
    )
    assert simulated_tape(duration_s=60.0, seed=4).trades[:50] != tape.trades[:50]
    for trade in tape.trades[:2000]:
        tick = float(tape.specs[trade.symbol].tick_size)
        assert abs(trade.price / tick - round(trade.price / tick)) < 1e-6
        assert all(q >= 0.001 and abs(q * 1000 - round(q * 1000)) < 1e-6 for q in trade.fill_qtys)
    # Sample both legs' last prices once a second and regress log A on log B.
    last: dict[str, float] = {}
    rows = []
    second = None
    for trade in tape.trades:
        if second is not None and trade.time // 1000 != second and len(last) == 2:
            rows.append((math.log(last["BTCUSDT"]), math.log(last["ETHUSDT"])))
        second = trade.time // 1000
        last[trade.symbol] = trade.price
    y, x = np.array(rows).T
    beta, alpha = np.polyfit(x, y, 1)
    resid = y - alpha - beta * x
    assert beta == pytest.approx(0.8, abs=0.2)
    assert resid.std() == pytest.approx(0.0005, rel=0.5)
    assert 0.9 < np.corrcoef(resid[1:], resid[:-1])[0, 1] < 0.999  # mean-reverting


def test_routes_are_parsed_as_binance_has_them() -> None:
    market = parse_route("/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade")
    assert market is not None and market.category == "market" and market.combined
    assert market.names == ("btcusdt@aggTrade", "ethusdt@aggTrade")
    raw = parse_route("/market/ws/btcusdt@aggTrade/ethusdt@aggTrade")
    assert raw is not None and not raw.combined and len(raw.names) == 2
    legacy = parse_route("/ws/btcusdt@aggTrade")
    assert legacy is not None and legacy.category == "legacy"
    assert parse_route("/market") is None and parse_route("/fapi/v1/time") is None


# -- WebSocket routes --------------------------------------------------------------------------


async def test_market_stream_sends_every_aggtrade_with_2026_keys(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    ws = await _open(exchange, "/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade")
    async with ws:
        frames = await _recv(ws, len(packaged_tape))
    first = frames[0]
    assert first["stream"] == "btcusdt@aggTrade"
    data = first["data"]
    assert isinstance(data, dict) and list(data) == AGG_KEYS_2026
    assert data["p"] == "61800.30" and data["q"] == "0.006" and data["st"] == 1
    for frame, trade in zip(frames, packaged_tape.trades, strict=True):
        d = frame["data"]
        assert isinstance(d, dict)
        assert (d["s"], d["a"], d["T"], float(d["p"]), d["m"]) == (
            trade.symbol,
            trade.id,
            trade.time,
            trade.price,
            trade.buyer_maker,
        )
        assert d["E"] >= d["T"]
    assert exchange.published("BTCUSDT") == packaged_tape.counts["BTCUSDT"]
    await asyncio.wait_for(exchange.finished.wait(), 5)


async def test_raw_market_route_sends_bare_payloads_of_its_streams(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    async with await _open(exchange, "/market/ws/ethusdt@aggTrade") as ws:
        payloads = await _recv(ws, packaged_tape.counts["ETHUSDT"])
    assert {p["e"] for p in payloads} == {"aggTrade"}
    assert {p["s"] for p in payloads} == {"ETHUSDT"}
    assert payloads[0]["p"] == f"{payloads[0]['p']}" and "." in str(payloads[0]["p"])


async def test_public_route_serves_each_fill_as_a_trade(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    async with await _open(exchange, "/public/stream?streams=ethusdt@trade") as ws:
        frames = await _recv(ws, packaged_tape.fill_counts["ETHUSDT"])
    ids = [f["data"]["t"] for f in frames]  # type: ignore[index]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # contiguous trade ids
    assert {f["data"]["X"] for f in frames} == {"MARKET"}  # type: ignore[index]
    assert frames[0]["stream"] == "ethusdt@trade"


async def test_legacy_routes_acknowledge_and_stay_silent_for_aggtrade(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    silent = [
        await _open(exchange, "/stream?streams=btcusdt@aggTrade"),
        await _open(exchange, "/ws/btcusdt@aggTrade"),
        await _open(exchange, "/ws"),
        await _open(exchange, "/market/stream?streams=BTCUSDT@aggTrade"),  # upper case
        await _open(exchange, "/market/stream?streams=btcusdt@trade"),  # @trade on /market
        await _open(exchange, "/public/stream?streams=btcusdt@aggTrade"),  # aggTrade on /public
    ]
    bare_ws = silent[2]
    await bare_ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 1}))
    assert await _recv(bare_ws, 1) == [{"result": None, "id": 1}]  # acknowledged all the same
    # A client on the right route receives the whole tape meanwhile.
    async with await _open(exchange, "/market/stream?streams=btcusdt@aggTrade") as good:
        await _recv(good, packaged_tape.counts["BTCUSDT"])
    await asyncio.wait_for(exchange.finished.wait(), 5)
    for n, ws in enumerate(silent):
        await _assert_silent(ws, 100 + n)
        await ws.close()


async def test_live_subscribe_list_and_unsubscribe(exchange: EmbeddedExchange) -> None:
    async with await _open(exchange, "/market/stream") as ws:
        await _assert_silent(ws, 1)
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@aggTrade"], "id": 2}))
        ack, first = await _recv(ws, 2)
        assert ack == {"result": None, "id": 2}
        assert first["stream"] == "ethusdt@aggTrade"
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
        await ws.send(json.dumps({"method": "GET_PROPERTY", "params": ["combined"], "id": 4}))
        await ws.send(
            json.dumps({"method": "UNSUBSCRIBE", "params": ["ethusdt@aggTrade"], "id": 5})
        )
        replies: dict[object, dict[str, object]] = {}
        async with asyncio.timeout(5):
            while len(replies) < 3:
                message = json.loads(await ws.recv())
                if "id" in message:
                    replies[message["id"]] = message
        assert replies[3]["result"] == ["ethusdt@aggTrade"]
        assert replies[4]["result"] is True
        assert replies[5] == {"result": None, "id": 5}


async def test_bad_control_messages_get_binance_errors(exchange: EmbeddedExchange) -> None:
    async with await _open(exchange, "/market/stream") as ws:
        await ws.send("ping")
        await ws.send(json.dumps({"method": "FLY", "id": 6}))
        bad_json, unknown = await _recv(ws, 2)
    assert bad_json["error"]["code"] == 3 and bad_json["id"] is None  # type: ignore[index]
    assert unknown["error"]["code"] == 2 and unknown["id"] == 6  # type: ignore[index]
    assert "unknown variant FLY" in unknown["error"]["msg"]  # type: ignore[index]


async def test_more_than_ten_messages_a_second_close_with_1008(
    exchange: EmbeddedExchange,
) -> None:
    async with await _open(exchange, "/market/stream") as ws:
        for n in range(11):
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": n}))
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
    assert ws.close_code == 1008 and ws.close_reason == "Too many requests"


async def test_refused_handshakes_answer_503(exchange: EmbeddedExchange) -> None:
    exchange.faults.refuse_handshakes = 1
    with pytest.raises(InvalidStatus) as refused:
        await _open(exchange, "/market/stream?streams=btcusdt@aggTrade")
    assert refused.value.response.status_code == 503
    async with await _open(exchange, "/market/stream?streams=btcusdt@aggTrade") as ws:
        assert len(await _recv(ws, 1)) == 1


async def test_server_pings_are_answered_by_a_client(sim_tape: TradeTape) -> None:
    # Pings every 20 ms, dropped after 0.3 s unanswered; the tape lasts 1 s at 20x.
    ex = EmbeddedExchange(sim_tape, speed=20, ping_interval_s=0.02, ping_timeout_s=0.3)
    async with ex, await _open(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
        await _recv(ws, sim_tape.counts["BTCUSDT"])
        await asyncio.wait_for(ex.finished.wait(), 5)
        await _assert_silent(ws, 1)  # still connected: websockets answered every ping


async def test_stalled_symbol_stops_while_the_other_flows(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    exchange.faults.stall_symbol = "ETHUSDT"
    streams = "btcusdt@aggTrade/ethusdt@aggTrade"
    async with await _open(exchange, f"/market/stream?streams={streams}") as ws:
        frames = await _recv(ws, packaged_tape.counts["BTCUSDT"])
        await asyncio.wait_for(exchange.finished.wait(), 5)
        await _assert_silent(ws, 1)
    assert {f["stream"] for f in frames} == {"btcusdt@aggTrade"}
    assert exchange.published("ETHUSDT") == packaged_tape.counts["ETHUSDT"]  # still published


async def test_timeline_follows_speed_and_loops_with_ids_continuing() -> None:
    tape = simulated_tape(duration_s=2.0, rate_per_s=20.0, seed=5)
    async with EmbeddedExchange(tape, speed=0, loop=True) as ex:
        assert ex.now_ms() == tape.start_ms  # frozen until someone subscribes
        async with await _open(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
            frames = await _recv(ws, 3 * tape.counts["BTCUSDT"])
    ids = [f["data"]["a"] for f in frames]  # type: ignore[index]
    times = [f["data"]["T"] for f in frames]  # type: ignore[index]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert times == sorted(times) and times[-1] > tape.end_ms + 2 * (tape.end_ms - tape.start_ms)


async def test_rebased_timeline_runs_at_speed(sim_tape: TradeTape) -> None:
    async with EmbeddedExchange(sim_tape, speed=20, rebase=True) as ex:
        assert ex.now_ms() == pytest.approx(time.time() * 1000, abs=1000)
        async with await _open(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
            (first,) = await _recv(ws, 1)
            started = time.monotonic()
            frames = await _recv(ws, 200)
        elapsed_ms = (time.monotonic() - started) * 1000
    t0 = first["data"]["T"]  # type: ignore[index]
    assert t0 == pytest.approx(time.time() * 1000, abs=5000)  # rebased to "now"
    span = frames[-1]["data"]["T"] - t0  # type: ignore[index]
    assert span / 20 <= elapsed_ms + 50  # not faster than 20x


# -- REST ----------------------------------------------------------------------------------------


async def test_rest_exchange_info_time_and_aggtrades(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    rest = BinanceRest(exchange.rest_url)
    info = await rest.check_symbols(["btcusdt", "ETHUSDT"])
    assert info["BTCUSDT"].tick_size == 0.1 and info["ETHUSDT"].tick_size == 0.01
    assert info["BTCUSDT"].step_size == 0.001
    assert await rest.server_time_ms() == packaged_tape.start_ms  # not started yet
    with pytest.raises(UnknownSymbolError, match="FOOUSDT"):
        await rest.check_symbols(["BTCUSDT", "fooUSDT"])

    async with await _open(exchange, "/market/stream?streams=btcusdt@aggTrade") as ws:
        await _recv(ws, packaged_tape.counts["BTCUSDT"])
    await asyncio.wait_for(exchange.finished.wait(), 5)
    assert await rest.server_time_ms() == packaged_tape.end_ms
    btc = [t for t in packaged_tape.trades if t.symbol == "BTCUSDT"]
    rows = await rest.agg_trades("btcusdt", btc[10].id, 1000)
    assert len(rows) == 1000
    assert [r.id for r in rows] == [t.id for t in btc[10:1010]]
    assert [r.price for r in rows] == [t.price for t in btc[10:1010]]
    assert rows[0].first_trade_id == btc[10].first_trade_id
    assert rows[0].last_trade_id == btc[10].last_trade_id
    tail = await rest.agg_trades("BTCUSDT", btc[-3].id, 1000)
    assert [r.id for r in tail] == [t.id for t in btc[-3:]]  # caught up: fewer than the limit
    with pytest.raises(UnknownSymbolError, match="XYZUSDT"):
        await rest.agg_trades("XYZUSDT", 1)


async def test_rest_errors_are_binance_json(exchange: EmbeddedExchange) -> None:
    base = exchange.rest_url
    status, body = await asyncio.to_thread(_http_get, f"{base}/fapi/v1/aggTrades?symbol=NOPE")
    assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})
    url = f"{base}/fapi/v1/aggTrades?symbol=BTCUSDT&limit=5000"
    status, body = await asyncio.to_thread(_http_get, url)
    assert status == 400 and body["code"] == -1130  # type: ignore[call-overload]
    status, body = await asyncio.to_thread(_http_get, f"{base}/fapi/v1/klines")
    assert status == 404
    exchange.faults.rest_unavailable = True
    with pytest.raises(BinanceApiError) as unavailable:
        await BinanceRest(base).agg_trades("BTCUSDT", 1)
    assert unavailable.value.status == 503


# -- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", range(GARBAGE_KINDS))
def test_every_kind_of_garbage_is_a_malformed_frame(kind: int) -> None:
    good = (
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161256472,"a":7,'
        '"s":"BTCUSDT","p":"61800.30","q":"0.022","nq":"0.022","f":1,"l":2,'
        '"T":1723161256322,"m":false,"st":1}}'
    )
    assert decode_frame(good).data is not None
    with pytest.raises(MalformedFrame):
        decode_frame(garbage(kind, good))


async def test_rate_limit_fault_closes_with_1008_after_n_messages(
    exchange: EmbeddedExchange,
) -> None:
    exchange.faults.rate_limit_after_messages = 5
    async with await _open(exchange, "/market/stream?streams=btcusdt@aggTrade") as ws:
        assert len(await _recv(ws, 5)) == 5
        with pytest.raises(ConnectionClosed):
            await _recv(ws, 1)
    assert (ws.close_code, ws.close_reason) == (1008, "Too many requests")


async def test_pings_from_the_client_count_against_the_limit(exchange: EmbeddedExchange) -> None:
    async with await _open(exchange, "/market/stream") as ws:
        for n in range(11):
            await ws.ping(str(n))
        with pytest.raises(ConnectionClosed):
            await _recv(ws, 1)
    assert ws.close_code == 1008 and exchange.max_incoming_per_s == 11


async def test_silent_symbol_is_acknowledged_listed_and_never_sent(
    exchange: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    exchange.faults.silent_symbol = "ethusdt"
    streams = "btcusdt@aggTrade/ethusdt@aggTrade"
    async with await _open(exchange, f"/market/stream?streams={streams}") as ws:
        frames = await _recv(ws, packaged_tape.counts["BTCUSDT"])
        await asyncio.wait_for(exchange.finished.wait(), 5)
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}))
        (listing,) = await _recv(ws, 1)
    assert {f["stream"] for f in frames} == {"btcusdt@aggTrade"}
    assert listing == {"result": ["btcusdt@aggTrade", "ethusdt@aggTrade"], "id": 9}


async def test_frozen_exchange_sends_nothing_until_thawed(sim_tape: TradeTape) -> None:
    async with EmbeddedExchange(sim_tape, speed=20) as ex:
        ex.faults.freeze = True
        async with await _open(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
            await ex.wait_until(lambda: ex.published("BTCUSDT") >= 50)
            await _assert_silent(ws, 1)
            ex.faults.freeze = False
            (frame,) = await _recv(ws, 1)
    assert frame["data"]["a"] > sim_tape.trades[0].id  # type: ignore[index]


async def test_skewed_clock_shows_in_server_time_and_trade_times(sim_tape: TradeTape) -> None:
    async with EmbeddedExchange(sim_tape, speed=1, rebase=True, clock_skew_ms=-1_300.0) as ex:
        rest = BinanceRest(ex.rest_url)
        before = time.time() * 1000.0
        server = await rest.server_time_ms()
        assert server == pytest.approx(before - 1_300.0, abs=200)
        async with await _open(ex, "/market/stream?streams=btcusdt@aggTrade") as ws:
            (first,) = await _recv(ws, 1)
        assert first["data"]["T"] == pytest.approx(  # type: ignore[index]
            time.time() * 1000.0 - 1_300.0, abs=1_000
        )


async def test_drop_and_close_hit_the_connections_open_now(sim_tape: TradeTape) -> None:
    async with EmbeddedExchange(sim_tape, speed=20) as ex:
        path = "/market/stream?streams=btcusdt@aggTrade"
        dropped = [await _open(ex, path), await _open(ex, path)]
        await _recv(dropped[0], 1)
        await ex.wait_until(lambda: ex.connections == 2)
        assert ex.drop_connections() == 2
        for ws in dropped:
            with pytest.raises(ConnectionClosed):
                await _recv(ws, 10_000)
            assert ws.close_code == 1006  # no close frame
        closed = await _open(ex, path)
        await ex.wait_until(lambda: ex.connections == 1)
        assert ex.close_connections(1000, "lifetime reached") == 1
        with pytest.raises(ConnectionClosed):
            await _recv(closed, 10_000)
        assert (closed.close_code, closed.close_reason) == (1000, "lifetime reached")
