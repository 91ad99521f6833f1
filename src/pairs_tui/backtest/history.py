"""``--backtest --from TIME [--to TIME]``: the backtest over exchange history.

Bars come from the history store (:mod:`pairs_tui.history`), klines fetched only where it lacks
them, through the REST client and its weight budget; both legs go on one grid
(:func:`pairs_tui.history.pair_bars`) and through the very analytics a live or replayed
timeframe runs (:class:`pairs_tui.frames.BarFrame`), so the backtest of a range of history is the
backtest of the same trades replayed. Funding is charged at each funding time the exchange
reports in ``GET /fapi/v1/fundingRate`` (with ``[carry] enabled = false``, none is).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from pairs_tui.backtest.results import FundingEvent
from pairs_tui.config import Options, UsageError
from pairs_tui.frames import BarFrame, bars_of
from pairs_tui.records import TICK, TIMEFRAMES, BarTimeframe, HedgeMethod, PairBar, PriceMode

if TYPE_CHECKING:
    from pairs_tui.feed.rest import BinanceRest

log = logging.getLogger("pairs_tui.backtest")

FUNDING_PAGE = 1000
"""Rows per ``/fapi/v1/fundingRate`` request (the most Binance returns)."""


@dataclass(frozen=True)
class ResearchBars:
    """The pair bars a backtest or a sweep runs on, before any analytics."""

    symbols: tuple[str, str]
    """The pair, target leg first."""
    timeframe: BarTimeframe
    """The bars' timeframe."""
    bars: list[PairBar]
    """Both legs per bucket, oldest first."""
    funding: list[FundingEvent] = field(default_factory=list)
    """Both legs' fundings over the bars; empty when none is charged."""
    source: str = "replay"
    """``history`` (klines through the store) or ``replay`` (recorded trades)."""


def analyse(
    bars: Sequence[PairBar],
    timeframe: BarTimeframe,
    window: int,
    price: PriceMode,
    hedge: HedgeMethod,
) -> pl.DataFrame:
    """The history frame (:data:`pairs_tui.snapshot.BAR_SCHEMA`) of ``bars`` under these
    analytics, every bar kept: what a pipeline's timeframe would hold had it seen them all."""
    frame = BarFrame(
        timeframe, window=window, price=price, hedge=hedge, history_rows=max(1, len(bars))
    )
    for bar in bars:
        frame.take(bar)
    return frame.history.frame()


