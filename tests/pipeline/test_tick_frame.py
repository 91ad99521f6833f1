"""The tick timeframe: one row per trade, the other leg's price as of it, never a later one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pairs_tui.config import Settings
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import Trade
from pairs_tui.snapshot import ClosedBar
from sources import PAIR, ListSource, session_b_trades

_arrivals = st.lists(
    st.tuples(st.integers(0, 1), st.integers(0, 40), st.integers(1, 999)), min_size=2, max_size=120
)


@settings(max_examples=200, deadline=None)
@given(_arrivals)
def test_tick_rows_never_use_a_later_price(arrivals: list[tuple[int, int, int]]) -> None:
    # Each leg's trades go forward in time, but the legs interleave in any order, and a leg's
    # trade may arrive after the other leg's later ones (a slower stream).
    clock = [0, 0]
    ids = [0, 0]
    trades = []
    for leg, step, cents in arrivals:
        clock[leg] += step
        ids[leg] += 1
        trades.append(Trade(PAIR[leg], clock[leg], 100.0 + cents / 100, 1.0, False, ids[leg]))
    pipeline = Pipeline(Settings(), ListSource([]), PAIR, timeframe="tick", window=3)
    rows: list[ClosedBar] = []
    pipeline.add_bar_listener(rows.append)
    arrived: list[Trade] = []
    made = 0
    for trade in trades:
        arrived.append(trade)
        pipeline.on_trade(trade)
        if len(rows) == made:
            continue
        made = len(rows)
        row = rows[-1]
        assert row.timeframe == "tick" and row.bar.ts == trade.time
        leg = PAIR.index(trade.symbol)
        other = [t for t in arrived if t.symbol == PAIR[1 - leg] and t.time <= trade.time]
        latest = max(other, key=lambda t: (t.time, t.id))
        own, other_bar = (row.bar.a, row.bar.b) if leg == 0 else (row.bar.b, row.bar.a)
        assert own is not None and other_bar is not None
        assert other_bar.close == latest.price and own.close == trade.price
        assert own.trades == 1 and other_bar.trades == 0


def test_switching_to_ticks_mid_session_rebuilds_the_rows_from_the_trades_kept() -> None:
    trades = session_b_trades()[:3000]
    live = Pipeline(Settings(), ListSource([]), PAIR, timeframe="tick", window=50)
    switched = Pipeline(Settings(), ListSource([]), PAIR, window=50)
    for trade in trades:
        live.on_trade(trade)
        switched.on_trade(trade)
    switched.set_timeframe("tick")
    a, b = live.history("tick"), switched.history("tick")
    # Rows are built by trade time on a switch and by arrival live; session B arrives in
    # trade-time order per leg, so the two agree where the legs' times do not tie.
    assert a.height == b.height > 2900
    assert a["ts"].to_list() == b["ts"].to_list()
    latest = live.snapshot().latest
    assert latest is not None and latest.stats.zscore is not None
    assert switched.snapshot().latest is not None
    assert switched.snapshot().timeframe == "tick"
