"""Bar CSVs become PairBars on one grid, forward-filled as the bar builder fills them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairs_tui.bars import BarAggregator
from pairs_tui.feed.replay.files import ReplayError
from pairs_tui.feed.replay.source import ReplaySource
from pairs_tui.records import Bar, PairBar

from .conftest import FakeClock, Recorder, write

T0 = 1723161240000  # 2024-08-08 23:54:00 UTC, on the minute
HEADER = "ts,open,high,low,close,volume\n"


async def replay(paths: list[Path], **kwargs: object) -> tuple[ReplaySource, Recorder]:
    source = ReplaySource(paths, ("BTCUSDT", "ETHUSDT"), **kwargs)  # type: ignore[arg-type]
    sink = Recorder()
    await source.run(sink)
    return source, sink


async def test_two_bar_files_on_one_filled_grid(tmp_path: Path) -> None:
    btc = write(
        tmp_path / "BTCUSDT-1m.csv",
        HEADER + f"{T0},100,101,99,100.5,2\n{T0 + 120_000},100.5,102,100,101,3\n",
    )  # 23:55 missing
    eth = write(
        tmp_path / "ETHUSDT-1m.csv",
        HEADER + f"{T0 + 60_000},50,51,49,50.5,4\n"  # starts a minute later
        f"{T0 + 120_000},50.5,50.5,50,50,0\n",
    )
    source, sink = await replay([btc, eth])
    assert source.timeframe_ms == 60_000
    assert sink.bars == [
        (PairBar(T0, Bar(100, 101, 99, 100.5, 2, 1), None), 60_000),
        (PairBar(T0 + 60_000, Bar.flat(100.5), Bar(50, 51, 49, 50.5, 4, 1)), 60_000),
        (
            PairBar(T0 + 120_000, Bar(100.5, 102, 100, 101, 3, 1), Bar(50.5, 50.5, 50, 50, 0, 0)),
            60_000,
        ),
    ]
    assert source.status.state == "done" and source.status.messages == 3


async def test_iso_times_symbol_column_and_headerless(tmp_path: Path) -> None:
    both = write(
        tmp_path / "pair-bars.csv",
        "Timestamp,Symbol,Open,High,Low,Close,Volume\n"
        "2024-08-08T23:54:00Z,btcusdt,100,101,99,100.5,2\n"
        "2024-08-08 23:54:00,ETHUSDT,50,51,49,50.5,4\n"
        "2024-08-08T23:54:01+00:00,BTCUSDT,100.5,100.5,100.5,100.5,0\n"
        "2024-08-08T23:54:02.000Z,KEEPUSDT,1,1,1,1,1\n",
    )
    _, sink = await replay([both])
    assert [(bar.ts, tf) for bar, tf in sink.bars] == [(T0, 1_000), (T0 + 1_000, 1_000)]
    assert sink.bars[1][0].b == Bar.flat(50.5)


async def test_headerless_bars_in_seconds(tmp_path: Path) -> None:
    files = [
        write(
            tmp_path / f"{s}_5m.csv",
            f"{T0 // 1000},1,2,0.5,1.5,10\n{T0 // 1000 + 300},1.5,2,1,1,0\n",
        )
        for s in ("BTCUSDT", "ETHUSDT")
    ]
    source, sink = await replay(files)
    assert source.timeframe_ms == 300_000
    assert [bar.ts for bar, _ in sink.bars] == [T0, T0 + 300_000]


async def test_klines_keep_their_trade_count(tmp_path: Path) -> None:
    def kline(ts: int, count: int) -> str:
        return f"{ts},1.0,2.0,0.5,1.5,10.0,{ts + 999},15.0,{count},5.0,7.5,0\n"

    files = [
        write(tmp_path / f"{s}-1s-2024-08-08.csv", kline(T0, 42) + kline(T0 + 1000, 7))
        for s in ("BTCUSDT", "ETHUSDT")
    ]
    _, sink = await replay(files)
    assert [bar.a.trades for bar, _ in sink.bars if bar.a] == [42, 7]


async def test_bars_fold_into_a_longer_timeframe(tmp_path: Path) -> None:
    # Without a count column a bar with volume counts as traded, so the 1m fold keeps its
    # open, high and low instead of treating it as flat.
    rows = "".join(
        f"{T0 + i * 1000},{100 + i},{101 + i},{99 + i},{100.5 + i},1\n" for i in range(60)
    )
    files = [write(tmp_path / f"{s}-1s.csv", HEADER + rows) for s in ("BTCUSDT", "ETHUSDT")]
    _, sink = await replay(files)
    fold = BarAggregator(60_000)
    minute = [b for bar, _ in sink.bars if (b := fold.add(bar)) is not None]
    assert minute == [
        PairBar(T0, Bar(100, 160, 99, 159.5, 60, 60), Bar(100, 160, 99, 159.5, 60, 60))
    ]


async def test_paced_bars_arrive_when_the_clock_passes_their_end(tmp_path: Path) -> None:
    rows = "".join(f"{T0 + i * 60_000},1,1,1,1,1\n" for i in range(5))
    files = [write(tmp_path / f"{s}-1m.csv", HEADER + rows) for s in ("BTCUSDT", "ETHUSDT")]
    clock = FakeClock()
    start = clock.now
    source = ReplaySource(files, ("BTCUSDT", "ETHUSDT"), speed=60.0, clock=clock, sleep=clock.sleep)
    arrivals: list[float] = []

    class Timed(Recorder):
        def on_bar(self, bar: PairBar, timeframe_ms: int) -> None:
            arrivals.append(clock.now - start)

    await source.run(Timed())
    assert arrivals == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0], abs=0.011)
    assert source.exchange_now_ms() == T0 + 5 * 60_000


def bar_files(tmp_path: Path, btc: str, eth: str) -> list[Path]:
    return [
        write(tmp_path / "BTCUSDT-bars.csv", HEADER + btc),
        write(tmp_path / "ETHUSDT-bars.csv", HEADER + eth),
    ]


def test_legs_on_different_timeframes(tmp_path: Path) -> None:
    files = bar_files(
        tmp_path,
        f"{T0},1,1,1,1,1\n{T0 + 60_000},1,1,1,1,1\n",
        "".join(f"{T0 + i * 300_000},1,1,1,1,1\n" for i in range(11)),
    )
    with pytest.raises(
        ReplayError, match="BTCUSDT bars are 60,000 ms apart but ETHUSDT bars 300,000 ms"
    ):
        ReplaySource(files, ("BTCUSDT", "ETHUSDT"))


def test_unsupported_timeframe(tmp_path: Path) -> None:
    files = bar_files(
        tmp_path,
        f"{T0},1,1,1,1,1\n{T0 + 900_000},1,1,1,1,1\n",
        f"{T0},1,1,1,1,1\n{T0 + 900_000},1,1,1,1,1\n",
    )
    with pytest.raises(
        ReplayError, match="bars are 900,000 ms apart; replay takes bars of 1s, 1m, 5m only"
    ):
        ReplaySource(files, ("BTCUSDT", "ETHUSDT"))


def test_bar_off_the_grid_names_its_line(tmp_path: Path) -> None:
    files = bar_files(
        tmp_path,
        f"{T0},1,1,1,1,1\n{T0 + 60_000},1,1,1,1,1\n",
        f"{T0},1,1,1,1,1\n{T0 + 90_000},1,1,1,1,1\n{T0 + 150_000},1,1,1,1,1\n",
    )
    with pytest.raises(ReplayError) as caught:
        ReplaySource(files, ("BTCUSDT", "ETHUSDT"))
    assert str(caught.value) == (
        f"{files[1]} line 3: a bar at {T0 + 90_000} ms is off the "
        f"60,000 ms grid that starts at {T0} ms"
    )


def test_conflicting_bars_for_one_bucket(tmp_path: Path) -> None:
    files = bar_files(
        tmp_path,
        f"{T0},1,1,1,1,1\n{T0 + 60_000},1,1,1,1,1\n{T0 + 60_000},1,2,1,2,1\n",
        f"{T0},1,1,1,1,1\n{T0 + 60_000},1,1,1,1,1\n",
    )
    with pytest.raises(ReplayError, match=r"line 3: a different BTCUSDT bar at .* than .* line 4"):
        ReplaySource(files, ("BTCUSDT", "ETHUSDT"))


def test_inconsistent_bar_is_malformed(tmp_path: Path) -> None:
    rows = [f"{T0 + i * 1000},1,1,1,1,1\n" for i in range(100)]
    rows[7] = f"{T0 + 7000},1,0.5,1,1,1\n"  # high below open
    files = bar_files(tmp_path, "".join(rows), "".join(rows))
    source = ReplaySource(files, ("BTCUSDT", "ETHUSDT"))
    assert source.status.malformed == 2
    assert source.size == 100  # the hole is forward-filled
