"""The tables every replay reader produces, and the rules all readers share.

A reader turns one file into a :class:`ParsedTrades` (or :class:`ParsedBars`): a polars frame in
one fixed schema plus the counts of what it skipped. Timestamps become epoch milliseconds by
magnitude, the symbol of a one-symbol file comes from its name, and a file with more than a
few malformed lines is refused rather than half-read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath

import polars as pl

from pairs_tui.feed.replay.files import ReplayInput
from pairs_tui.records import OHLCV

KIND = pl.Enum(["unknown", "trade", "aggTrade"])
"""Which id space a trade's ``id`` is in: individual trade ids, aggregate ids, or unknown."""

TRADE_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "time": pl.Int64(),
    "price": pl.Float64(),
    "qty": pl.Float64(),
    "buyer_maker": pl.Boolean(),
    "id": pl.Int64(),
    "kind": KIND,
}
"""Columns of every reader's trades, in this order. ``symbol`` may instead be an Enum of the
pair, as the Parquet reader gives it (a byte a trade where a string takes 16, which a recording
read whole pays for in memory and in time)."""

BAR_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "ts": pl.Int64(),
    **dict.fromkeys(OHLCV, pl.Float64()),
    "trades": pl.Int64(),
    "line": pl.Int64(),
}
"""Columns of every reader's bars; ``trades`` is null where the file has no count."""

MALFORMED_SHARE = 0.02
"""Above this share of malformed lines (and always when every line is) a file is refused."""


@dataclass
class ParsedTrades:
    """The trades of one file, and what was skipped on the way."""

    source: ReplayInput
    """The file."""
    frame: pl.DataFrame
    """Trades in :data:`TRADE_SCHEMA`, in file order."""
    malformed: int = 0
    """Lines that could not be read as a trade (skipped)."""
    dropped: int = 0
    """Readable prints that are not market trades: ``X`` other than MARKET, zero quantity."""
    other_events: int = 0
    """Frames of other streams (depth, tickers, subscription replies), ignored."""
    elsewhere: dict[str, int] = field(default_factory=dict)
    """Trades of symbols outside the pair that the reader already left out, by symbol."""


@dataclass
class ParsedBars:
    """The bars of one file."""

    source: ReplayInput
    """The file."""
    frame: pl.DataFrame
    """Bars in :data:`BAR_SCHEMA`, in file order."""
    malformed: int = 0
    """Rows that could not be read as a bar (skipped)."""


@dataclass
class Problems:
    """Counts malformed records of one file and remembers the first, for the error message."""

    records: int = 0
    """Non-blank lines (or rows) seen."""
    malformed: int = 0
    """How many of them could not be read."""
    first_line: int | None = None
    """The first malformed line."""
    first_problem: str = ""
    """What was wrong with it."""

    def add(self, line: int | None, problem: str, count: int = 1) -> None:
        """Count ``count`` malformed records, the earliest at ``line``."""
        self.malformed += count
        if line is not None and (self.first_line is None or line < self.first_line):
            self.first_line, self.first_problem = line, problem

    def check(self, source: ReplayInput, expected: str) -> None:
        """Refuse the file if too much of it is malformed.

        One unreadable line is always tolerated (a recording cut off mid-line ends in one);
        beyond that, more than :data:`MALFORMED_SHARE` of the lines, or all of them, is an error.

        Raises:
            ReplayError: Too many malformed lines; names the first one.
        """
        if not self.malformed:
            return
        limit = max(1.0, self.records * MALFORMED_SHARE)
        if self.malformed < self.records and self.malformed <= limit:
            return
        share = (
            "every line"
            if self.malformed >= self.records
            else (f"{self.malformed:,} of {self.records:,} lines")
        )
        raise source.error(
            f"{self.first_problem}; {share} malformed (expected {expected})", self.first_line
        )


def finish_trades(
    source: ReplayInput,
    frame: pl.DataFrame,
    problems: Problems,
    expected: str,
    *,
    other_events: int = 0,
) -> ParsedTrades:
    """Validate a reader's raw trades and apply the rules every format shares.

    Rows with a missing field or a price that is not a positive finite number are malformed;
    rows with a zero or negative quantity are dropped (the archives hold some; Binance never
    streams them for market trades).

    Args:
        source: The file.
        frame: Raw trades: :data:`TRADE_SCHEMA` columns (nullable), ``line`` (by default the
            row number from 1), and optionally ``market`` (False for prints that are not
            market trades).
        problems: What the reader already found malformed; updated.
        expected: The format's layout, for the error message.
        other_events: Frames of other streams the reader skipped.

    Raises:
        ReplayError: Too many malformed lines, or no trade at all.
    """
    kept, dropped = clean_trades(frame, problems)
    check_trades(source, problems, expected, kept.height, dropped, other_events)
    return ParsedTrades(source, kept, problems.malformed, dropped, other_events)


