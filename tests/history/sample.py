"""Bars to write and the times the history tests use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pairs_tui.history.store import BARS_SCHEMA

DAY = 86_400_000
D0 = 20_000 * DAY
"""2024-10-04 00:00 UTC: a day boundary."""
MIN = 60_000


def bars(starts: list[int], first_close: float = 100.0) -> pl.DataFrame:
    """Distinct bars at ``starts``: close rises by 1 a bar, trades = index."""
    n = len(starts)
    closes = [first_close + i for i in range(n)]
    return pl.DataFrame(
        {
            "ts": starts,
            "open": [c - 0.5 for c in closes],
            "high": [c + 1.0 for c in closes],
            "low": [c - 1.0 for c in closes],
            "close": closes,
            "volume": [0.25 * i for i in range(n)],
            "trades": list(range(n)),
        },
        schema=BARS_SCHEMA,
    )


def duckdb_rows(root: Path, select: str, rest: str = "") -> list[tuple[Any, ...]]:
    """``SELECT select FROM`` the whole store read by DuckDB as hive partitions, then ``rest``."""
    dataset = f"read_parquet('{root}/**/*.parquet', hive_partitioning=true)"
    return duckdb.connect().execute(f"SELECT {select} FROM {dataset} {rest}").fetchall()


@dataclass(frozen=True)
class Row:
    """A kline row as the client decodes one (the fields history reads)."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int


def row(open_time: int, close: float, *, volume: float = 1.0, trades: int = 3) -> Row:
    """A kline that opened at ``close - 1``, ranged 2 either side and closed at ``close``."""
    return Row(open_time, close - 1.0, close + 2.0, close - 2.0, close, volume, trades)