def closes_of(bars: Sequence[PairBar]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bar labels and both legs' closes (NaN where a leg has no bar yet): all the analytics
    and the engine read of the bars, and cheap to send to a worker process."""
    nan = float("nan")
    ts = np.fromiter((bar.ts for bar in bars), dtype=np.int64, count=len(bars))
    close_a = np.fromiter(
        (nan if bar.a is None else bar.a.close for bar in bars), dtype=np.float64, count=len(bars)
    )
    close_b = np.fromiter(
        (nan if bar.b is None else bar.b.close for bar in bars), dtype=np.float64, count=len(bars)
    )
    return ts, close_a, close_b


def engine_bars(
    closes: tuple[np.ndarray, np.ndarray, np.ndarray],
    timeframe: BarTimeframe,
    window: int,
    price: PriceMode,
    hedge: HedgeMethod,
) -> pl.DataFrame:
    """What the engine reads of :func:`analyse` (``ts``, ``zscore``, ``hedge_beta``,
    ``close_a``, ``close_b``), from :func:`closes_of` the bars, through the same analytics
    object a timeframe runs but without the bar history it would also keep: a sweep's
    analysis, about 1.5 times faster."""
    analytics = BarFrame(
        timeframe, window=window, price=price, hedge=hedge, history_rows=1
    ).analytics
    ts, close_a, close_b = closes
    n = len(ts)
    z: list[float | None] = [None] * n
    beta: list[float | None] = [None] * n
    for i, (a, b) in enumerate(zip(close_a.tolist(), close_b.tolist(), strict=True)):
        # As :meth:`BarFrame.take`: a bar without both legs' positive closes is not analysed
        # (NaN, a leg without a bar, fails both tests).
        if a > 0 and b > 0:
            stats = analytics.update(a, b)
            z[i], beta[i] = stats.zscore, stats.hedge_beta
    return pl.DataFrame(
        {
            "ts": ts,
            "zscore": z,
            "hedge_beta": beta,
            "close_a": close_a,
            "close_b": close_b,
        },
        schema={
            "ts": pl.Int64,
            "zscore": pl.Float64,
            "hedge_beta": pl.Float64,
            "close_a": pl.Float64,
            "close_b": pl.Float64,
        },
    ).with_columns(pl.col("close_a", "close_b").fill_nan(None))


def replayed(symbols: tuple[str, str], timeframe: BarTimeframe, held: pl.DataFrame) -> ResearchBars:
    """The bars of a replayed session's history frame."""
    return ResearchBars(symbols, timeframe, bars_of(held))


def bar_timeframe(options: Options) -> BarTimeframe:
    """The timeframe of a history backtest.

    Raises:
        UsageError: ``--timeframe tick``, which history does not have.
    """
    timeframe = options.timeframe
    if timeframe == TICK:
        raise UsageError("--backtest --from needs bars: --timeframe 1s, 1m or 5m")
    return timeframe


async def load_history(options: Options, from_ms: int, to_ms: int) -> ResearchBars:
    """Both legs' bars of ``[from_ms, to_ms)`` from the store, fetching what it lacks, and the
    fundings over them.

    Raises:
        UsageError: an empty range, ``--timeframe tick``, or no bar in the range.
        HistoryStopped: the exchange banned this IP.
        RestError: the exchange failed.
    """
    from pairs_tui.feed.rest import BinanceRest
    from pairs_tui.feed.routes import rest_url_for
    from pairs_tui.history import History, HistoryStore, history_root, pair_bars

    timeframe = bar_timeframe(options)
    if to_ms <= from_ms:
        raise UsageError("--backtest: --to must be after --from")
    step = TIMEFRAMES[timeframe]
    symbols = options.symbols
    rest = BinanceRest(rest_url_for(options.url, options.rest_url))
    try:
        history = History(rest, HistoryStore(history_root(options.settings.history.folder)))
        plan = await history.plan(symbols, timeframe, from_ms, to_ms)
        if plan.requests:
            log.info(
                "fetching %d kline requests (weight %d) the history store lacks",
                plan.requests,
                plan.weight,
            )
        await history.fetch(plan)
        legs = [history.store.read(s, timeframe, from_ms, to_ms) for s in symbols]
        ends = [int(leg["ts"][-1]) + step for leg in legs if leg.height]
        if not ends:
            raise UsageError(
                f"--backtest: the exchange has no {timeframe} bars of {'/'.join(symbols)} "
                "in that range"
            )
        bars = pair_bars(legs[0], legs[1], from_ms, max(ends), step)
        bars = [bar for bar in bars if bar.a is not None or bar.b is not None]
        funding: list[FundingEvent] = []
        if options.settings.carry.enabled and bars:
            end = bars[-1].ts + step
            for leg, symbol in enumerate(symbols):
                funding += await fundings(rest, symbol, leg, bars[0].ts, end)
    finally:
        await rest.aclose()
    log.info("history backtest on %d %s bars, %d fundings", len(bars), timeframe, len(funding))
    return ResearchBars(
        symbols,
        timeframe,
        bars,
        sorted(funding, key=lambda e: (e.time_ms, e.leg)),
        source="history",
    )


async def fundings(
    rest: BinanceRest, symbol: str, leg: int, start_ms: int, end_ms: int
) -> list[FundingEvent]:
    """Every funding of ``symbol`` in ``[start_ms, end_ms)``, page by page.

    Args:
        rest: The REST client.
        symbol: The leg's symbol.
        leg: 0 for A, 1 for B.
        start_ms: First funding time wanted.
        end_ms: Funding times before this.
    """
    events: list[FundingEvent] = []
    at = start_ms
    while at < end_ms:
        rows = await rest.funding_rate(symbol, start_ms=at, end_ms=end_ms - 1, limit=FUNDING_PAGE)
        kept = [r for r in rows if at <= r.time < end_ms]
        events += [FundingEvent(r.time, leg, r.rate, r.mark_price) for r in kept]
        if len(rows) < FUNDING_PAGE or not kept:
            break
        at = kept[-1].time + 1
    return events
