"""The tapes: the packaged recording aggregated as Binance does, the seeded simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pairs_tui.exchange.simulation import simulated_tape
from pairs_tui.exchange.tape import TradeTape


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
