"""The watch of a connection's legs, driven by hand: what makes a probe due, what replaces the
connection, what is only reported."""

from __future__ import annotations

import logging

import pytest

from pairs_tui.feed.backfill import Backfill
from pairs_tui.feed.leg import Leg
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.feed.watch import Watch, names

WATCHDOG_S = 20.0


def watch(fetchable: bool = True) -> Watch:
    # Nothing here reaches REST: probes are only asked for while a backfill task runs.
    rest = BinanceRest("http://127.0.0.1:9")
    return Watch(Backfill(rest, lambda _: None), rest.budget, WATCHDOG_S, fetchable)


def leg(symbol: str = "BTCUSDT", *, now: float, marks: bool = False) -> Leg:
    out = Leg(
        symbol, f"{symbol.lower()}@aggTrade", f"{symbol.lower()}@markPrice@1s" if marks else None
    )
    out.last_id, out.last_time = 100, 1_000
    out.last_seen = out.mark_seen = now
    return out


def test_a_silent_mark_stream_is_reported_once_and_replaces_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pairs_tui.feed")
    w = watch()
    btc = leg(now=1_000.0, marks=True)
    w.start([btc], 1_000.0)
    btc.last_seen = 1_010.0  # trades flow; marks stopped at 1,000
    for now in (1_010.0, 1_010.5, 1_011.0):
        btc.last_seen = now
        assert w.check([btc], now) == []  # no reason to reconnect
    reports = [r.getMessage() for r in caplog.records]
    assert len(reports) == 1 and reports[0].startswith("btcusdt@markPrice@1s sent nothing for 10 s")
    assert not w.is_stale(btc, 1_011.0)


def test_a_leg_found_quiet_is_neither_stale_nor_a_reason_to_reconnect() -> None:
    w = watch()
    eth = leg("ETHUSDT", now=1_000.0)
    w.start([eth], 1_000.0)
    # A probe 12 s into the silence found nothing published since the last id.
    eth.probed_at, eth.verdict = 1_012.0, "quiet"
    assert not w.is_stale(eth, 1_023.0)
    assert w.check([eth], 1_023.0) == []  # 23 s of silence: longer than the watchdog
    # Its next probe waits for twice the silence the last one saw.
    assert w.next_check([eth], 1_023.0) == pytest.approx(1_000.0 + 24.0)
    # The same silence unexplained (REST failed) shows as stale.
    eth.verdict = "unknown"
    assert w.is_stale(eth, 1_023.0)


def test_without_fetchable_ids_silence_alone_decides() -> None:
    w = watch(fetchable=False)
    legs = [leg("BTCUSDT", now=1_000.0), leg("ETHUSDT", now=1_000.0)]
    w.start(legs, 1_000.0)
    legs[0].last_seen = 1_019.0
    assert w.check(legs, 1_019.5) == []
    assert w.check(legs, 1_020.0) == [legs[1]]
    assert names(legs) == "btcusdt@aggTrade and ethusdt@aggTrade"
    many = [leg(f"S{i}USDT", now=0.0) for i in range(5)]
    assert names(many) == "s0usdt@aggTrade, s1usdt@aggTrade, s2usdt@aggTrade and 2 more"