def clean_trades(frame: pl.DataFrame, problems: Problems) -> tuple[pl.DataFrame, int]:
    """The market trades of some of a reader's raw trades (a whole file or a piece of one), in
    :data:`TRADE_SCHEMA`, and how many prints were dropped as not market trades; the malformed
    rows are counted in ``problems`` (see :func:`finish_trades`)."""
    required = ["symbol", "time", "price", "qty", "buyer_maker"]
    bad = (
        pl.any_horizontal(pl.col(required).is_null())
        | ~(pl.col("price").is_finite() & (pl.col("price") > 0) & pl.col("qty").is_finite())
    ).fill_null(True)
    keep = pl.col("qty") > 0
    if "market" in frame.columns:
        keep = keep & pl.col("market")
    # The frame is only filtered when there is something to take out.
    n_bad, n_dropped = (
        (0, 0)
        if _clean(frame, required)
        else frame.select(
            bad.sum().alias("bad"), (~bad & ~keep.fill_null(False)).sum().alias("dropped")
        ).row(0)
    )
    if n_bad:
        line = pl.col("line") if "line" in frame.columns else pl.int_range(1, pl.len() + 1)
        flagged = frame.select(bad.alias("bad"), line.alias("line"))
        first = flagged.filter(pl.col("bad"))["line"].min()
        problems.add(
            None if first is None else int(first),  # type: ignore[arg-type]
            "a field is missing, or the price is not a positive number",
            n_bad,
        )
        frame = frame.filter(~flagged["bad"])
    kept = frame.filter(keep) if n_dropped else frame
    dropped = frame.height - kept.height
    symbol = kept.schema["symbol"]
    kept = kept.select(
        pl.col(name).cast(symbol if name == "symbol" and isinstance(symbol, pl.Enum) else dtype)
        for name, dtype in TRADE_SCHEMA.items()
    )
    return kept, dropped


def check_trades(
    source: ReplayInput,
    problems: Problems,
    expected: str,
    kept: int,
    dropped: int,
    other_events: int = 0,
) -> None:
    """Refuse a file, once it is read, that is too malformed or holds no market trade.

    Args:
        source: The file.
        problems: What its reader found malformed.
        expected: The format's layout, for the error message.
        kept: Market trades read.
        dropped: Prints dropped as not market trades.
        other_events: Frames of other streams the reader skipped.

    Raises:
        ReplayError: Too many malformed lines, or no trade at all.
    """
    problems.check(source, expected)
    if not kept:
        what = ("no market trades" if dropped else "no trades") + (
            f" ({other_events:,} frames of other streams)" if other_events else ""
        )
        raise source.error(f"holds {what}; expected {expected}")


def _clean(frame: pl.DataFrame, required: list[str]) -> bool:
    """Whether no row of a reader's raw trades is malformed or dropped: nothing missing, every
    price and quantity positive and finite, every print a market trade. A few reductions,
    cheaper than flagging rows."""
    if not frame.height or any(frame[name].null_count() for name in required):
        return False
    if "market" in frame.columns:
        market = frame["market"]
        if market.null_count() or not market.all():
            return False
    for name in ("price", "qty"):
        column = frame[name]
        if column.dtype.is_float() and column.is_nan().any():
            return False
        if not column.min() > 0 or not column.max() < math.inf:  # type: ignore[operator]
            return False
    return True


def finish_bars(
    source: ReplayInput, frame: pl.DataFrame, problems: Problems, expected: str
) -> ParsedBars:
    """Validate a reader's raw bars: OHLC must be positive and consistent, volume not negative.

    Args:
        source: The file.
        frame: Raw bars in :data:`BAR_SCHEMA` (nullable).
        problems: What the reader already found malformed; updated.
        expected: The layout, for the error message.

    Raises:
        ReplayError: Too many malformed rows, or no bar at all.
    """
    o, h, low, c, v = (pl.col(k) for k in ("open", "high", "low", "close", "volume"))
    good = (
        pl.all_horizontal(
            pl.col("symbol", "ts", "open", "high", "low", "close", "volume").is_not_null()
        )
        & pl.all_horizontal(pl.col("open", "high", "low", "close").is_finite())
        & (low > 0)
        & (h >= pl.max_horizontal(o, c, low))
        & (low <= pl.min_horizontal(o, c))
        & v.is_finite()
        & (v >= 0)
        & (pl.col("trades").is_null() | (pl.col("trades") >= 0))
    )
    flagged = frame.select(good.fill_null(False).alias("good"), pl.col("line"))
    n_bad = frame.height - int(flagged["good"].sum())
    if n_bad:
        first = flagged.filter(~pl.col("good"))["line"].min()
        problems.add(
            None if first is None else int(first),  # type: ignore[arg-type]
            "not a bar: a field is missing or high/low do not bound open/close",
            n_bad,
        )
        frame = frame.filter(flagged["good"])
    problems.check(source, expected)
    if frame.is_empty():
        raise source.error(f"holds no bars; expected {expected}")
    frame = frame.select(pl.col(name).cast(dtype) for name, dtype in BAR_SCHEMA.items())
    return ParsedBars(source, frame, problems.malformed)


