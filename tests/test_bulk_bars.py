"""The bulk path of a full-speed replay equals the live bar builder.

A replay at ``--speed 0`` takes its trades a batch at a time (:meth:`BarBuilder.add_frame`,
:meth:`Pipeline.on_trade_frame`) instead of one :class:`Trade` at a time. The live builder stays
the definition: over random tapes (silent stretches, several trades in one millisecond, ids with
gaps, one leg starting late), on every timeframe and for any way of cutting the tape into
batches, the bulk path gives the same bars, the same late count and the same headless lines.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairs_tui import bars
from pairs_tui.bars import BarBuilder
from pairs_tui.buckets import TRADE_COLUMNS, summed_in_order, trades_of
from pairs_tui.config import Settings
from pairs_tui.feed.replay.source import ReplaySource
from pairs_tui.headless import HeadlessWriter
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import BarTimeframe, PairBar, Trade

PAIR = ("BTCUSDT", "ETHUSDT")


@st.composite
def tapes(draw: st.DrawFn) -> list[Trade]:
    """Both legs in trade-time order, as a replay merges them: each leg's ids rising with
    gaps, several trades a millisecond, pauses from none to many buckets long."""
    trades: list[Trade] = []
    for symbol in PAIR:
        n = draw(st.integers(0, 60))
        t = draw(st.integers(0, 400_000))
        next_id = draw(st.integers(1, 10**6))
        for _ in range(n):
            t += draw(st.sampled_from([0, 0, 1, 7, 250, 999, 1_000, 4_321, 61_000, 700_000]))
            next_id += draw(st.sampled_from([1, 1, 1, 2, 50]))
            price = draw(st.sampled_from([99.5, 100.0, 100.25, 101.0, 0.1 + 0.2]))
            qty = draw(st.sampled_from([0.001, 0.1, 0.3, 1.5, 7.0 / 3.0]))
            trades.append(Trade(symbol, t, price, qty, draw(st.booleans()), next_id))
    # The replay's order: time, then leg (target first), then id.
    return sorted(trades, key=lambda tr: (tr.time, PAIR.index(tr.symbol), tr.id))


def frame_of(trades: list[Trade]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "leg": [PAIR.index(t.symbol) for t in trades],
            "time": [t.time for t in trades],
            "price": [t.price for t in trades],
            "qty": [t.qty for t in trades],
            "buyer_maker": [t.buyer_maker for t in trades],
            "id": [t.id for t in trades],
        },
        schema={
            "leg": pl.UInt8,
            "time": pl.Int64,
            "price": pl.Float64,
            "qty": pl.Float64,
            "buyer_maker": pl.Boolean,
            "id": pl.Int64,
        },
    ).select(TRADE_COLUMNS)


class BulkOnly(BarBuilder):
    """A builder that fails if a batch falls back to the row-by-row path."""

    def add_many(self, trades: Iterable[Trade]) -> list[PairBar]:
        raise AssertionError("a replay-ordered batch went row by row")


@pytest.fixture(params=[True, False], ids=["C", "numpy"])
def compiled(request: pytest.FixtureRequest) -> Iterator[None]:
    """A batch's buckets folded in C (:func:`pairs_tui._runs.fold_leg`), or by numpy as where
    the extension could not be built."""
    if request.param and bars._fold_leg is None:
        pytest.skip("built without a C compiler")
    with pytest.MonkeyPatch.context() as patch:
        if not request.param:
            patch.setattr(bars, "_fold_leg", None)
        yield


@pytest.mark.usefixtures("compiled")
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tape=tapes(), tf=st.sampled_from([1_000, 60_000, 300_000]), data=st.data())
def test_bulk_bars_equal_the_live_builder(tape: list[Trade], tf: int, data: st.DataObject) -> None:
    live = BarBuilder(PAIR, tf)
    expected: list[PairBar] = []
    for trade in tape:
        expected.extend(live.add(trade))
    bulk = BulkOnly(PAIR, tf)
    got: list[PairBar] = []
    frame = frame_of(tape)
    cuts = [0, *data.draw(st.lists(st.integers(0, len(tape)), max_size=5)), len(tape)]
    cuts.sort()
    for a, b in itertools.pairwise(cuts):
        got.extend(bulk.add_frame(frame.slice(a, b - a)))
    assert got == expected
    assert (bulk.late, bulk.late_by_symbol) == (live.late, live.late_by_symbol)
    # The state left behind is the live one: the rest of the run, and the end, agree.
    more = Trade(PAIR[1], (tape[-1].time if tape else 0) + 3 * tf, 50.0, 1.0, False, 10**9)
    assert bulk.add(more) == live.add(more)
    assert bulk.flush() == live.flush()


@pytest.mark.usefixtures("compiled")
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tape=tapes(), tf=st.sampled_from([1_000, 60_000]), data=st.data())
def test_batches_and_single_trades_mix(tape: list[Trade], tf: int, data: st.DataObject) -> None:
    """A screen may switch to tick rows and back during a replay: the pipeline then gives the
    builder single trades between batches. The two paths hand their state to each other."""
    live = BarBuilder(PAIR, tf)
    expected = live.add_many(tape) + live.flush()
    mixed = BarBuilder(PAIR, tf)
    got: list[PairBar] = []
    frame = frame_of(tape)
    cuts = [0, *data.draw(st.lists(st.integers(0, len(tape)), max_size=6)), len(tape)]
    cuts.sort()
    for a, b in itertools.pairwise(cuts):
        if data.draw(st.booleans()):
            got.extend(mixed.add_frame(frame.slice(a, b - a)))
        else:
            got.extend(mixed.add_many(tape[a:b]))
    got.extend(mixed.flush())
    assert got == expected
    assert mixed.late == live.late


@settings(max_examples=60, deadline=None)
@given(
    runs=st.lists(
        st.lists(st.sampled_from([0.001, 0.1, 0.2, 0.3, 7.0 / 3.0, 1e-9, 1e9]), min_size=1),
        min_size=1,
        max_size=40,
    ),
    busy=st.lists(st.integers(1, 12_000), max_size=3),
)
def test_volumes_are_summed_one_trade_at_a_time(runs: list[list[float]], busy: list[int]) -> None:
    """Bucket volumes in bulk are the live builder's running sums to the bit, also when a few
    buckets hold far more trades than the rest (a busy second among quiet ones)."""
    runs = runs + [[0.1, 0.2, 0.3, 7.0 / 3.0][: 1 + k % 4] * (k // 4 + 1) for k in busy]
    expected = []
    for run in runs:
        total = run[0]
        for qty in run[1:]:
            total += qty
        expected.append(total)
    values = np.array([q for run in runs for q in run])
    ends = np.cumsum([len(run) for run in runs])
    assert summed_in_order(values, ends).tolist() == expected


class RowByRow(Pipeline):
    """The pipeline as it was: every trade of a batch through :meth:`Pipeline.on_trade`."""

    def on_trade_frame(self, trades: pl.DataFrame) -> None:
        for trade in trades_of(trades, self.symbols):
            self.on_trade(trade)


def write_ndjson(folder: Path, tape: list[Trade]) -> Path:
    path = folder / "tape.ndjson"
    lines = [
        msgspec.json.encode(
            {
                "stream": f"{t.symbol.lower()}@aggTrade",
                "data": {
                    "e": "aggTrade",
                    "E": T0 + t.time + 5,
                    "a": t.id,
                    "s": t.symbol,
                    "p": repr(t.price),
                    "q": repr(t.qty),
                    "f": t.id,
                    "l": t.id,
                    "T": T0 + t.time,
                    "m": t.buyer_maker,
                },
            }
        )
        for t in tape
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


async def replayed(
    kind: type[Pipeline], path: Path, timeframe: BarTimeframe
) -> tuple[list[str], Pipeline]:
    out = io.StringIO()
    pipeline = kind(Settings(), ReplaySource([path], PAIR), PAIR, timeframe=timeframe, window=4)
    pipeline.add_bar_listener(HeadlessWriter(out))
    await pipeline.run()
    return out.getvalue().splitlines(), pipeline


T0 = 1_723_161_600_000


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tape=tapes(), timeframe=st.sampled_from(["1s", "1m", "5m"]))
def test_bulk_replay_writes_the_same_headless_lines(
    tape: list[Trade], timeframe: BarTimeframe
) -> None:
    if not {t.symbol for t in tape} >= set(PAIR):
        return  # a replay needs both legs in the file
    with tempfile.TemporaryDirectory() as tmp:
        path = write_ndjson(Path(tmp), tape)
        bulk_lines, bulk = asyncio.run(replayed(Pipeline, path, timeframe))
        row_lines, rows = asyncio.run(replayed(RowByRow, path, timeframe))
    assert bulk_lines == row_lines
    assert bulk.snapshot().quotes == rows.snapshot().quotes
    assert bulk.status == rows.status
    assert bulk.ticks().equals(rows.ticks())
