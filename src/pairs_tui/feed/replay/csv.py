"""Reading CSV files: Binance archive trades and aggTrades, named-column tick CSVs, bar CSVs.

The layout comes from the first line. A header names the columns (matched case- and
underscore-insensitively against a few aliases each); without one, the archive layouts are told
apart by their field count and which fields are booleans. A trades file is read a block of lines
at a time (a bar file whole), each block typed by polars in one go; a block polars refuses (a
ragged line, a word in a number column) is read again as text to find, count and skip the bad
lines exactly.
"""

from __future__ import annotations

import io
from collections.abc import Generator
from dataclasses import dataclass, field, replace

import polars as pl

from pairs_tui.feed.replay.files import ReplayInput, line_blocks
from pairs_tui.feed.replay.table import (
    BAR_SCHEMA,
    TRADE_SCHEMA,
    ParsedBars,
    ParsedTrades,
    Problems,
    check_trades,
    clean_trades,
    epoch_to_ms,
    finish_bars,
    symbol_of_file,
    times_from_strings,
)

ARCHIVE_TRADES = "id,price,qty,quote_qty,time,is_buyer_maker"
ARCHIVE_AGG_TRADES = (
    "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
)
BAR_COLUMNS = "ts,open,high,low,close,volume"

_TRADE_ROLES: dict[str, tuple[str, ...]] = {
    "id": ("id", "aggtradeid", "tradeid", "aggregatetradeid"),
    "price": ("price",),
    "qty": ("qty", "quantity", "size", "amount", "baseqty"),
    "time": (
        "time",
        "tradetimems",
        "tradetime",
        "transacttime",
        "timestamp",
        "ts",
        "datetime",
        "date",
    ),
    "buyer_maker": ("isbuyermaker", "buyermaker", "m"),
    "side": ("side", "takerside"),
    "symbol": ("symbol", "s", "ticker", "instrument"),
    "trade_type": ("tradetype", "x"),
}
"""Roles of a trades CSV's columns and the header names (normalised) that fill each, best first."""

_BAR_ROLES: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "time", "timestamp", "opentime", "datetime", "date", "t"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v", "basevolume"),
    "trades": ("trades", "count", "tradecount", "numberoftrades", "n"),
    "symbol": ("symbol", "s", "ticker", "instrument"),
}
_BAR_REQUIRED = ("ts", "open", "high", "low", "close", "volume")

_TYPES: dict[str, pl.DataType] = {
    **{k: TRADE_SCHEMA[k] for k in ("id", "price", "qty", "buyer_maker")},
    **{k: BAR_SCHEMA[k] for k in ("open", "high", "low", "close", "volume", "trades")},
}
"""Column types by role; roles not listed (times, symbols, sides) are read as text."""


@dataclass
class _Layout:
    """Where each role is in a file's lines."""

    bars: bool
    """Bars rather than trades."""
    roles: dict[str, int]
    """Role -> 0-based field index."""
    fields: int
    """Fields a line has."""
    header: bool
    """Line 1 is a header."""
    expected: str
    """The layout, for messages."""
    kind: str = "unknown"
    """The trades' id space: ``trade``, ``aggTrade`` or ``unknown``."""
    int_time: bool = False
    """The time field is known to be an integer (an archive layout)."""
    names: list[str] = field(default_factory=list)
    """Header names, as written."""
    skip: int = 0
    """Lines before the first data line: leading blank lines and the header."""


