"""The watchlist screen (``w``): every pair of the desk on one row, sorted by |z|."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import ClassVar, Protocol

import numpy as np
import polars as pl
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Static

from pairs_tui.records import Timeframe
from pairs_tui.snapshot import Glance
from pairs_tui.ui import keys, watch_rows
from pairs_tui.ui.watch_rows import COLUMNS, SPARK_BARS, WatchRow
from pairs_tui.ui.widgets.desk_footer import DeskFooter
from pairs_tui.ui.widgets.watch_table import WatchTable

Pair = tuple[str, str]


class WatchedPair(Protocol):
    """What the screen reads of a pair: a pipeline."""

    def glance(self) -> Glance: ...
    def history(self, timeframe: Timeframe | None = None) -> pl.DataFrame: ...


class WatchlistScreen(Screen[Pair | None]):
    """One row per pair: last prices, β, z with a sparkline, half-life, corr, last alert.

    Rows are sorted by |z| (largest first) until a column header is clicked; clicking it again
    reverses the order. Cells are updated in place at the refresh rate: only those whose text
    changed are repainted (:class:`~pairs_tui.ui.widgets.watch_table.WatchTable`), and the rows
    are re-ordered only when the order changed. Enter dismisses the screen with the highlighted
    pair; Escape with None.

    Args:
        pairs: The pairs of the desk, read at every refresh (pairs come and go).
        monitored: The pair the monitor shows: the cursor starts on it.
        entry_z: |z| at or past it is shown reversed.
        refresh_hz: How often the cells are updated.
    """

    DEFAULT_CSS = """
    WatchlistScreen {
        layout: vertical;
        & > #title { height: 1; background: $panel; padding: 0 1; text-wrap: nowrap; }
        & > WatchTable { height: 1fr; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = keys.WATCHLIST_BINDINGS

    def __init__(
        self,
        pairs: Callable[[], Mapping[Pair, WatchedPair]],
        *,
        monitored: Pair,
        entry_z: float,
        refresh_hz: float,
    ) -> None:
        super().__init__()
        self._pairs = pairs
        self._monitored = monitored
        self.entry_z = entry_z
        """|z| at or past it stands out."""
        self._refresh_hz = refresh_hz
        self.sort_key = "zscore"
        """The column the rows are sorted on."""
        self.descending = True
        """Largest first."""
        self.table = WatchTable(COLUMNS)
        self._title = Static("", id="title")
        self._title_text = ""
        self._sparks: dict[Pair, tuple[str, int, deque[float]]] = {}
        self._rows: list[WatchRow] = []

    def compose(self) -> ComposeResult:
        yield self._title
        yield self.table
        yield DeskFooter()

    def on_mount(self) -> None:
        self.refresh_rows()
        self.set_interval(1 / self._refresh_hz, self.refresh_rows, name="watchlist")
        self.table.move_to(self._monitored)
        self.table.focus()

    @property
    def order(self) -> list[Pair]:
        """The pairs, top row first."""
        return list(self.table.order)

    def refresh_rows(self) -> None:
        """Update the cells that changed, add and remove pairs, re-order if the order changed."""
        pairs = self._pairs()
        rows = []
        for pair, pipeline in pairs.items():
            glance = pipeline.glance()
            row = watch_rows.watch_row(glance)
            rows.append(row)
            cells = row.texts(self.entry_z)
            cells["spark"] = (watch_rows.spark(self._zscores(pair, pipeline, glance)), "")
            self.table.set_row(pair, cells)
        for gone in set(self.table.order) - set(pairs):
            self.table.remove_row(gone)
            self._sparks.pop(gone, None)
        self._rows = rows
        self._sort()
        self._show_title(rows)

    def _zscores(self, pair: Pair, pipeline: WatchedPair, glance: Glance) -> np.ndarray:
        """The pair's latest z-scores: one more when one bar closed, else read from history."""
        held = self._sparks.get(pair)
        count = glance.bar_count
        if held is not None and held[0] == glance.timeframe and held[1] == count:
            return np.array(held[2], dtype=np.float64)
        if (
            held is not None
            and held[0] == glance.timeframe
            and held[1] + 1 == count
            and glance.latest is not None
        ):
            z = glance.latest.stats.zscore
            held[2].append(np.nan if z is None else z)
            values = held[2]
        else:
            column = pipeline.history().get_column("zscore").tail(SPARK_BARS)
            values = deque(column.fill_null(np.nan).to_list(), maxlen=SPARK_BARS)
        self._sparks[pair] = (glance.timeframe, count, values)
        return np.array(values, dtype=np.float64)

    def _sort(self) -> None:
        wanted = watch_rows.order(self._rows, self.sort_key, descending=self.descending)
        self.table.reorder(wanted)
        self.table.mark_sorted(self.sort_key, descending=self.descending)

    def _show_title(self, rows: list[WatchRow]) -> None:
        column = next(c for c in COLUMNS if c.key == self.sort_key)
        by = "|z|" if self.sort_key in ("zscore", "spark") else column.label
        arrow = "↓" if self.descending else "↑"
        timeframe = ", ".join(dict.fromkeys(r.timeframe for r in rows))
        title = Text.assemble(
            ("watchlist", "bold"),
            f"  {len(rows)} pair{'s' if len(rows) != 1 else ''}",
            f" · {timeframe}" if timeframe else "",
            f" · sorted by {by} {arrow}",
            (" · enter shows a pair, escape returns", "dim"),
        )
        if title.plain != self._title_text:
            self._title_text = title.plain
            self._title.update(title)

    # -- keys and clicks -------------------------------------------------------------------

    @on(WatchTable.HeaderClicked)
    def _header_clicked(self, event: WatchTable.HeaderClicked) -> None:
        key = event.key
        if key == self.sort_key or (key == "spark" and self.sort_key == "zscore"):
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, key != "pair"
        self._sort()
        self._show_title(self._rows)

    def action_sort_z(self) -> None:
        """Sort by |z|, largest first."""
        self.sort_key, self.descending = "zscore", True
        self._sort()
        self._show_title(self._rows)

    @on(WatchTable.Chosen)
    def _row_chosen(self, event: WatchTable.Chosen) -> None:
        event.stop()
        self.dismiss(event.pair)

    def action_show_pair(self) -> None:
        """Back to the monitor, showing the highlighted pair."""
        pair = self.table.highlighted
        if pair is not None:
            self.dismiss(pair)

    def action_close(self) -> None:
        """Back to the monitor, unchanged."""
        self.dismiss(None)
