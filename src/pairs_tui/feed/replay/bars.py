"""Bar files on one grid: the two legs' bars aligned and forward-filled like the bar builder.

A user's bar CSVs (one per symbol, or one with a ``symbol`` column) become the
:class:`~pairs_tui.bars.PairBar` stream the bar builder would have produced from the trades:

- The timeframe is the smallest step between two bars of a symbol. It must be one the pipeline
  supports, every bar must sit on one grid, and a leg with many bars but no step that short is
  refused as being on another timeframe (a few bars with gaps are simply filled).
- A bucket with no bar repeats the leg's previous close with volume 0 and no trades; a leg is
  None until its first bar (never filled backwards).
- The files do not say how many trades made a bar unless they have a count column (Binance
  klines do). Without one, a bar with volume counts as 1 trade and a bar without as 0, so that
  the longer timeframes folded from these bars treat a traded bar as traded; the number is a
  lower bound, not a count.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import polars as pl

from pairs_tui.feed.replay.files import ReplayError
from pairs_tui.feed.replay.table import ParsedBars
from pairs_tui.records import TIMEFRAMES, Bar, PairBar

_MAX_BUCKETS = 50_000_000
"""A grid longer than this is a mistake (a stray timestamp), not a session."""
_EVIDENCE = 10
"""Steps a leg needs before its smallest one not matching the other leg's is an error."""
_LEG_COLUMNS = ("open", "high", "low", "close", "volume", "trades")


def align_bars(parsed: Sequence[ParsedBars], pair: tuple[str, str]) -> tuple[int, pl.DataFrame]:
    """Put both legs' bars on one filled grid.

    Args:
        parsed: Every bar file's bars, already restricted to the pair's symbols.
        pair: The pair, target leg first.

    Returns:
        The timeframe in ms, and one row per bucket: ``ts`` then ``a_open`` … ``a_trades`` and
        ``b_open`` … ``b_trades`` (null while a leg has not started).

    Raises:
        ReplayError: Conflicting duplicates, legs on different timeframes or off one grid,
            an unsupported timeframe.
    """
    frames = [p.frame.with_columns(pl.lit(i, pl.Int64).alias("file")) for i, p in enumerate(parsed)]
    bars = pl.concat(frames).sort("symbol", "ts", "file", "line")
    bars = _drop_duplicates(bars, parsed)
    steps: dict[str, tuple[int, int]] = {}
    for symbol in pair:
        ts = bars.filter(pl.col("symbol") == symbol)["ts"]
        if ts.len() > 1:
            smallest = ts.diff().drop_nulls().min()
            steps[symbol] = (int(smallest), ts.len() - 1)  # type: ignore[arg-type]
    if not steps:
        raise ReplayError(f"{_names(parsed)}: cannot tell the timeframe from one bar per symbol")
    tf = min(step for step, _ in steps.values())
    coarse = [s for s, (step, n) in steps.items() if step != tf and n >= _EVIDENCE]
    if coarse:
        # A leg with gaps may never show the timeframe's own step; but one with many bars and
        # no step that short is on a longer timeframe, and filling it would invent bars.
        a, b = pair
        raise ReplayError(
            f"{_names(parsed)}: {a} bars are {steps[a][0]:,} ms apart but {b} "
            f"bars {steps[b][0]:,} ms; replay needs both legs on one timeframe"
        )
    if tf not in TIMEFRAMES.values():
        raise ReplayError(
            f"{_names(parsed)}: bars are {tf:,} ms apart; replay takes bars of "
            f"{', '.join(TIMEFRAMES)} only"
        )
    origin = int(bars["ts"].min())  # type: ignore[arg-type]
    off = bars.filter((pl.col("ts") - origin) % tf != 0)
    if not off.is_empty():
        row = off.row(0, named=True)
        raise parsed[row["file"]].source.error(
            f"a bar at {row['ts']} ms is off the {tf:,} ms grid that starts at {origin} ms",
            row["line"],
        )
    end = int(bars["ts"].max())  # type: ignore[arg-type]
    if (end - origin) // tf + 1 > _MAX_BUCKETS:
        raise ReplayError(
            f"{_names(parsed)}: the bars span {(end - origin) // tf + 1:,} buckets "
            f"of {tf:,} ms; is one timestamp wrong?"
        )
    grid = pl.DataFrame({"ts": pl.int_range(origin, end + tf, tf, eager=True, dtype=pl.Int64)})
    for prefix, symbol in zip("ab", pair, strict=True):
        leg = bars.filter(pl.col("symbol") == symbol).select(
            "ts", *(pl.col(c).alias(f"{prefix}_{c}") for c in _LEG_COLUMNS)
        )
        grid = grid.join(leg, on="ts", how="left").with_columns(_fill(prefix))
    return tf, grid


def pair_bars(grid: pl.DataFrame) -> Iterator[PairBar]:
    """The aligned grid as :class:`PairBar` objects, oldest first."""
    a = [grid[f"a_{c}"].to_list() for c in _LEG_COLUMNS]
    b = [grid[f"b_{c}"].to_list() for c in _LEG_COLUMNS]
    legs_a = [None if row[3] is None else Bar(*row) for row in zip(*a, strict=True)]
    legs_b = [None if row[3] is None else Bar(*row) for row in zip(*b, strict=True)]
    return map(PairBar, grid["ts"].to_list(), legs_a, legs_b)


def _fill(prefix: str) -> list[pl.Expr]:
    col = {c: pl.col(f"{prefix}_{c}") for c in _LEG_COLUMNS}
    present = col["close"].is_not_null()
    last = col["close"].forward_fill()
    traded = pl.when(col["volume"] > 0).then(1).otherwise(0)
    return [
        *(
            pl.when(present).then(col[c]).otherwise(last).alias(f"{prefix}_{c}")
            for c in ("open", "high", "low", "close")
        ),
        pl.when(present)
        .then(col["volume"])
        .when(last.is_not_null())
        .then(0.0)
        .alias(f"{prefix}_volume"),
        pl.when(present)
        .then(col["trades"].fill_null(traded))
        .when(last.is_not_null())
        .then(0)
        .cast(pl.Int64)
        .alias(f"{prefix}_trades"),
    ]


def _drop_duplicates(bars: pl.DataFrame, parsed: Sequence[ParsedBars]) -> pl.DataFrame:
    """The same bar twice (overlapping files) is kept once; two different bars are an error."""
    key = ["symbol", "ts"]
    dup = bars.filter(pl.struct(key).is_duplicated())
    if dup.is_empty():
        return bars
    values = ["symbol", "ts", *_LEG_COLUMNS]
    clash = dup.unique(values).filter(pl.struct(key).is_duplicated())
    if not clash.is_empty():
        first = clash.row(0, named=True)
        rows = dup.filter((pl.col("symbol") == first["symbol"]) & (pl.col("ts") == first["ts"]))
        where = [
            f"{parsed[f].source.name} line {ln}"
            for f, ln in zip(rows["file"], rows["line"], strict=True)
        ]
        raise ReplayError(
            f"{where[0]}: a different {first['symbol']} bar at {first['ts']} ms "
            f"than {' and '.join(where[1:])}"
        )
    return bars.unique(key, keep="first", maintain_order=True)


def _names(parsed: Sequence[ParsedBars]) -> str:
    return ", ".join(p.source.name for p in parsed)
