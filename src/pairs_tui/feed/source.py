"""The small interfaces between a trade source and the pipeline that consumes it: what a source
delivers to (:class:`TradeSink`), what every source is (:class:`TradeSource`), and what the live
feed adds (:class:`LiveSource`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pairs_tui.feed.status import FeedStatus
from pairs_tui.records import MarkPrice, PairBar, Trade

if TYPE_CHECKING:
    import polars as pl

    from pairs_tui.feed.rest import BinanceRest


class TradeSink(Protocol):
    """What a source hands its data to. The pipeline is the one real implementation."""

    def on_trade(self, trade: Trade) -> None:
        """One trade, in arrival order (not necessarily in trade-time order across legs)."""

    def on_bar(self, bar: PairBar, timeframe_ms: int) -> None:
        """One final bar of both legs, from a source that holds bars rather than trades."""

    def on_mark(self, mark: MarkPrice) -> None:
        """One mark-price update (``<symbol>@markPrice@1s``): mark, index, funding."""

    def hold(self, symbol: str, from_time_ms: int) -> None:
        """Trades of ``symbol`` from ``from_time_ms`` on are being fetched: bars must wait."""

    def release(self, symbol: str) -> None:
        """The fetch started by :meth:`hold` ended (its trades were delivered, or counted)."""


@runtime_checkable
class RoutingSink(Protocol):
    """A sink that sends each symbol's trades to their takers itself (the desk): the live read
    loop looks the route up and calls it, one Python call a trade fewer than
    :meth:`TradeSink.on_trade`."""

    @property
    def trade_routes(self) -> Mapping[str, Callable[[Trade], None]]:
        """Each symbol's route, as :meth:`TradeSink.on_trade` would take it; a symbol not in it
        is nobody's. The same mapping for the sink's life, changed in place: a reader keeps it."""


@runtime_checkable
class TradeFrameSink(Protocol):
    """A sink that also takes trades a batch at a time (a replay at full speed)."""

    def on_trade_frame(self, symbols: tuple[str, str], trades: pl.DataFrame) -> None:
        """Trades of the pair ``symbols`` in arrival order, as columns
        :data:`~pairs_tui.buckets.TRADE_COLUMNS` (``leg`` 0 for ``symbols[0]``): the same as
        :meth:`TradeSink.on_trade` on each row."""


class TradeSource(Protocol):
    """A live connection, the embedded exchange seen through the client, or a file replay."""

    @property
    def status(self) -> FeedStatus:
        """The feed's state and counters now."""

    def exchange_now_ms(self) -> float | None:
        """The exchange clock in ms, or None when the source has no clock of its own
        (a replay at full speed, where only trade times move time forward)."""

    async def run(self, sink: TradeSink) -> None:
        """Deliver data to ``sink`` until the source ends (replay) or is cancelled (live)."""


@runtime_checkable
class LiveSource(TradeSource, Protocol):
    """A live connection: symbols that change while it runs, the stitch of a warm start, and
    the REST client (with its weight budget) that history, the scanner and carry share."""

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols followed now, upper case."""

    @property
    def rest(self) -> BinanceRest:
        """The REST client, one weight budget for every user."""

    def add_symbols(self, symbols: Iterable[str]) -> None:
        """Follow more symbols (SUBSCRIBE on the running connection)."""

    def remove_symbols(self, symbols: Iterable[str]) -> None:
        """Stop following symbols (UNSUBSCRIBE); nothing more of them is delivered."""

    async def catch_up_from(self, symbol: str, time_ms: int) -> None:
        """Deliver every aggregate trade of ``symbol`` with trade time >= ``time_ms`` that the
        live stream has not delivered and will not deliver, exactly once, holding that symbol's
        bars until done."""