def read_csv(
    source: ReplayInput, pair: tuple[str, str]
) -> Generator[pl.DataFrame, None, ParsedTrades | ParsedBars]:
    """Read a trades or bar CSV.

    A trades CSV is read a block of lines at a time: each block's market trades are yielded as
    they are read, and the file's counts returned at the end with an empty frame. A bar CSV
    (small: a bar per minute is 1,440 lines a day) is read whole and returned.

    Args:
        source: An opened CSV file.
        pair: The replayed pair, upper case (a hint for the symbol in the file name).

    Raises:
        ReplayError: Unknown layout, missing columns, no symbol, too many bad lines.
    """
    data = source.data
    lead = pos = end = 0  # blank lines before the first line that says anything
    while pos <= len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        if data[pos:end].strip():
            break
        lead, pos = lead + 1, end + 1
    layout = _layout(source, data[pos:end].decode("utf-8", "replace").strip(), lead)
    symbol = None if "symbol" in layout.roles else symbol_of_file(source, pair)
    if layout.bars:
        if source.rest is not None:
            source = replace(source, data=b"".join(source.pieces()), rest=None)
        problems = Problems()
        columns = _read_columns(source.data, layout, problems)
        return finish_bars(source, _bars(columns, layout, symbol), problems, layout.expected)
    problems = Problems()
    kept = dropped = 0
    before = 0  # lines in the blocks before
    for view in line_blocks(source.pieces(), _BLOCK):
        block = bytes(view)
        lines = block.count(b"\n") + 1
        # Only the first block has the header and the blank lines before it.
        part = replace(layout, skip=layout.skip if not before else 0)
        found = Problems()
        columns = _read_columns(block, part, found)
        columns["line"] = columns["line"] + before
        problems.records += found.records
        if found.malformed:
            assert found.first_line is not None
            problems.add(found.first_line + before, found.first_problem, found.malformed)
        before += lines
        trades, dropped_here = clean_trades(_trades(columns, layout, symbol), problems)
        dropped += dropped_here
        if trades.height:
            kept += trades.height
            yield trades
    check_trades(source, problems, layout.expected, kept, dropped)
    return ParsedTrades(source, pl.DataFrame(schema=TRADE_SCHEMA), problems.malformed, dropped)


_BLOCK = 4 << 20
"""Bytes of a trades CSV read at a time."""


def _read_columns(data: bytes, layout: _Layout, problems: Problems) -> dict[str, pl.Series]:
    """Every role's column of some lines, and each row's line number (from 1 at ``data``)."""
    # Integer times parse fastest; text times (ISO, fractional seconds) need a second try.
    for int_time in dict.fromkeys((True, layout.int_time)):
        columns = _read_typed(data, replace(layout, int_time=int_time), problems)
        if columns is not None:
            return columns
    return _read_text(data, layout, problems)


def _layout(source: ReplayInput, first: str, lead: int) -> _Layout:
    fields = [f.strip().strip('"').strip() for f in first.split(",")]
    if _is_number(fields[0]):
        layout = _positional(source, fields, lead + 1)
    else:
        layout = _named(source, fields, lead + 1)
    layout.skip = lead + int(layout.header)
    return layout


def _named(source: ReplayInput, fields: list[str], line: int) -> _Layout:
    """A header names the columns."""
    names = [_normalise(f) for f in fields]
    bar_roles = _match(names, _BAR_ROLES)
    if all(r in bar_roles for r in _BAR_REQUIRED):
        return _Layout(True, bar_roles, len(fields), True, BAR_COLUMNS, names=fields)
    trade_roles = _match(names, _TRADE_ROLES)
    if "price" in trade_roles:
        missing = [r for r in ("price", "qty", "time") if r not in trade_roles]
        if "buyer_maker" not in trade_roles and "side" not in trade_roles:
            missing.append("is_buyer_maker")
        if missing:
            raise source.error(
                f"missing column{'s' * (len(missing) > 1)} {', '.join(missing)} "
                f"(the header has {', '.join(fields)}; expected {ARCHIVE_TRADES})",
                line,
            )
        name = (source.inner_name or source.name).lower()
        if {"aggtradeid", "firsttradeid"} & set(names) or "aggtrades" in name:
            kind = "aggTrade"
        elif {"quoteqty", "tradeid"} & set(names) or "trades" in name:
            kind = "trade"
        else:
            kind = "unknown"
        return _Layout(False, trade_roles, len(fields), True, ARCHIVE_TRADES, kind, names=fields)
    if any(r in bar_roles for r in ("open", "high", "low", "close")):
        missing = [r for r in _BAR_REQUIRED if r not in bar_roles]
        raise source.error(
            f"missing column{'s' * (len(missing) > 1)} {', '.join(missing)} "
            f"(the header has {', '.join(fields)}; expected {BAR_COLUMNS})",
            line,
        )
    raise source.error(
        f"a header with no known columns ({', '.join(fields)}); expected "
        f"{ARCHIVE_TRADES}, {ARCHIVE_AGG_TRADES} or {BAR_COLUMNS}",
        line,
    )


