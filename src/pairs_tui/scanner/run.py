"""A whole scan against an exchange: pick the universe, fill the history store, rank the pairs.

:func:`run_scan` is what ``pairs-tui scan`` and the TUI's scanner screen both run: the symbols
given (checked against ``exchangeInfo``) or the ``top`` USDT-margined perpetuals that are
``TRADING``, by 24 h quote volume; the last ``bars`` closed bars of each through
:class:`~pairs_tui.history.History` (the store first, only what it lacks from klines); then
:func:`~pairs_tui.scanner.scan_store` off the event loop; then each row's carry at the funding
rates in force (``premiumIndex``, ``fundingInfo``), as :mod:`pairs_tui.carry` defines it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import polars as pl

from pairs_tui.carry import DEFAULT_INTERVAL_H, carry_bp_day
from pairs_tui.feed.errors import RestError, UnknownSymbolError
from pairs_tui.feed.rest import BinanceRest
from pairs_tui.feed.schemas.rest import SymbolInfo
from pairs_tui.history import History, HistoryStore
from pairs_tui.history.store import timeframe_ms
from pairs_tui.records import PriceMode
from pairs_tui.scanner.engine import Engine, scan_store
from pairs_tui.scanner.plan import MIN_BARS, MIN_BARS_FLOOR
from pairs_tui.scanner.rows import ScanResult, ScanRow

log = logging.getLogger("pairs_tui.scanner")

SCAN_TIMEFRAMES: Final = ("1m", "5m", "1h")
"""Timeframes the scanner runs on (kline intervals the history store keeps)."""

SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
"""A symbol after upper-casing, checked before anything is sent anywhere."""

Stage = Literal["universe", "history", "pairs", "carry"]
"""What the scan is doing: choosing symbols, fetching bars, testing pairs, reading funding."""

ScanProgress = Callable[[Stage, int, int], None]
"""Told ``(stage, done, total)``; during ``"pairs"`` it is called from a worker thread."""

COLUMNS: Final = (*ScanRow.__struct_fields__, "carry_bp_day")
"""The columns of every output (``--json`` keys, table columns, Parquet and CSV), in order."""


class BadScan(ValueError):
    """A scan that cannot run as asked (a bad symbol, an unknown one, a bad count): exit 2."""


@dataclass(frozen=True)
class ScanRequest:
    """What to scan.

    Raises:
        BadScan: A symbol that is not 2 to 30 letters and digits, a symbol given twice, fewer
            than two symbols, an unknown timeframe, or a count below its minimum.
    """

    symbols: tuple[str, ...] = ()
    """The universe; empty for the ``top`` symbols by quote volume."""
    top: int = 20
    """Universe size when no symbols are given."""
    timeframe: str = "1m"
    """Bar timeframe: ``1m``, ``5m`` or ``1h``."""
    bars: int = 1_440
    """Closed bars per symbol, the last ones."""
    engine: Engine = "local"
    """``local`` or ``dask``."""
    scheduler: str | None = None
    """Dask scheduler address; None starts a local cluster."""
    price: PriceMode = "log"
    """Prices tested, as ``[analytics] price``."""
    carry: bool = True
    """Add each row's ``carry_bp_day`` from the funding rates in force."""
    screen: int | None = None
    """Test exactly only this many pairs, the best by a cheap statistic; None tests them all."""

    def __post_init__(self) -> None:
        upper = tuple(s.strip().upper() for s in self.symbols)
        object.__setattr__(self, "symbols", upper)
        for symbol in upper:
            if not SYMBOL.match(symbol):
                raise BadScan(f"symbol {symbol!r} is not 2 to 30 letters and digits")
        twice = [s for n, s in enumerate(upper) if s in upper[:n]]
        if twice:
            raise BadScan(f"symbol {twice[0]} is given twice")
        if len(upper) == 1:
            raise BadScan(f"a scan needs at least two symbols, got only {upper[0]}")
        if not upper and self.top < 2:
            raise BadScan(f"--top must be at least 2, got {self.top}")
        if self.timeframe not in SCAN_TIMEFRAMES:
            raise BadScan(
                f"timeframe {self.timeframe!r} is not one of {', '.join(SCAN_TIMEFRAMES)}"
            )
        if self.bars < MIN_BARS_FLOOR:
            raise BadScan(f"--bars must be at least {MIN_BARS_FLOOR}, got {self.bars}")
        if self.screen is not None and self.screen < 1:
            raise BadScan(f"--screen must keep at least 1 pair, got {self.screen}")
        if self.engine not in ("local", "dask"):
            raise BadScan(f"engine must be local or dask, not {self.engine!r}")


@dataclass(frozen=True)
class ScanReport:
    """A scan's result with what it took to get it."""

    result: ScanResult
    """Ranked rows and the pairs left out."""
    universe: tuple[str, ...]
    """The symbols scanned, in the order the scan saw them."""
    carry: tuple[float | None, ...] = ()
    """``carry_bp_day`` of each row (same order), None where the rates are unknown; empty when
    carry was not asked for."""
    requests: int = 0
    """Kline requests sent to fill the store (0 when it already held every bar)."""
    end_ms: int = 0
    """Bars starting before this (ms UTC) were scanned."""
    notes: list[str] = field(default_factory=list)
    """Things the user should know (funding unavailable…)."""

    def records(self) -> list[dict[str, Any]]:
        """Every row as a dict of :data:`COLUMNS`, best first."""
        carry = self.carry or (None,) * len(self.result.rows)
        out = []
        for row, value in zip(self.result.rows, carry, strict=True):
            record = {name: getattr(row, name) for name in ScanRow.__struct_fields__}
            record["carry_bp_day"] = value
            out.append(record)
        return out

    def frame(self) -> pl.DataFrame:
        """The rows as a table with :data:`COLUMNS` (nulls for a missing half-life or carry)."""
        schema = {
            name: (pl.Int64 if name in _INTS else pl.String if name in _TEXT else pl.Float64)
            for name in COLUMNS
        }
        return pl.DataFrame(self.records(), schema=schema, orient="row")

    def left_out_summary(self) -> str:
        """``"3 pairs left out (2 flat leg, 1 too few bars)"``, or ``""`` when none were."""
        left = self.result.left_out
        if not left:
            return ""
        counts: dict[str, int] = {}
        for item in left:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        reasons = ", ".join(f"{n} {reason}" for reason, n in counts.items())
        return f"{len(left)} pair{'s' if len(left) != 1 else ''} left out ({reasons})"


