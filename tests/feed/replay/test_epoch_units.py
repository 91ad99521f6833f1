"""NDJSON and Parquet times in µs or ns are recognised by magnitude, as the CSV reader does."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from pairs_tui.feed.replay.load import load_trades
from sources import ENVELOPES, PAIR

LINES = 4_000


def _scaled_envelopes(path: Path, factor: int) -> Path:
    out = []
    with gzip.open(ENVELOPES, "rt") as lines:
        for _, line in zip(range(LINES), lines, strict=False):
            frame = json.loads(line)
            frame["data"]["T"] *= factor
            frame["data"]["E"] *= factor
            out.append(json.dumps(frame))
    path.write_text("\n".join(out) + "\n")
    return path


def _ticks(path: Path, factor: int) -> Path:
    out = []
    with gzip.open(ENVELOPES, "rt") as lines:
        for _, line in zip(range(LINES), lines, strict=False):
            d = json.loads(line)["data"]
            tick = {"symbol": d["s"], "ts": d["T"] * factor, "price": float(d["p"])}
            out.append(json.dumps({**tick, "size": float(d["q"])}))
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.mark.parametrize("factor", [1_000, 1_000_000], ids=["us", "ns"])
def test_binance_frames_in_us_or_ns_read_as_ms(tmp_path: Path, factor: int) -> None:
    in_ms = load_trades([_scaled_envelopes(tmp_path / "ms.ndjson", 1)], PAIR)
    scaled = load_trades([_scaled_envelopes(tmp_path / "scaled.ndjson", factor)], PAIR)
    assert scaled["time"].to_list() == in_ms["time"].to_list()
    assert in_ms["time"].min() == 1723161256322


@pytest.mark.parametrize("factor", [1_000, 1_000_000], ids=["us", "ns"])
def test_tick_lines_in_us_or_ns_read_as_ms(tmp_path: Path, factor: int) -> None:
    in_ms = load_trades([_ticks(tmp_path / "ms.ndjson", 1)], PAIR)
    scaled = load_trades([_ticks(tmp_path / "scaled.ndjson", factor)], PAIR)
    assert scaled["time"].to_list() == in_ms["time"].to_list()


@pytest.mark.parametrize("factor", [1, 1_000, 1_000_000], ids=["ms", "us", "ns"])
def test_parquet_times_in_us_or_ns_read_as_ms(
    session_b: pl.DataFrame, tmp_path: Path, factor: int
) -> None:
    path = tmp_path / "rec.parquet"
    session_b.with_columns(pl.col("time") * factor).write_parquet(path)
    assert load_trades([path], PAIR).equals(session_b)


def test_parquet_times_in_seconds_beside_ms_read_as_ms(tmp_path: Path) -> None:
    path = tmp_path / "rec.parquet"
    pl.DataFrame(
        {
            "symbol": list(PAIR),
            "time": [1_723_161_256, 1_723_161_257_000],  # a second, then a millisecond
            "price": [100.0, 50.0],
            "qty": [1.0, 1.0],
            "buyer_maker": [True, False],
            "id": [1, 1],
        }
    ).write_parquet(path)
    assert load_trades([path], PAIR)["time"].to_list() == [1_723_161_256_000, 1_723_161_257_000]
