"""The two small interfaces between a trade source and the pipeline that consumes it."""

from __future__ import annotations

from typing import Protocol

from pairs_tui.feed.status import FeedStatus
from pairs_tui.records import MarkPrice, PairBar, Trade


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
