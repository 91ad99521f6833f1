"""Reading the Parquet that ``--record DIR`` writes: ``symbol=…/date=…/*.parquet``.

The symbol may be a hive partition, a column in the files, or (for a lone file) in its name.
Only the pair's symbols are read; the rest are counted from the partitions, so a recording of
many symbols costs no more than one of two.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from pairs_tui.feed.replay.files import ReplayInput
from pairs_tui.feed.replay.table import (
    KIND,
    ParsedTrades,
    Problems,
    epoch_to_ms,
    finish_trades,
    symbol_of_file,
)

RECORD_COLUMNS = ("time", "price", "qty", "buyer_maker", "id")
"""The recorder's columns (``id`` may be missing)."""
_EXPECTED = "Parquet with columns time, price, qty, buyer_maker, id and a symbol column or folder"


def read_parquet(source: ReplayInput, pair: Sequence[str]) -> ParsedTrades:
    """Read one Parquet file or a partitioned directory of them.

    Args:
        source: The opened file or directory.
        pair: The replayed pair, upper case.

    Raises:
        ReplayError: Unreadable data, missing columns, or no symbol to be found.
    """
    try:
        scan = pl.scan_parquet(source.path, hive_partitioning=True)
        schema = scan.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise source.error(f"cannot read the Parquet data ({_first_line(exc)})") from None
    missing = [c for c in RECORD_COLUMNS[:-1] if c not in schema]
    if missing:
        raise source.error(
            f"the Parquet data have no column{'s' * (len(missing) > 1)} "
            f"{', '.join(missing)} (found {', '.join(schema.names())}; "
            f"expected {_EXPECTED})"
        )
    if "symbol" in schema:
        symbol = pl.col("symbol").cast(pl.String).str.to_uppercase()
    else:
        symbol = pl.lit(symbol_of_file(source, pair))
    time = pl.col("time")
    if isinstance(schema["time"], pl.Datetime):
        time = time.dt.epoch("ms")
    elif schema["time"].is_float():
        time = epoch_to_ms(time, fractional=True)
    else:
        time = time.cast(pl.Int64)  # milliseconds already, as --record writes, unless not
    scan = scan.with_columns(symbol.alias("symbol"))
    try:
        # Only the other symbols are counted: with the symbol in the folders, no file of the
        # pair is opened for it.
        others = ~pl.col("symbol").is_in(list(pair)).fill_null(False)
        census = scan.filter(others).group_by("symbol").len().collect()
        frame = (
            scan.filter(pl.col("symbol").is_in(list(pair)))
            .select(
                "symbol",
                time.alias("time"),
                pl.col("price").cast(pl.Float64),
                pl.col("qty").cast(pl.Float64),
                pl.col("buyer_maker").cast(pl.Boolean),
                (pl.col("id").cast(pl.Int64) if "id" in schema else pl.lit(-1, pl.Int64)).alias(
                    "id"
                ),
                pl.lit("unknown", KIND).alias("kind"),
            )
            .collect()
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise source.error(f"cannot read the Parquet data ({_first_line(exc)})") from None
    if not isinstance(schema["time"], pl.Datetime) and not schema["time"].is_float():
        low, high = frame["time"].min(), frame["time"].max()
        if low is not None and not 10**11 <= low <= high < 10**14:  # type: ignore[operator]
            frame = frame.with_columns(epoch_to_ms(pl.col("time")))
    elsewhere = {str(s): int(n) for s, n in census.iter_rows()}
    if frame.is_empty():
        held = ", ".join(sorted(elsewhere)) or "nothing"
        raise source.error(f"holds no trades of {' or '.join(pair)} (it holds {held})")
    parsed = finish_trades(source, frame, Problems(records=frame.height), _EXPECTED)
    parsed.elsewhere = elsewhere
    return parsed


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n", 1)[0]
