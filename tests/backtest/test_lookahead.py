"""No look-ahead: what the backtest decides at a bar depends on nothing after it, and every
decision fills at the next bar's close."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pairs_tui.backtest.engine import run
from pairs_tui.backtest.results import BacktestResult

from .test_engine import Row, bars_frame

rows_st = st.tuples(
    st.one_of(st.none(), st.floats(-4.5, 4.5)),
    st.one_of(st.none(), st.floats(-2.0, 2.0)),
    st.floats(1.0, 1000.0),
    st.floats(1.0, 1000.0),
)
levels_st = st.fixed_dictionaries(
    {
        "entry": st.sampled_from([1.0, 1.5, 2.0]),
        "exit": st.sampled_from([-0.5, 0.0, 0.5]),
        "stop": st.sampled_from([None, 3.0, 4.0]),
        "fee_bps": st.sampled_from([0.0, 4.0]),
        "price_mode": st.sampled_from(["log", "raw"]),
    }
)


@st.composite
def perturbed(draw: st.DrawFn) -> tuple[list[Row], list[Row], int]:
    """A history, the same history with every bar after ``k`` redrawn, and ``k``."""
    rows = draw(st.lists(rows_st, min_size=2, max_size=40))
    k = draw(st.integers(0, len(rows) - 1))
    tail = draw(st.lists(rows_st, min_size=len(rows) - k - 1, max_size=len(rows) - k - 1))
    return rows, rows[: k + 1] + tail, k


def decided_by(result: BacktestResult, k_ts: int) -> list[tuple[object, ...]]:
    """What was decided at or before bar ``k_ts``: entries, and exits among them."""
    out: list[tuple[object, ...]] = []
    for t in result.trades:
        if t.signal_ts <= k_ts:
            exit_decided = t.exit_signal_ts is not None and t.exit_signal_ts <= k_ts
            out.append(
                (
                    t.side,
                    t.signal_ts,
                    t.entry_z,
                    t.hedge,
                    t.exit_signal_ts if exit_decided else None,
                    t.exit_z if exit_decided else None,
                    t.exit_reason if exit_decided else None,
                )
            )
    return out


@settings(max_examples=400, deadline=None)
@given(perturbed(), levels_st)
def test_bars_after_a_signal_do_not_change_it(
    case: tuple[list[Row], list[Row], int],
    levels: dict[str, object],
) -> None:
    original, changed, k = case
    a = run(bars_frame(original), **levels)  # type: ignore[arg-type]
    b = run(bars_frame(changed), **levels)  # type: ignore[arg-type]
    k_ts = k * 1000
    assert decided_by(a, k_ts) == decided_by(b, k_ts)
    head = pl.col("ts") <= k_ts
    for column in ("target", "position", "equity"):
        assert a.equity.filter(head)[column].to_list() == b.equity.filter(head)[column].to_list()


@settings(max_examples=300, deadline=None)
@given(st.lists(rows_st, min_size=2, max_size=40), levels_st)
def test_every_fill_is_the_next_bars_close(rows: list[Row], levels: dict[str, object]) -> None:
    result = run(bars_frame(rows), **levels)  # type: ignore[arg-type]
    for t in result.trades:
        assert t.entry_ts == t.signal_ts + 1000
        fill = rows[t.entry_ts // 1000]
        assert (t.entry_price_a, t.entry_price_b) == (fill[2], fill[3])
        signal = rows[t.signal_ts // 1000]
        assert t.entry_z == signal[0]
        # Sized by the fit through the bar before the signal: the hedge its z-score used.
        assert t.hedge == rows[t.signal_ts // 1000 - 1][1]
        if t.exit_ts is not None:
            assert t.exit_signal_ts is not None
            assert t.exit_ts == t.exit_signal_ts + 1000
            out = rows[t.exit_ts // 1000]
            assert (t.exit_price_a, t.exit_price_b) == (out[2], out[3])
    # What is held after a bar's close is what the bar before decided.
    target = result.equity["target"].to_list()
    assert result.equity["position"].to_list()[1:] == target[:-1]


def test_the_signal_bars_own_close_is_not_the_fill() -> None:
    rows: list[Row] = [
        (None, 1.0, 100.0, 100.0),
        (2.5, 1.0, 100.0, 100.0),
        (1.0, 1.0, 104.0, 100.0),
        (0.0, 1.0, 104.0, 100.0),
    ]
    moved = [*rows[:1], (2.5, 1.0, 250.0, 100.0), *rows[2:]]
    for frame in (rows, moved):
        (trade,) = run(bars_frame(frame)).trades
        assert (trade.signal_ts, trade.entry_ts, trade.entry_price_a) == (1000, 2000, 104.0)