def epoch_to_ms(expr: pl.Expr, *, fractional: bool = False) -> pl.Expr:
    """Epoch numbers in s, ms, µs or ns, told apart by magnitude, as integer milliseconds.

    Binance futures archives are in ms and spot archives from 2025 in µs; recorders write s or
    ns. Values below 1e8 are left alone, so small synthetic times stay what they are.

    Args:
        expr: An integer (or, with ``fractional``, a float) epoch column.
        fractional: The column is a float; seconds keep their fraction.
    """
    if fractional:
        ms = (
            pl.when(expr >= 1e17)
            .then(expr / 1e6)
            .when(expr >= 1e14)
            .then(expr / 1e3)
            .when((expr >= 1e8) & (expr < 1e11))
            .then(expr * 1e3)
            .otherwise(expr)
        )
        return ms.floor().cast(pl.Int64)
    return (
        pl.when(expr >= 10**17)
        .then(expr // 1_000_000)
        .when(expr >= 10**14)
        .then(expr // 1_000)
        .when((expr >= 10**8) & (expr < 10**11))
        .then(expr * 1_000)
        .otherwise(expr)
    ).cast(pl.Int64)


def times_from_strings(values: pl.Series) -> pl.Series:
    """Parse text timestamps: epoch numbers (any unit) or ISO 8601, naive meaning UTC.

    Returns:
        Epoch milliseconds, null where a value is not a time.
    """
    text = values.str.strip_chars().str.strip_chars('"')
    ints = text.cast(pl.Int64, strict=False)
    if ints.null_count() == text.null_count():
        return pl.select(epoch_to_ms(pl.lit(ints))).to_series()
    floats = pl.select(
        epoch_to_ms(pl.lit(text.cast(pl.Float64, strict=False)), fractional=True)
    ).to_series()
    parsed = text.str.to_datetime(time_unit="ms", time_zone="UTC", strict=False)
    out = pl.select(pl.coalesce(floats, parsed.dt.epoch("ms"))).to_series()
    if out.null_count() > text.null_count():
        # polars infers one layout from the first value; a file mixing "…Z" and naive times
        # (or other ISO variants) is finished in Python, value by value.
        missing = out.is_null() & text.is_not_null()
        fixed = [None if not m else _iso_to_ms(t) for m, t in zip(missing, text, strict=True)]
        out = pl.select(pl.coalesce(out, pl.Series(fixed, dtype=pl.Int64))).to_series()
    return out.alias(values.name)


def _iso_to_ms(text: str) -> int | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // _ONE_MS


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH

_ARCHIVE_NAME = re.compile(
    r"(?:^|[^A-Za-z0-9])([A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*)-"
    r"(?:trades|aggTrades|klines|bookTicker|\d+[smhdwM])(?:[^A-Za-z0-9]|$)"
)
"""Binance archive names: ``BTCUSDT-trades-2024-08-08.csv``, ``BTCUSDT-1m-2024-08.zip``."""
_QUOTED = re.compile(r"^[A-Z0-9]{2,20}(?:USDT|USDC|FDUSD|BUSD|TUSD|USD|BTC|ETH|BNB|EUR|TRY)$")


def symbols_in_name(names: Sequence[str], pair: Sequence[str]) -> list[str]:
    """The symbols a one-symbol file's name (or its zip member's name) mentions.

    Tried in order: the archive naming ``SYMBOL-trades…``; a token equal to one of the pair's
    symbols; a token that looks like a symbol (ends in a quote asset such as USDT).

    Args:
        names: The file's names, outermost first.
        pair: The replayed pair, upper case.

    Returns:
        Upper-case symbols; the caller decides what zero or several mean.
    """
    files = [PurePath(n).name for n in names if n]
    for name in files:
        match = _ARCHIVE_NAME.search(name)
        if match:
            return [match.group(1).upper()]
    tokens = [t.upper() for name in files for t in re.split(r"[^A-Za-z0-9]+", name) if t]
    found = [s for s in pair if s in tokens]
    if found:
        return found
    return list(dict.fromkeys(t for t in tokens if _QUOTED.match(t) and not t.isdigit()))


def symbol_of_file(source: ReplayInput, pair: Sequence[str]) -> str:
    """The one symbol a file without a symbol column holds, from its name.

    Raises:
        ReplayError: The name names no symbol, or several.
    """
    found = symbols_in_name([source.name, source.inner_name], pair)
    if len(found) == 1:
        return found[0]
    if found:
        raise source.error(
            f"the file name names several symbols ({', '.join(found)}); "
            "use one file per symbol, or add a symbol column"
        )
    raise source.error(
        "cannot tell the symbol from the file name; name it like "
        "BTCUSDT-trades-2024-08-08.csv, or add a symbol column"
    )