def _positional(source: ReplayInput, fields: list[str], line: int) -> _Layout:
    """Headerless files: Binance's archive layouts, which differ in field count and types."""
    n = len(fields)
    flags = [_is_bool(f) for f in fields]
    trades = {"id": 0, "price": 1, "qty": 2, "time": 4, "buyer_maker": 5}
    aggs = {"id": 0, "price": 1, "qty": 2, "time": 5, "buyer_maker": 6}
    if n == 6 and flags[5]:
        return _Layout(False, trades, n, False, ARCHIVE_TRADES, "trade", True)
    if n == 7 and flags[5] and flags[6]:  # spot: … is_buyer_maker, is_best_match
        return _Layout(False, trades, n, False, ARCHIVE_TRADES + ",is_best_match", "trade", True)
    if n == 7 and flags[6]:
        return _Layout(False, aggs, n, False, ARCHIVE_AGG_TRADES, "aggTrade", True)
    if n == 8 and flags[6] and flags[7]:  # spot aggTrades: … is_buyer_maker, is_best_match
        return _Layout(
            False, aggs, n, False, ARCHIVE_AGG_TRADES + ",is_best_match", "aggTrade", True
        )
    numeric = all(_is_number(f) for f in fields)
    bars = {"ts": 0, "open": 1, "high": 2, "low": 3, "close": 4, "volume": 5}
    if n == 6 and numeric:
        return _Layout(True, bars, n, False, BAR_COLUMNS)
    if n == 12 and numeric:  # Binance klines: open_time, o, h, l, c, v, close_time, …, count, …
        return _Layout(True, {**bars, "trades": 8}, n, False, "Binance klines")
    raise source.error(
        f"{n} fields and no header, which is no known layout; expected "
        f"{ARCHIVE_TRADES}, {ARCHIVE_AGG_TRADES} or {BAR_COLUMNS}",
        line,
    )


def _read_typed(data: bytes, layout: _Layout, problems: Problems) -> dict[str, pl.Series] | None:
    """The fast path: polars parses every field; None if it refuses any line."""
    by_index = {i: role for role, i in layout.roles.items()}
    schema = {f"f{i}": _dtype(by_index.get(i), layout) for i in range(layout.fields)}
    try:
        frame = pl.read_csv(
            io.BytesIO(data), has_header=False, skip_lines=layout.skip, schema=schema
        )
    except (pl.exceptions.PolarsError, OverflowError):
        return None
    start = 1 + layout.skip
    blank = pl.all_horizontal(pl.all().is_null())
    frame = frame.with_columns(
        pl.int_range(start, start + pl.len(), dtype=pl.Int64).alias("line")
    ).filter(~blank.fill_null(False))
    problems.records = frame.height
    out = {role: frame[f"f{i}"].alias(role) for role, i in layout.roles.items()}
    out["line"] = frame["line"]
    return out


