"""History against the embedded exchange over loopback: bars from klines equal the bars the app
builds from the same trades; only what the store lacks is asked for; 429, 418, damaged files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairs_tui.bars import BarAggregator, BarBuilder
from pairs_tui.exchange.market import recorded_market
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import SymbolSpec, TradeTape
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.feed.weight import WeightBudget
from pairs_tui.history.align import pair_bars
from pairs_tui.history.fetch import History, HistoryStopped
from pairs_tui.history.store import HistoryStore
from pairs_tui.records import Bar, PairBar, Trade

KLINES = ("/fapi/v1/klines", "/fapi/v1/continuousKlines")
SPECS = {
    "BTCUSDT": SymbolSpec("BTCUSDT", "0.10", "0.001"),
    "DOGEUSDT": SymbolSpec("DOGEUSDT", "0.000010", "1"),
}
PAIR = ("BTCUSDT", "DOGEUSDT")
DAY = 86_400_000
START_MS = 19_945 * DAY - 7 * 60_000 + 123
"""Seven minutes before a UTC midnight: every tape spans two date partitions."""
TIMEFRAMES = {"1s": 1_000, "1m": 60_000, "5m": 300_000}


def tape_of(steps: dict[str, list[tuple[int, int, int, bool]]]) -> TradeTape:
    """Trades of each symbol: after each gap (ms), a price move in ticks, a size in steps."""
    fills: list[tuple[str, int, float, float, bool, int]] = []
    levels = {"BTCUSDT": 618_003, "DOGEUSDT": 10_512}
    for symbol, draws in steps.items():
        spec = SPECS[symbol]
        tick, step = float(spec.tick_size), float(spec.step_size)
        t, ticks = START_MS, levels[symbol]
        for i, (gap, move, size, maker) in enumerate(draws):
            t += gap
            ticks += move
            price = round(ticks * tick, spec.price_decimals)
            fills.append((symbol, t, price, round(size * step, spec.qty_decimals), maker, i))
    fills.sort(key=lambda f: f[1])
    return TradeTape.from_fills(fills, SPECS)


def built_bars(tape: TradeTape, timeframe_ms: int) -> list[PairBar]:
    """What the app builds from the same trades: BarBuilder at 1s, folded by BarAggregator."""
    builder = BarBuilder(PAIR, 1_000)
    trades = (Trade(t.symbol, t.time, t.price, t.qty, t.buyer_maker, t.id) for t in tape.trades)
    seconds = builder.add_many(trades) + builder.flush()
    if timeframe_ms == 1_000:
        return seconds
    fold = BarAggregator(timeframe_ms, 1_000)
    out = [bar for second in seconds if (bar := fold.add(second)) is not None]
    last = fold.flush()
    return [*out, last] if last is not None else out


def to_step(bar: Bar | None, decimals: int) -> Bar | None:
    """The bar with its volume at the symbol's step: klines print the exact decimal sum, the
    builder adds floats."""
    if bar is None:
        return None
    return Bar(bar.open, bar.high, bar.low, bar.close, round(bar.volume, decimals), bar.trades)


def at_step(bars: list[PairBar]) -> list[PairBar]:
    qa, qb = (SPECS[s].qty_decimals for s in PAIR)
    return [PairBar(p.ts, to_step(p.a, qa), to_step(p.b, qb)) for p in bars]


@pytest.fixture
async def published(sim_tape: TradeTape) -> AsyncIterator[EmbeddedExchange]:
    """The small simulation, all published; klines count aggregate trades as our bars do."""
    async with EmbeddedExchange(
        sim_tape, speed=0, wait_for_subscriber=False, kline_trades="aggregates"
    ) as ex:
        await asyncio.wait_for(ex.finished.wait(), 10)
        yield ex


@pytest.fixture(scope="module")
def quarter_hour() -> TradeTape:
    """A quarter of an hour of the simulation from 23:54:16 UTC: minutes on two dates."""
    return simulated_tape(duration_s=900.0, rate_per_s=(2.0, 1.0), seed=5)


@pytest.fixture
async def minutes(quarter_hour: TradeTape) -> AsyncIterator[EmbeddedExchange]:
    """The quarter of an hour, all published."""
    async with EmbeddedExchange(
        quarter_hour, speed=0, wait_for_subscriber=False, kline_trades="aggregates"
    ) as ex:
        await asyncio.wait_for(ex.finished.wait(), 10)
        yield ex


def kline_calls(ex: EmbeddedExchange) -> list[dict[str, str]]:
    """The query of every kline request the exchange answered, in order."""
    return [
        {k: v[0] for k, v in parse_qs(c.query).items()} | {"status": str(c.status)}
        for c in ex.rest_calls
        if c.path in KLINES
    ]


async def klines_equal_built_bars(tape: TradeTape, root: Path) -> None:
    async with EmbeddedExchange(
        tape, speed=0, wait_for_subscriber=False, kline_trades="aggregates"
    ) as ex:
        await asyncio.wait_for(ex.finished.wait(), 10)
        now = int(ex.now_ms())
        history = History(BinanceRest(ex.rest_url), HistoryStore(root))
        for name, ms in TIMEFRAMES.items():
            start = START_MS - START_MS % ms - 3 * ms
            a, b = (await history.bars_of(PAIR, name, start, now + 10 * ms)).values()
            closed = (now - 1_000) // ms * ms  # a bar is stored a second after its end
            got = pair_bars(a, b, start, closed, ms)

            built = [bar for bar in built_bars(tape, ms) if bar.ts < closed]
            assert at_step(got[len(got) - len(built) :]) == at_step(built), name
            assert all(p.a is None and p.b is None for p in got[: len(got) - len(built)])


GAP = st.one_of(
    st.integers(0, 999), st.integers(1_000, 5_000), st.integers(60_000, 400_000), st.just(0)
)
DRAW = st.tuples(GAP, st.integers(-3, 3), st.integers(1, 40), st.booleans())


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(btc=st.lists(DRAW, min_size=1, max_size=30), doge=st.lists(DRAW, min_size=1, max_size=30))
def test_bars_from_klines_equal_bars_built_from_the_same_trades(
    btc: list[tuple[int, int, int, bool]],
    doge: list[tuple[int, int, int, bool]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tape = tape_of({"BTCUSDT": btc, "DOGEUSDT": doge})
    asyncio.run(klines_equal_built_bars(tape, tmp_path_factory.mktemp("history")))


async def test_a_restart_with_a_warm_store_asks_for_nothing_it_has(
    published: EmbeddedExchange, sim_tape: TradeTape, tmp_path: Path
) -> None:
    t0 = sim_tape.start_ms - sim_tape.start_ms % 1_000
    start, end = t0 - 5_000, t0 + 15_000
    first = History(BinanceRest(published.rest_url), HistoryStore(tmp_path))
    fetched = await first.bars_of(["BTCUSDT", "ETHUSDT"], "1s", start, end)
    asked = len(kline_calls(published))
    assert asked == 2

    again = History(BinanceRest(published.rest_url), HistoryStore(tmp_path))
    warm = await again.bars_of(["BTCUSDT", "ETHUSDT"], "1s", start, end)
    assert warm.keys() == fetched.keys()
    assert all(warm[s].equals(fetched[s]) for s in warm)
    assert len(kline_calls(published)) == asked
    assert (await again.plan(["BTCUSDT", "ETHUSDT"], "1s", start, end)).requests == 0

    # A wider range asks for the new part only.
    await again.bars("ETHUSDT", "1s", start, end + 3_000)
    [newer] = kline_calls(published)[asked:]
    assert (newer["pair"], newer["startTime"], newer["limit"]) == ("ETHUSDT", str(end), "3")


async def test_seconds_come_from_continuous_klines_and_minutes_from_klines(
    minutes: EmbeddedExchange, quarter_hour: TradeTape, tmp_path: Path
) -> None:
    history = History(BinanceRest(minutes.rest_url), HistoryStore(tmp_path))
    t0 = quarter_hour.start_ms
    await history.bars("BTCUSDT", "1s", t0, t0 + 2_000)
    await history.bars("BTCUSDT", "1m", t0, t0 + 180_000)
    await history.bars("BTCUSDT", "5m", t0, t0 + 600_000)
    calls = [(c.path, parse_qs(c.query)) for c in minutes.rest_calls if c.path in KLINES]
    assert [(path, q["interval"]) for path, q in calls] == [
        ("/fapi/v1/continuousKlines", ["1s"]),
        ("/fapi/v1/klines", ["1m"]),
        ("/fapi/v1/klines", ["5m"]),
    ]
    assert calls[0][1]["pair"] == ["BTCUSDT"]
    assert calls[0][1]["contractType"] == ["PERPETUAL"]
    assert calls[1][1]["symbol"] == ["BTCUSDT"]


async def test_a_window_of_300_bars_of_each_timeframe_costs_6_requests_of_weight_12(
    tmp_path: Path,
) -> None:
    # The recording with 26 hours of past before it: what the demo's warm start reads.
    tape = recorded_market(past_s=26 * 3_600)
    async with EmbeddedExchange(tape, speed=0) as ex:
        history = History(BinanceRest(ex.rest_url), HistoryStore(tmp_path))
        now = int(ex.now_ms())
        for name, ms in TIMEFRAMES.items():
            end = (now - 1_000) // ms * ms
            plan = await history.plan(["BTCUSDT", "ETHUSDT"], name, end - 300 * ms, end)
            assert (plan.requests, plan.weight) == (2, 4)
            got = await history.bars_of(["BTCUSDT", "ETHUSDT"], name, end - 300 * ms, end)
            assert [len(frame) for frame in got.values()] == [300, 300]

    klines = [c for c in ex.rest_calls if c.path in KLINES]
    assert [(c.status, c.weight) for c in klines] == [(200, 2)] * 6


async def test_calls_at_the_same_time_read_the_exchange_clock_once(
    minutes: EmbeddedExchange, quarter_hour: TradeTape, tmp_path: Path
) -> None:
    history = History(BinanceRest(minutes.rest_url), HistoryStore(tmp_path))
    t0 = quarter_hour.start_ms
    frames = await asyncio.gather(
        *(
            history.bars(symbol, name, t0 - 300 * ms, t0 + 600_000)
            for name, ms in TIMEFRAMES.items()
            for symbol in ("BTCUSDT", "ETHUSDT")
        )
    )

    assert all(len(frame) for frame in frames)
    assert [c.path for c in minutes.rest_calls].count("/fapi/v1/time") == 1


async def test_the_plan_counts_the_requests_and_weight_progress_then_reports(
    published: EmbeddedExchange, sim_tape: TradeTape, tmp_path: Path
) -> None:
    history = History(BinanceRest(published.rest_url), HistoryStore(tmp_path))
    start, end = sim_tape.start_ms, sim_tape.start_ms + 1_100_000
    plan = await history.plan(["BTCUSDT", "ETHUSDT"], "1s", start, end)
    # 20 s of tape: each symbol's seconds up to the last closed one, in pages of 499.
    assert [len(r.pages) for r in plan.ranges] == [1, 1]
    seen: list[tuple[int, int]] = []

    await history.fetch(plan, progress=lambda done, total: seen.append((done, total)))

    assert seen == [(0, 2), (1, 2), (2, 2)]
    answered = [c for c in published.rest_calls if c.path in KLINES]
    assert len(answered) == plan.requests
    assert sum(c.weight for c in answered) == plan.weight


async def test_the_open_bar_is_never_stored(
    published: EmbeddedExchange, sim_tape: TradeTape, tmp_path: Path
) -> None:
    store = HistoryStore(tmp_path)
    history = History(BinanceRest(published.rest_url), store)
    now = int(published.now_ms())
    bars = await history.bars("BTCUSDT", "1s", sim_tape.start_ms - 1_000, now + 60_000)

    closed = (now - 1_000) // 1_000 * 1_000
    assert bars["ts"].max() == closed - 1_000
    assert store.missing("BTCUSDT", "1s", sim_tape.start_ms, now + 60_000) == [
        (closed, now // 1_000 * 1_000 + 61_000)
    ]


async def test_the_range_before_a_listing_is_remembered_empty(
    published: EmbeddedExchange, sim_tape: TradeTape, tmp_path: Path
) -> None:
    history = History(BinanceRest(published.rest_url), HistoryStore(tmp_path))
    start = sim_tape.start_ms - 600_000
    first = await history.bars("ETHUSDT", "1s", start, sim_tape.start_ms + 5_000)
    assert first["ts"].min() == sim_tape.start_ms - sim_tape.start_ms % 1_000
    asked = len(kline_calls(published))

    again = await history.bars("ETHUSDT", "1s", start, sim_tape.start_ms + 5_000)

    assert again.equals(first)
    assert len(kline_calls(published)) == asked


async def test_a_429_is_waited_out_and_the_bars_arrive(
    published: EmbeddedExchange, sim_tape: TradeTape, tmp_path: Path
) -> None:
    # Weight windows of a tenth of a second rather than a minute, so that the wait is short.
    rest = BinanceRest(published.rest_url, budget=WeightBudget(window_ms=100))
    history = History(rest, HistoryStore(tmp_path))
    t0 = sim_tape.start_ms - sim_tape.start_ms % 1_000
    await history.bars("ETHUSDT", "1s", t0, t0 + 5_000)  # the exchange clock is known now
    published.faults.too_many_requests = 1
    published.faults.retry_after_s = 0

    bars = await history.bars("BTCUSDT", "1s", t0, t0 + 5_000)

    assert [(c["pair"], c["status"]) for c in kline_calls(published)[1:]] == [
        ("BTCUSDT", "429"),
        ("BTCUSDT", "200"),
    ]
    assert bars["ts"].to_list() == list(range(t0, t0 + 5_000, 1_000))


async def test_a_418_stops_history_and_the_store_keeps_what_it_had(
    published: EmbeddedExchange, sim_tape: TradeTape, tmp_path: Path
) -> None:
    store = HistoryStore(tmp_path)
    history = History(BinanceRest(published.rest_url), store)
    start = sim_tape.start_ms - sim_tape.start_ms % 1_000
    kept = await history.bars("BTCUSDT", "1s", start, start + 5_000)
    files = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}

    published.faults.ban_next = True
    with pytest.raises(HistoryStopped, match=r"history stopped until .*banned this IP") as caught:
        await history.bars("BTCUSDT", "1s", start, start + 15_000)
    asked = len(published.rest_calls)
    # Stopped until the ban ends: nothing more is asked meanwhile.
    with pytest.raises(HistoryStopped) as again:
        await history.bars("ETHUSDT", "1m", start - 600_000, start)

    assert again.value is caught.value
    assert len(published.rest_calls) == asked
    assert caught.value.until_ms > published.now_ms()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == files
    assert store.read("BTCUSDT", "1s", start, start + 15_000).equals(kept)


async def test_a_damaged_partition_is_fetched_again(
    minutes: EmbeddedExchange, quarter_hour: TradeTape, tmp_path: Path
) -> None:
    store = HistoryStore(tmp_path)
    history = History(BinanceRest(minutes.rest_url), store)
    start, end = quarter_hour.start_ms - 120_000, quarter_hour.start_ms + 900_000
    first = await history.bars("BTCUSDT", "1m", start, end)
    asked = kline_calls(minutes)
    _, after = sorted(tmp_path.rglob("*.parquet"))  # 23:52 to 00:09: two dates
    data = after.read_bytes()
    after.write_bytes(data[: len(data) // 2])

    again = await history.bars("BTCUSDT", "1m", start, end)

    assert again.equals(first)
    closed = (int(minutes.now_ms()) - 1_000) // 60_000 * 60_000
    first_minute = quarter_hour.start_ms // 60_000 * 60_000
    assert first["ts"].to_list() == list(range(first_minute, closed, 60_000))
    [refetch] = kline_calls(minutes)[len(asked) :]
    assert int(refetch["startTime"]) % DAY == 0  # the second date only
    assert after.read_bytes() == data


async def test_a_418_in_the_middle_of_a_range_keeps_the_pages_before_it(
    published: EmbeddedExchange, sim_tape: TradeTape, tmp_path: Path
) -> None:
    store = HistoryStore(tmp_path)
    # One request at a time, 5 bars a page: 15 seconds are three pages, in order.
    history = History(BinanceRest(published.rest_url), store, concurrency=1, page_limit=5)
    t0 = sim_tape.start_ms - sim_tape.start_ms % 1_000 + 1_000

    def ban_after_two(done: int, total: int) -> None:
        if done == 2:
            published.faults.ban_next = True

    with pytest.raises(HistoryStopped):
        await history.bars("BTCUSDT", "1s", t0, t0 + 15_000, progress=ban_after_two)

    assert [c["status"] for c in kline_calls(published)] == ["200", "200", "418"]
    assert store.read("BTCUSDT", "1s", t0, t0 + 15_000)["ts"].to_list() == list(
        range(t0, t0 + 10_000, 1_000)
    )
    assert store.missing("BTCUSDT", "1s", t0, t0 + 15_000) == [(t0 + 10_000, t0 + 15_000)]


async def test_a_418_on_the_clock_request_stops_history_too(
    published: EmbeddedExchange, sim_tape: TradeTape, tmp_path: Path
) -> None:
    history = History(BinanceRest(published.rest_url), HistoryStore(tmp_path))
    published.faults.ban_next = True

    with pytest.raises(HistoryStopped, match=r"banned this IP for too many requests \(HTTP 418\)"):
        await history.bars("BTCUSDT", "1s", sim_tape.start_ms, sim_tape.start_ms + 5_000)

    assert [(c.path, c.status) for c in published.rest_calls] == [("/fapi/v1/time", 418)]
    assert not list(tmp_path.rglob("*.parquet"))
