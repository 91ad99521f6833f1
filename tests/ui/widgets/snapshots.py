"""Snapshots for the widget tests: the pipeline's record, built by hand."""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl

from pairs_tui.feed.status import FeedStatus
from pairs_tui.snapshot import BAR_SCHEMA, Snapshot


def snapshot(**changes: Any) -> Snapshot:
    """A live BTCUSDT/ETHUSDT snapshot on 1s bars, window 300, OLS on log prices."""
    base = Snapshot(
        symbols=("BTCUSDT", "ETHUSDT"),
        timeframe="1s",
        window=300,
        price="log",
        hedge="ols",
        feed=FeedStatus(state="live", latency_ms=38.0),
        quotes=(None, None),
        bars=pl.DataFrame(schema=BAR_SCHEMA),
        latest=None,
        bar_count=344,
        messages_per_second=1203.4,
    )
    return dataclasses.replace(base, **changes)
