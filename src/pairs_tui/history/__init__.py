"""History: the local bar store, filling it from klines, and both legs on one grid.

* :mod:`.store`: :class:`HistoryStore`, Parquet partitioned ``symbol=/timeframe=/date=``.
* :mod:`.klines`: kline rows to bars, and the pages a range needs.
* :mod:`.fetch`: :class:`History`, the store first, then only what it lacks from the exchange.
* :mod:`.align`: :func:`pair_bars`, two symbols' bars as the pipeline's pair bars.

Nothing here imports Textual.
"""

from __future__ import annotations

from pairs_tui.history.align import pair_bars
from pairs_tui.history.fetch import FetchPlan, History, HistoryStopped, RangeFetch
from pairs_tui.history.klines import KlineRow, Page, kline_weight, klines_to_bars, pages
from pairs_tui.history.store import HistoryStore, default_root, history_root

__all__ = [
    "FetchPlan",
    "History",
    "HistoryStopped",
    "HistoryStore",
    "KlineRow",
    "Page",
    "RangeFetch",
    "default_root",
    "history_root",
    "kline_weight",
    "klines_to_bars",
    "pages",
    "pair_bars",
]
