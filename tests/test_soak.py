"""The soak: over an hour of exchange time in half a minute, a fault every couple of seconds.

The process stays up, memory stays flat, every fault is recovered from, and every trade the
exchange published is in a bar, counted as a gap or counted as late, none twice. The figures
are printed (``pytest tests/test_soak.py -s``); ``python -m benchmarks.bench_reliability``
runs a longer soak for RELIABILITY.md.
"""

from __future__ import annotations

from faults.soak import CONNECTION_FAULTS, FAULTS, soak, summary, table

WALL_S = 32.0
SPEED = 150.0
"""1.33 hours of exchange time."""
EVERY_S = 2.0
"""Ten faults: each kind once."""
BACKOFF_MAX_S = 1.0
"""The soak client's backoff cap."""


async def test_soak_with_faults_keeps_every_trade_accounted_for_in_flat_memory() -> None:
    report = await soak(WALL_S, SPEED, EVERY_S)
    print(f"\n{table(report)}\n{summary(report)}")
    assert report.alive
    assert report.exchange_hours >= 1.2
    assert report.accounted, summary(report)
    assert report.published > 100_000 and report.bars >= 4_000
    faults = report.faults
    assert all(faults[name].injected >= 1 for name, _ in FAULTS)
    assert all(r.recovered == r.injected for r in faults.values()), table(report)
    for name in CONNECTION_FAULTS:
        assert faults[name].max_recovery_s <= BACKOFF_MAX_S + 1.0, table(report)
    # Trades are lost only where REST could not fill a gap. How many depends on whether a leg's
    # probe or catch-up runs again after REST is back, which a loaded machine shifts: twice
    # today a loaded run refetched every dropped trade (0 gaps, 217 backfilled).
    rest_down = faults["dropped frames, REST down"]
    assert report.gaps == rest_down.gaps, table(report)
    assert rest_down.gaps + rest_down.backfilled > 0, table(report)
    assert faults["dropped frames, REST up"].backfilled > 0
    assert faults["garbage frames (1 in 5)"].malformed > 0
    assert report.pongs > 0 and report.max_incoming_per_s <= 1
    assert report.rss_growth_mb < 25.0, summary(report)
