"""Write a history store in the layout the scanner reads: symbol=/timeframe=/date=/*.parquet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl


def bars_frame(ts: np.ndarray, closes: np.ndarray) -> pl.DataFrame:
    """OHLCV bars with the store's columns and types."""
    closes = np.asarray(closes, dtype=np.float64)
    return pl.DataFrame(
        {
            "ts": pl.Series(np.asarray(ts, dtype=np.int64)).cast(pl.Datetime("ms", "UTC")),
            "open": closes,
            "high": closes * 1.001,
            "low": closes * 0.999,
            "close": closes,
            "volume": np.ones(len(closes)),
            "trades": pl.Series(np.ones(len(closes), dtype=np.int64)),
        }
    )


def write_symbol(
    root: str | Path,
    symbol: str,
    timeframe: str,
    ts: np.ndarray,
    closes: np.ndarray,
    *,
    fs: Any = None,
) -> None:
    """One Parquet file per UTC date of the bars (through ``fs``, an fsspec filesystem, if set)."""
    frame = bars_frame(ts, closes).with_columns(pl.col("ts").dt.strftime("%Y-%m-%d").alias("date"))
    for (date,), part in frame.group_by("date", maintain_order=True):
        folder = f"{root}/symbol={symbol}/timeframe={timeframe}/date={date}"
        data = part.drop("date")
        if fs is None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            data.write_parquet(f"{folder}/part-0.parquet")
        else:
            fs.makedirs(folder, exist_ok=True)
            with fs.open(f"{folder}/part-0.parquet", "wb") as handle:
                data.write_parquet(handle)


def ms(text: str) -> int:
    """``"2024-08-08T22:00"`` (UTC) in ms."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)