_INTS = {"rank", "bars", "start_ts", "end_ts", "coint_lags"}
_TEXT = {"symbol_a", "symbol_b", "timeframe", "price"}


def usdt_perpetuals(infos: dict[str, SymbolInfo]) -> list[str]:
    """The symbols a scan of "the market" considers: USDT-margined perpetuals, ``TRADING``."""
    return [
        s
        for s, info in infos.items()
        if info.contract_type == "PERPETUAL"
        and info.status == "TRADING"
        and info.quote_asset == "USDT"
        and info.margin_asset == "USDT"
    ]


async def choose_universe(rest: BinanceRest, request: ScanRequest) -> tuple[str, ...]:
    """The symbols given, each checked with ``exchangeInfo``; or the ``top`` USDT perpetuals
    by 24 h quote volume (``/fapi/v1/ticker/24hr``), highest first.

    Raises:
        BadScan: A symbol the exchange does not list (named), or no USDT perpetual trading.
        RestError: The exchange could not be asked.
    """
    if request.symbols:
        try:
            await rest.check_symbols(request.symbols)
        except UnknownSymbolError as exc:
            raise BadScan(str(exc)) from None
        return request.symbols
    eligible = set(usdt_perpetuals(await rest.exchange_info()))
    tickers = [t for t in await rest.ticker_24hr() if t.symbol in eligible]
    tickers.sort(key=lambda t: (-t.quote_volume, t.symbol))
    chosen = tuple(t.symbol for t in tickers[: request.top])
    if len(chosen) < 2:
        raise BadScan(f"the exchange lists {len(chosen)} trading USDT perpetuals: nothing to scan")
    return chosen


async def run_scan(
    rest: BinanceRest,
    store: HistoryStore,
    request: ScanRequest,
    *,
    progress: ScanProgress | None = None,
) -> ScanReport:
    """Choose the universe, fill the store with its last closed bars, rank every pair.

    Args:
        rest: The REST client (its weight budget is shared with anything else using it).
        store: The history store; its root is what the Dask workers read.
        request: What to scan.
        progress: Told ``(stage, done, total)`` as the scan goes.

    Returns:
        The report.

    Raises:
        BadScan: An unknown symbol, or an empty universe.
        HistoryStopped: The exchange banned this IP while fetching bars.
        RestError: The exchange failed otherwise.
        ValueError: No bars at all for the universe.
        ImportError: ``engine="dask"`` without the cluster extra.
    """

    def tell(stage: Stage, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    tell("universe", 0, 1)
    universe = await choose_universe(rest, request)
    tell("universe", 1, 1)
    step = timeframe_ms(request.timeframe)
    now = await rest.server_time_ms()
    end = now - now % step
    # One bar more than asked for: the latest may not be closed yet, and history leaves it out.
    start = end - (request.bars + 1) * step
    history = History(rest, store)
    # Only what the store lacks is fetched; the bars themselves are read by the scan.
    plan = await history.plan(universe, request.timeframe, start, end)
    await history.fetch(plan, progress=lambda done, total: tell("history", done, total))
    result = await asyncio.to_thread(
        scan_store,
        store.root,
        universe,
        request.timeframe,
        request.bars,
        end=end,
        price=request.price,
        # Bars the user asked for are enough: fewer than the default minimum only if asked.
        min_bars=min(MIN_BARS, request.bars),
        engine=request.engine,
        scheduler=request.scheduler,
        progress=lambda done, total: tell("pairs", done, total),
        screen=request.screen,
    )
    notes: list[str] = []
    carry: tuple[float | None, ...] = ()
    if request.carry and result.rows:
        tell("carry", 0, 1)
        try:
            carry = await _carry(rest, result.rows, request.price)
        except RestError as exc:
            notes.append(f"carry_bp_day left empty: funding rates unavailable ({exc})")
            log.warning("scan: funding rates unavailable: %s", exc)
        tell("carry", 1, 1)
    return ScanReport(result, universe, carry, plan.requests, end, notes)


async def _carry(
    rest: BinanceRest, rows: Sequence[ScanRow], price: PriceMode
) -> tuple[float | None, ...]:
    """Each row's carry of the long spread at the funding rates in force, bp a day."""
    marks, infos = await asyncio.gather(rest.premium_index(), rest.funding_info())
    by_symbol = {m.symbol.upper(): m for m in marks}
    hours = {i.symbol.upper(): i.interval_h for i in infos}
    out: list[float | None] = []
    for row in rows:
        a, b = by_symbol.get(row.symbol_a), by_symbol.get(row.symbol_b)
        if a is None or b is None:
            out.append(None)
            continue
        out.append(
            carry_bp_day(
                a.funding_rate,
                hours.get(row.symbol_a, DEFAULT_INTERVAL_H),
                b.funding_rate,
                hours.get(row.symbol_b, DEFAULT_INTERVAL_H),
                row.beta,
                price=price,
                close_a=a.mark_price,
                close_b=b.mark_price,
            )
        )
    return tuple(out)
