"""Klines: exactly the OHLCV of the published trades, every interval folded alike, Binance's rows,
limits and errors; aggregate trades by time."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pairs_tui.exchange.klines import KlineTrades
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import SymbolSpec, TradeTape

from .conftest import open_stream, rest

SPECS = {
    "BTCUSDT": SymbolSpec("BTCUSDT", "0.10", "0.001"),
    "DOGEUSDT": SymbolSpec("DOGEUSDT", "0.000010", "1"),
}
START_MS = 1_723_161_256_322


async def fetch_all_trades(ex: EmbeddedExchange, symbol: str) -> list[dict[str, Any]]:
    """Every published aggregate trade of ``symbol``, paged by ``fromId`` over REST."""
    rows: list[dict[str, Any]] = []
    from_id = ex.history(symbol)[0].id
    while True:
        _, _, page = await rest(
            ex, f"/fapi/v1/aggTrades?symbol={symbol}&fromId={from_id}&limit=1000"
        )
        rows += page
        if len(page) < 1000:
            return rows
        from_id = page[-1]["a"] + 1


def fold_trades(
    trades: list[dict[str, Any]], spec: SymbolSpec, interval_ms: int, horizon_ms: int, fills: bool
) -> list[list[Any]]:
    """Klines built from aggregate-trade rows the way a careful client would: exact decimals."""
    pd, qd = spec.price_decimals, spec.qty_decimals
    buckets: dict[int, list[dict[str, Any]]] = {}
    for t in sorted(trades, key=lambda t: (t["T"], t["a"])):
        buckets.setdefault(t["T"] // interval_ms * interval_ms, []).append(t)
    rows: list[list[Any]] = []
    close = None
    start = min(buckets)
    for open_ms in range(start, horizon_ms // interval_ms * interval_ms + 1, interval_ms):
        ts = buckets.get(open_ms, [])
        if ts:
            prices = [Decimal(t["p"]) for t in ts]
            qtys = [Decimal(t["q"]) for t in ts]
            buys = [q if not t["m"] else Decimal(0) for t, q in zip(ts, qtys, strict=True)]
            close = prices[-1]
            ohlc = [prices[0], max(prices), min(prices), close]
            volume, buy = sum(qtys, Decimal(0)), sum(buys, Decimal(0))
            quote = sum((p * q for p, q in zip(prices, qtys, strict=True)), Decimal(0))
            buy_quote = sum((p * q for p, q in zip(prices, buys, strict=True)), Decimal(0))
            count = sum(t["l"] - t["f"] + 1 for t in ts) if fills else len(ts)
        else:
            assert close is not None
            ohlc = [close] * 4
            volume = buy = quote = buy_quote = Decimal(0)
            count = 0
        printed = [f"{p:.{pd}f}" for p in ohlc]
        rows.append(
            [
                open_ms,
                *printed,
                f"{volume:.{qd}f}",
                open_ms + interval_ms - 1,
                f"{quote:.{pd + qd}f}",
            ]
        )
        rows[-1] += [count, f"{buy:.{qd}f}", f"{buy_quote:.{pd + qd}f}", "0"]
    return rows


GAPS = st.one_of(
    st.integers(0, 999), st.integers(1_000, 5_000), st.integers(60_000, 400_000), st.just(0)
)
FILL = st.tuples(GAPS, st.integers(-3, 3), st.integers(1, 40), st.booleans(), st.integers(1, 3))


def tape_of(draws: dict[str, list[tuple[int, int, int, bool, int]]]) -> TradeTape:
    fills: list[tuple[str, int, float, float, bool, int]] = []
    levels = {"BTCUSDT": 618_003, "DOGEUSDT": 10_512}
    for symbol, steps in draws.items():
        spec = SPECS[symbol]
        tick, step = float(spec.tick_size), float(spec.step_size)
        t, ticks, trade_id = START_MS, levels[symbol], 7_000
        for gap, move, size, maker, burst in steps:
            t += gap
            ticks += move
            price = round(ticks * tick, spec.price_decimals)
            for k in range(burst):
                qty = round((size + k) * step, spec.qty_decimals)
                fills.append((symbol, t, price, qty, maker, trade_id))
                trade_id += 1
    fills.sort(key=lambda f: f[1])
    return TradeTape.from_fills(fills, {s: SPECS[s] for s in draws})


async def published_klines_equal_folded_trades(tape: TradeTape, fills: bool) -> None:
    mode: KlineTrades = "fills" if fills else "aggregates"
    async with EmbeddedExchange(tape, speed=0, wait_for_subscriber=False, kline_trades=mode) as ex:
        await asyncio.wait_for(ex.finished.wait(), 10)
        horizon = int(ex.now_ms())
        for symbol, spec in tape.specs.items():
            trades = await fetch_all_trades(ex, symbol)
            assert len(trades) == tape.counts[symbol]
            for interval, ms in (("1m", 60_000), ("3m", 180_000), ("1h", 3_600_000)):
                path = f"/fapi/v1/klines?symbol={symbol}&interval={interval}&limit=1500"
                _, _, klines = await rest(ex, path + f"&startTime={START_MS - ms}")
                assert klines == fold_trades(trades, spec, ms, horizon, fills)
            path = f"/fapi/v1/continuousKlines?pair={symbol}&contractType=PERPETUAL&interval=1s"
            _, _, seconds = await rest(ex, f"{path}&limit=1500&endTime={horizon}")
            assert seconds == fold_trades(trades, spec, 1_000, horizon, fills)[-1500:]


@settings(max_examples=60, deadline=None)
@given(
    btc=st.lists(FILL, min_size=1, max_size=60),
    doge=st.lists(FILL, min_size=1, max_size=60),
    fills=st.booleans(),
)
def test_klines_are_exactly_the_published_trades(
    btc: list[tuple[int, int, int, bool, int]],
    doge: list[tuple[int, int, int, bool, int]],
    fills: bool,
) -> None:
    tape = tape_of({"BTCUSDT": btc, "DOGEUSDT": doge})
    asyncio.run(published_klines_equal_folded_trades(tape, fills))


def fold_klines(rows: list[list[Any]], interval_ms: int, spec: SymbolSpec) -> list[list[Any]]:
    """Longer klines from shorter ones, exact decimals (as a client folds 1s bars)."""
    pd, qd = spec.price_decimals, spec.qty_decimals
    out: dict[int, list[Any]] = {}
    for r in rows:
        open_ms = r[0] // interval_ms * interval_ms
        o, h, low, c = (Decimal(x) for x in r[1:5])
        v, q, tb, tq = Decimal(r[5]), Decimal(r[7]), Decimal(r[9]), Decimal(r[10])
        k = out.get(open_ms)
        if k is None:
            out[open_ms] = [open_ms, o, h, low, c, v, open_ms + interval_ms - 1, q, r[8], tb, tq]
            continue
        if k[8] == 0 and r[8] > 0:  # the first trade of the kline opens it
            k[1:5] = [o, h, low, c]
        elif r[8] > 0:
            k[2], k[3], k[4] = max(k[2], h), min(k[3], low), c
        elif k[8] == 0:
            k[4] = c
        k[5] += v
        k[7] += q
        k[8] += r[8]
        k[9] += tb
        k[10] += tq
    rows = []
    for k in out.values():
        prices = [f"{x:.{pd}f}" for x in k[1:5]]
        rows.append([k[0], *prices, f"{k[5]:.{qd}f}", k[6], f"{k[7]:.{pd + qd}f}", k[8]])
        rows[-1] += [f"{k[9]:.{qd}f}", f"{k[10]:.{pd + qd}f}", "0"]
    return rows


async def test_every_interval_agrees_with_1s_continuous_klines() -> None:
    tape = simulated_tape(duration_s=1_500.0, rate_per_s=(3.0, 0.2), seed=21)
    async with EmbeddedExchange(tape, speed=0, wait_for_subscriber=False) as ex:
        await asyncio.wait_for(ex.finished.wait(), 20)
        for symbol, spec in tape.specs.items():
            seconds: list[list[Any]] = []
            start = tape.start_ms - 1_000
            while True:
                path = f"/fapi/v1/continuousKlines?pair={symbol}&contractType=PERPETUAL"
                _, _, page = await rest(ex, f"{path}&interval=1s&startTime={start}&limit=1500")
                seconds += page
                if len(page) < 1500:
                    break
                start = page[-1][0] + 1_000
            assert any(r[8] == 0 for r in seconds)  # seconds without a trade are in there
            for interval, ms in (("1m", 60_000), ("5m", 300_000), ("15m", 900_000)):
                _, _, klines = await rest(
                    ex, f"/fapi/v1/klines?symbol={symbol}&interval={interval}&startTime=0"
                )
                assert klines == fold_klines(seconds, ms, spec)


async def test_kline_requests_follow_binance(sim_tape: TradeTape) -> None:
    async with EmbeddedExchange(sim_tape, speed=0) as ex:
        _, _, rows = await rest(ex, "/fapi/v1/klines?symbol=BTCUSDT&interval=1m")
        assert rows == []  # nothing published yet: no kline before the first trade
        async with await open_stream(ex, "/market/stream?streams=btcusdt@aggTrade"):
            await asyncio.wait_for(ex.finished.wait(), 10)
        now = int(ex.now_ms())
        status, _, body = await rest(ex, "/fapi/v1/klines?symbol=BTCUSDT&interval=1s")
        assert (status, body) == (400, {"code": -1120, "msg": "Invalid interval."})
        base = "/fapi/v1/continuousKlines?pair=BTCUSDT&contractType=PERPETUAL&interval=1s"
        _, _, latest = await rest(ex, f"{base}&limit=3")
        assert [r[0] for r in latest] == [now // 1000 * 1000 - 2000 + 1000 * i for i in range(3)]
        assert all(r[6] == r[0] + 999 for r in latest)
        _, _, upto = await rest(ex, f"{base}&limit=2&endTime={now - 5_000}")
        last_open = (now - 5_000) // 1000 * 1000
        assert [r[0] for r in upto] == [last_open - 1000, last_open]
        _, _, first = await rest(ex, f"{base}&limit=2&startTime=0")
        assert first[0][0] == sim_tape.start_ms // 1000 * 1000  # none before the first trade
        _, _, after = await rest(ex, f"{base}&limit=2&startTime={sim_tape.start_ms + 1}")
        assert after[0][0] == sim_tape.start_ms // 1000 * 1000 + 1000  # opens at or after
        _, _, none = await rest(ex, f"{base}&startTime={now + 10_000}")
        assert none == []  # nothing in the future
        for query, code in (
            ("&limit=1501", -1130),
            ("&limit=0", -1130),
            ("&startTime=5&endTime=4", -1023),
            ("&limit=x", -1100),
        ):
            status, _, body = await rest(ex, base + query)
            assert (status, body["code"]) == (400, code), query
        status, _, body = await rest(ex, "/fapi/v1/klines?symbol=NOPEUSDT&interval=1m")
        assert (status, body["code"]) == (400, -1121)
        status, _, body = await rest(ex, "/fapi/v1/klines?symbol=BTCUSDT")
        assert (status, body["code"]) == (400, -1102)
        status, _, body = await rest(ex, "/fapi/v1/continuousKlines?pair=BTCUSDT&interval=1m")
        assert (status, body["code"]) == (400, -1102)
        _, _, default = await rest(ex, base)
        seconds = now // 1000 - sim_tape.start_ms // 1000 + 1
        assert len(default) == seconds < 500  # the default limit is 500
        _, _, minutes = await rest(ex, "/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=99")
        assert minutes[-1][0] == now // 60_000 * 60_000  # the minute of "now", partial
    kline_calls = [(c.path, c.weight) for c in ex.rest_calls if c.status == 200]
    assert kline_calls[-2:] == [("/fapi/v1/continuousKlines", 5), ("/fapi/v1/klines", 1)]
    assert kline_calls[1] == ("/fapi/v1/continuousKlines", 1)  # limit=3


def row_times(rows: list[dict[str, Any]]) -> list[int]:
    return [r["T"] for r in rows]


async def test_agg_trades_by_time(packaged_tape: TradeTape) -> None:
    btc = [t for t in packaged_tape.trades if t.symbol == "BTCUSDT"]
    async with EmbeddedExchange(
        packaged_tape, speed=0, wait_for_subscriber=False, trade_retention_ms=300_000
    ) as ex:
        await asyncio.wait_for(ex.finished.wait(), 10)
        base = "/fapi/v1/aggTrades?symbol=BTCUSDT"
        t = btc[len(btc) // 2].time
        _, _, rows = await rest(ex, f"{base}&startTime={t}&endTime={t + 2_000}&limit=1000")
        expected = [x for x in btc if t <= x.time <= t + 2_000]
        assert [r["a"] for r in rows] == [x.id for x in expected]
        assert rows[0]["T"] >= t and rows[-1]["T"] <= t + 2_000
        _, _, rows = await rest(ex, f"{base}&startTime={t + 1}&limit=5")
        assert [r["a"] for r in rows] == [x.id for x in btc if x.time > t][:5]
        _, _, rows = await rest(ex, f"{base}&endTime={t}&limit=5")
        assert [r["a"] for r in rows] == [x.id for x in btc if x.time <= t][-5:]
        status, _, body = await rest(ex, f"{base}&startTime={t}&endTime={t + 3_600_001}")
        assert (status, body["code"]) == (400, -1127)
        status, _, _ = await rest(ex, f"{base}&startTime={t}&endTime={t + 3_600_000}")
        assert status == 200
        old = int(ex.now_ms()) - 300_001  # the tape is 6 minutes long, retention 5 here
        status, _, body = await rest(ex, f"{base}&startTime={old}")
        assert (status, body) == (
            400,
            {"code": -4166, "msg": "Search window is restricted to recent 2 days only."},
        )
        status, _, body = await rest(ex, f"{base}&startTime={t}&fromId={btc[0].id}")
        assert (status, body["code"]) == (400, -1128)
