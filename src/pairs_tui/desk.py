"""One source, several pairs: the desk routes the feed to every pipeline that trades a symbol.

A watchlist of pairs shares legs (BTCUSDT/ETHUSDT and SOLUSDT/ETHUSDT both need ETHUSDT) and
shares one WebSocket connection. The :class:`Desk` is the source's one sink: it hands each trade,
mark price, hold and release to the pipelines whose pair has that symbol, runs their clock (the
heartbeat that closes bars on the exchange clock) and their companions (a recorder), and adds or
removes pairs while running, subscribing and unsubscribing on the live connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import polars as pl

from pairs_tui.buckets import trades_of
from pairs_tui.feed.source import TradeSource
from pairs_tui.records import MarkPrice, PairBar, Trade

log = logging.getLogger("pairs_tui.desk")

TICK_S = 0.1
"""Period of the heartbeat."""
MAX_TICK_LAG_S = 0.05
"""A heartbeat later than this does not close bars on the clock (see :meth:`Desk._tick`)."""

Companion = Callable[[], Coroutine[Any, Any, None]]
"""A task that lives as long as the desk runs (e.g. a recorder's writer)."""


class Member(Protocol):
    """What a pipeline is to the desk."""

    @property
    def symbols(self) -> tuple[str, str]:
        """The pair, target first."""

    def on_trade(self, trade: Trade) -> None: ...
    def on_bar(self, bar: PairBar, timeframe_ms: int) -> None: ...
    def on_mark(self, mark: MarkPrice) -> None: ...
    def hold(self, symbol: str, from_time_ms: int) -> None: ...
    def release(self, symbol: str) -> None: ...

    def advance(self, *, by_clock: bool = True) -> None:
        """Close the bars the exchange clock has passed; refresh rates."""

    def companions(self) -> Sequence[Companion]:
        """Tasks to run alongside the source."""

    def finish(self) -> None:
        """The source ended: every bar up to the last trade is final."""

    def fail(self, error: str) -> None:
        """The source stopped on an error."""

    def touch(self) -> None:
        """Something outside the pipeline changed what its snapshot shows."""


@runtime_checkable
class PairFrameSink(Protocol):
    """A member that takes its pair's trades a batch at a time (the pipeline)."""

    def on_trade_frame(self, trades: pl.DataFrame) -> None: ...


@runtime_checkable
class LiveSubscriptions(Protocol):
    """A source whose symbols can change while it runs (the live feed)."""

    def add_symbols(self, symbols: Iterable[str]) -> None: ...
    def remove_symbols(self, symbols: Iterable[str]) -> None: ...


def _nobody(item: object) -> None:
    """Where an item of a symbol no pair trades goes."""


class Desk:
    """Runs one source for several pairs.

    Args:
        source: Where trades come from; a live source also learns the symbols of pairs added
            or removed while running.
        members: The pipelines, one per pair.
    """

    def __init__(self, source: TradeSource, members: Iterable[Member] = ()) -> None:
        self.source = source
        self._members: list[Member] = []
        self._trade_route: dict[str, Callable[[Trade], None]] = {}
        self._mark_route: dict[str, Callable[[MarkPrice], None]] = {}
        self._companions: list[Companion] = []
        self._trade_listeners: list[Callable[[Trade], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        for member in members:
            self._add(member)
        self._route()

    @property
    def members(self) -> tuple[Member, ...]:
        """The pipelines, in the order they were added."""
        return tuple(self._members)

    def symbols(self) -> tuple[str, ...]:
        """Every symbol some pair trades, in first-seen order."""
        return tuple(dict.fromkeys(s for m in self._members for s in m.symbols))

    def add(self, member: Member) -> None:
        """Add a pair while running (or before): its symbols are subscribed if new."""
        before = set(self.symbols())
        self._add(member)
        self._route()
        new = [s for s in member.symbols if s not in before]
        if new and isinstance(self.source, LiveSubscriptions):
            self.source.add_symbols(new)
        if self._running:
            self._tasks.extend(asyncio.create_task(c()) for c in member.companions())

    def remove(self, member: Member) -> None:
        """Stop routing to a pair; symbols no other pair trades are unsubscribed."""
        self._members = [m for m in self._members if m is not member]
        self._route()
        gone = [s for s in member.symbols if s not in self.symbols()]
        if gone and isinstance(self.source, LiveSubscriptions):
            self.source.remove_symbols(gone)

    def add_companion(self, companion: Companion) -> None:
        """Run ``companion()`` as a task for as long as :meth:`run` runs.

        When run ends, however it ends, the task is cancelled and awaited before run returns,
        so a recorder can flush its last trades.
        """
        self._companions.append(companion)

    def add_trade_listener(self, listener: Callable[[Trade], None]) -> None:
        """Call ``listener`` with every trade of every pair's symbols, once, in arrival order
        (e.g. a recorder)."""
        self._trade_listeners.append(listener)
        self._route()

    def _add(self, member: Member) -> None:
        if any(m.symbols == member.symbols for m in self._members):
            raise ValueError(f"{'/'.join(member.symbols)} is on the desk already")
        self._members.append(member)

    def _route(self) -> None:
        # A symbol traded by one pair goes straight to that pipeline's method: this is the
        # per-trade path, and most symbols belong to one pair.
        trades: dict[str, list[Callable[[Trade], None]]] = {}
        marks: dict[str, list[Callable[[MarkPrice], None]]] = {}
        for member in self._members:
            for symbol in dict.fromkeys(member.symbols):
                trades.setdefault(symbol, []).append(member.on_trade)
                marks.setdefault(symbol, []).append(member.on_mark)
        for targets in trades.values():
            targets.extend(self._trade_listeners)
        # In place: the live read loop keeps this mapping (see trade_routes).
        self._trade_route.clear()
        self._trade_route.update((s, _fan_out(fs)) for s, fs in trades.items())
        self._mark_route = {s: _fan_out(fs) for s, fs in marks.items()}

    @property
    def trade_routes(self) -> Mapping[str, Callable[[Trade], None]]:
        """Where each symbol's trades go (a pipeline's ``on_trade``, or a fan-out to several
        and to the trade listeners); the live read loop calls these directly."""
        return self._trade_route

    def _with(self, symbol: str) -> list[Member]:
        return [m for m in self._members if symbol in m.symbols]

    # -- TradeSink -----------------------------------------------------------------------

    def on_trade(self, trade: Trade) -> None:
        """One trade, to every pair with its symbol."""
        self._trade_route.get(trade.symbol, _nobody)(trade)

    def on_trade_frame(self, symbols: tuple[str, str], trades: pl.DataFrame) -> None:
        """A batch of one pair's trades (a replay at full speed): to that pair's pipeline at
        once when it is the only one with either symbol and nothing else listens; otherwise
        row by row, as :meth:`on_trade`."""
        takers = [m for m in self._members if set(m.symbols) & set(symbols)]
        if (
            len(takers) == 1
            and takers[0].symbols == symbols
            and isinstance(takers[0], PairFrameSink)
            and not self._trade_listeners
        ):
            takers[0].on_trade_frame(trades)
            return
        for trade in trades_of(trades, symbols):
            self.on_trade(trade)

    def on_mark(self, mark: MarkPrice) -> None:
        """One mark-price update, to every pair with its symbol."""
        self._mark_route.get(mark.symbol, _nobody)(mark)

    def on_bar(self, bar: PairBar, timeframe_ms: int) -> None:
        """A final bar of a bar file: bar files hold one pair, so the desk holds one pipeline."""
        if len(self._members) != 1:
            raise ValueError("bars from a file can only feed one pair")
        self._members[0].on_bar(bar, timeframe_ms)

    def hold(self, symbol: str, from_time_ms: int) -> None:
        """Bars of the pairs with ``symbol`` wait from ``from_time_ms`` on (a backfill)."""
        for member in self._with(symbol):
            member.hold(symbol, from_time_ms)

    def release(self, symbol: str) -> None:
        """The backfill of ``symbol`` ended."""
        for member in self._with(symbol):
            member.release(symbol)

    # -- running -------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the source to its end (replay) or until cancelled (live), closing bars on the
        exchange clock meanwhile. At the end of a replay every remaining bar is final."""
        self._running = True
        self._tasks = [asyncio.create_task(self._tick(), name="desk-clock")]
        starts = [*self._companions, *(c for m in self._members for c in m.companions())]
        self._tasks.extend(asyncio.create_task(start()) for start in starts)
        try:
            await self.source.run(self)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            for member in self._members:
                member.fail(f"{type(exc).__name__}: {exc}")
            raise
        else:
            for member in self._members:
                member.finish()
        finally:
            self._running = False
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for member in self._members:
                member.touch()

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + TICK_S
            await asyncio.sleep(TICK_S)
            # A late tick means the loop was held up (a GC pause, a heavy frame, a busy
            # machine) and frames may be waiting in the socket with trades of the bars the
            # clock has passed: let the reader drain them first, and close bars next tick.
            on_time = loop.time() - due < MAX_TICK_LAG_S
            for member in self._members:
                member.advance(by_clock=on_time)


def _fan_out(targets: list[Callable[[Any], None]]) -> Callable[[Any], None]:
    if len(targets) == 1:
        return targets[0]

    def every(item: Any) -> None:
        for target in targets:
            target(item)

    return every