def _read_text(data: bytes, layout: _Layout, problems: Problems) -> dict[str, pl.Series]:
    """The exact path: split lines in polars, count and skip every line that does not parse."""
    text = data.decode("utf-8", "replace")
    lines = (
        pl.Series("text", [text])
        .str.split("\n")
        .explode()
        .to_frame()
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line"))
        .slice(layout.skip)
        .with_columns(pl.col("text").str.strip_chars())
        .filter(pl.col("text") != "")
    )
    split = lines.select(pl.col("text").str.split(","), "line")
    problems.records = split.height
    out: dict[str, pl.Series] = {}
    bad = split.select(pl.col("text").list.len() != layout.fields).to_series()
    reasons = [pl.when(bad).then(pl.lit(f"expected {layout.fields} fields ({layout.expected})"))]
    for role, i in layout.roles.items():
        raw = split.select(
            pl.col("text").list.get(i, null_on_oob=True).str.strip_chars().str.strip_chars('"')
        ).to_series()
        value = _parse_text(raw, _dtype(role, layout))
        unreadable = (value.is_null() & raw.is_not_null() & (raw != "")).fill_null(False)
        bad = bad | unreadable
        reasons.append(
            pl.when(unreadable).then(
                pl.format(f"{{}} is not a valid {role}", pl.lit(raw).str.head(30))
            )
        )
        out[role] = value.alias(role)
    keep = ~bad
    if bad.any():
        why = split.select(pl.coalesce(reasons).alias("why"), "line").filter(bad)
        problems.add(int(why["line"][0]), str(why["why"][0]), int(bad.sum()))
        out = {role: series.filter(keep) for role, series in out.items()}
    out["line"] = split["line"].filter(keep)
    return out


def _parse_text(raw: pl.Series, dtype: pl.DataType) -> pl.Series:
    if dtype == pl.Boolean():
        return raw.str.to_lowercase().replace_strict(
            {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
        )
    if dtype == pl.String():
        return raw
    return raw.cast(dtype, strict=False)


def _trades(columns: dict[str, pl.Series], layout: _Layout, symbol: str | None) -> pl.DataFrame:
    n = len(columns["line"])
    time = columns["time"]
    if time.dtype == pl.Int64:
        time = pl.select(epoch_to_ms(pl.lit(time))).to_series()
    else:
        time = times_from_strings(time)
    if "buyer_maker" in columns:
        maker = columns["buyer_maker"]
    else:
        # The taker sold when the side is "sell"; the buyer was then the maker.
        maker = columns["side"].str.to_lowercase().is_in(["sell", "s", "ask"])
    frame = pl.DataFrame(
        {
            "symbol": _symbols(columns, symbol, n),
            "time": time,
            "price": columns["price"],
            "qty": columns["qty"],
            "buyer_maker": maker,
            "id": columns["id"]
            if "id" in columns
            else pl.repeat(-1, n, dtype=pl.Int64, eager=True),
            "line": columns["line"],
        }
    )
    market = pl.lit(True)
    if "trade_type" in columns:
        market = pl.lit(columns["trade_type"]).fill_null("MARKET").str.to_uppercase() == "MARKET"
    return frame.with_columns(pl.lit(layout.kind).alias("kind"), market.alias("market"))


def _bars(columns: dict[str, pl.Series], layout: _Layout, symbol: str | None) -> pl.DataFrame:
    n = len(columns["line"])
    ts = columns["ts"]
    ts = (
        pl.select(epoch_to_ms(pl.lit(ts))).to_series()
        if ts.dtype == pl.Int64
        else times_from_strings(ts)
    )
    return pl.DataFrame(
        {
            "symbol": _symbols(columns, symbol, n),
            "ts": ts,
            **{k: columns[k] for k in ("open", "high", "low", "close", "volume")},
            "trades": (
                columns["trades"]
                if "trades" in columns
                else pl.repeat(None, n, dtype=pl.Int64, eager=True)
            ),
            "line": columns["line"],
        }
    )


def _symbols(columns: dict[str, pl.Series], symbol: str | None, n: int) -> pl.Series:
    """The symbol column: the file's own, or the one symbol its name gives."""
    if symbol is None:
        return columns["symbol"].str.strip_chars().str.to_uppercase()
    return pl.repeat(symbol, n, dtype=pl.String, eager=True)


def _dtype(role: str | None, layout: _Layout) -> pl.DataType:
    if role in ("time", "ts") and layout.int_time:
        return pl.Int64()
    return _TYPES.get(role or "", pl.String())


def _match(names: list[str], roles: dict[str, tuple[str, ...]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for role, aliases in roles.items():
        for alias in aliases:
            if alias in names and names.index(alias) not in found.values():
                found[role] = names.index(alias)
                break
    return found


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_bool(text: str) -> bool:
    return text.lower() in ("true", "false")
