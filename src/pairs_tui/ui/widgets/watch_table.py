"""The watchlist's table: a header line and one line per pair, repainted a cell at a time.

Textual's ``DataTable`` re-renders every visible row when any cell changes (its caches are keyed
by one update counter) and the whole table goes out on the wire: twenty pairs whose prices tick
ten times a second cost 32% of a core and 160 KiB/s at 160x50 (``bench_watchlist``). This widget
draws with the line API and, when a cell's text changes, repaints that cell's region only, so a
new price costs its dozen cells on the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from pairs_tui.ui.watch_rows import Column

Pair = tuple[str, str]
Cell = tuple[str, str]
"""A cell's text and its Rich style (``""`` for none)."""
GAP = 1
"""Spaces between columns (each cell's text keeps a space of its own)."""
MIN_LAST = 12
"""The last column takes the width left, at least this much."""
NARROW_DROPS = ("close_a", "close_b")
"""Columns left out, in this order, when the table is wider than the widget."""


@dataclass(frozen=True, slots=True)
class _Placed:
    column: Column
    x: int
    width: int


class WatchTable(Widget, can_focus=True):
    """Rows of cells under a header; a row cursor; Enter chooses, a header click sorts.

    Args:
        columns: The columns, left to right.
    """

    DEFAULT_CSS = """
    WatchTable {
        height: 1fr;
        width: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup", "cursor(-10)", show=False),
        Binding("pagedown", "cursor(10)", show=False),
        Binding("home", "cursor(-1000000)", show=False),
        Binding("end", "cursor(1000000)", show=False),
        Binding("enter", "choose", show=False),
    ]

    class Chosen(Message):
        """Enter (or a click on the row under the cursor) chose a pair."""

        def __init__(self, pair: Pair) -> None:
            super().__init__()
            self.pair = pair

    class HeaderClicked(Message):
        """A click on a column's header."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.order: list[Pair] = []
        """The pairs, top row first."""
        self.cursor = 0
        """The highlighted row."""
        self.sort_key = ""
        """The column the header marks as sorted (``""``: none)."""
        self.descending = True
        self.cells_repainted = 0
        """Cells repainted alone (a changed value)."""
        self.full_repaints = 0
        """Repaints of the whole table (rows added or removed, the cursor moved, resized)."""
        self.lines_repainted = 0
        """Rows repainted whole (another pair moved onto their line)."""
        self._cells: dict[Pair, dict[str, Cell]] = {}
        self._top = 0
        self._placed: list[_Placed] = []
        self._lines: dict[int, Strip] = {}

    # -- content ---------------------------------------------------------------------------

    def text(self, pair: Pair, key: str) -> str:
        """What the cell shows."""
        return self._cells[pair][key][0]

    def set_row(self, pair: Pair, cells: dict[str, Cell]) -> None:
        """Show ``cells`` on ``pair``'s row, adding the row at the bottom if new."""
        shown = self._cells.get(pair)
        if shown is None:
            self._cells[pair] = dict(cells)
            self.order.append(pair)
            self._repaint()
            return
        y = self.order.index(pair) - self._top + 1
        for placed in self._placed:
            key = placed.column.key
            if shown.get(key) != cells[key]:
                shown[key] = cells[key]
                self._lines.pop(y, None)
                if 1 <= y < self.size.height:
                    self.cells_repainted += 1
                    self.refresh(Region(placed.x, y, placed.width, 1))
        for key, cell in cells.items():  # the columns left out at this width
            shown[key] = cell

    def remove_row(self, pair: Pair) -> None:
        """Take ``pair``'s row out."""
        if pair in self._cells:
            del self._cells[pair]
            self.order.remove(pair)
            self.cursor = min(self.cursor, max(0, len(self.order) - 1))
            self._repaint()

    def reorder(self, order: list[Pair]) -> None:
        """Show the rows in ``order``, the cursor staying on its pair."""
        if order == self.order:
            return
        before, top = self.order, self._top
        current = self.order[self.cursor] if self.order else None
        self.order = list(order)
        if current is not None and current in self.order:
            self.cursor = self.order.index(current)
        self._scroll_to_cursor()
        if self._top != top or len(before) != len(order):
            self._repaint()
            return
        # Mostly neighbours swap places as their |z| cross: repaint the lines that changed.
        for row, (old, new) in enumerate(zip(before, order, strict=True)):
            y = row - self._top + 1
            if old != new and 1 <= y < self.size.height:
                self.lines_repainted += 1
                self._lines.pop(y, None)
                self.refresh(Region(0, y, self.size.width, 1))

    def mark_sorted(self, key: str, *, descending: bool) -> None:
        """Mark the sorted column in the header."""
        if (key, descending) != (self.sort_key, self.descending):
            self.sort_key, self.descending = key, descending
            self._lines.pop(0, None)
            self.refresh(Region(0, 0, self.size.width, 1))

    def move_to(self, pair: Pair) -> None:
        """Put the cursor on ``pair``."""
        if pair in self.order:
            self._set_cursor(self.order.index(pair))

    @property
    def highlighted(self) -> Pair | None:
        """The pair under the cursor."""
        return self.order[self.cursor] if self.order else None

    # -- drawing ---------------------------------------------------------------------------

    def _repaint(self) -> None:
        self.full_repaints += 1
        self._lines.clear()
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._place(event.size.width)
        self._top = 0
        self._scroll_to_cursor()
        self._repaint()

    def _place(self, width: int) -> None:
        """Lay the columns out on ``width`` cells: the last one takes what is left; the
        prices go first when even so it would not fit."""
        columns = list(self.columns)
        drops = list(NARROW_DROPS)

        def fixed(cols: list[Column]) -> int:
            return 1 + sum(c.width + GAP for c in cols[:-1])

        while drops and fixed(columns) + MIN_LAST > width:
            drop = drops.pop(0)
            columns = [c for c in columns if c.key != drop]
        x, placed = 1, []
        for column in columns[:-1]:
            placed.append(_Placed(column, x, column.width))
            x += column.width + GAP
        if columns:
            placed.append(_Placed(columns[-1], x, max(MIN_LAST, width - x)))
        self._placed = placed

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return sum(c.width + GAP for c in self.columns)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.order) + 1

    def render_line(self, y: int) -> Strip:
        cached = self._lines.get(y)
        if cached is not None:
            return cached
        width = self.size.width
        base = self.rich_style
        if y == 0:
            strip = self._header(base, width)
        else:
            row = self._top + y - 1
            if row >= len(self.order):
                strip = Strip.blank(width, base)
            else:
                cursor = row == self.cursor and self.has_focus
                strip = self._row(self.order[row], base, width, cursor=cursor)
        self._lines[y] = strip
        return strip

    def _header(self, base: Style, width: int) -> Strip:
        cells: list[Cell] = []
        for placed in self._placed:
            label = placed.column.label
            if placed.column.key == self.sort_key or (
                self.sort_key == "zscore" and placed.column.key == "spark"
            ):
                label = f"{label} {'↓' if self.descending else '↑'}"
            cells.append((label, "bold"))
        return self._strip(cells, base + Style(bold=True, dim=False), width)

    def _row(self, pair: Pair, base: Style, width: int, *, cursor: bool) -> Strip:
        shown = self._cells[pair]
        cells = [shown.get(p.column.key, ("", "")) for p in self._placed]
        style = base + Style(reverse=True) if cursor else base
        return self._strip(cells, style, width)

    def _strip(self, cells: list[Cell], style: Style, width: int) -> Strip:
        segments = [Segment(" ", style)]
        for placed, (text, tone) in zip(self._placed, cells, strict=True):
            fitted = text[: placed.width]
            fitted = fitted.rjust(placed.width) if placed.column.right else fitted
            fitted = fitted.ljust(placed.width)
            segments.append(Segment(fitted, style + Style.parse(tone) if tone else style))
            segments.append(Segment(" " * GAP, style))
        # Textual writes a changed cell from the start of the widget's line, so every change
        # of style on the way costs a full SGR sequence (about 40 bytes in truecolor): runs of
        # one style go out as one segment.
        return Strip(segments).crop_extend(0, width, style).simplify()

    # -- keys and mouse --------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        """Move the cursor ``step`` rows."""
        self._set_cursor(self.cursor + step)

    def _set_cursor(self, row: int) -> None:
        row = max(0, min(row, len(self.order) - 1))
        if row != self.cursor:
            self.cursor = row
            self._scroll_to_cursor()
            self._repaint()

    def _scroll_to_cursor(self) -> None:
        if self.size.height < 2:
            return  # not laid out yet: on_resize comes back here
        visible = self.size.height - 1
        if self.cursor < self._top:
            self._top = self.cursor
        elif self.cursor >= self._top + visible:
            self._top = self.cursor - visible + 1

    def action_choose(self) -> None:
        """Choose the pair under the cursor."""
        pair = self.highlighted
        if pair is not None:
            self.post_message(self.Chosen(pair))

    def on_focus(self) -> None:
        self._repaint()

    def on_blur(self) -> None:
        self._repaint()

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            placed = next((p for p in self._placed if p.x <= event.x < p.x + p.width + GAP), None)
            if placed is not None:
                self.post_message(self.HeaderClicked(placed.column.key))
            return
        row = self._top + event.y - 1
        if row < len(self.order):
            if row == self.cursor:
                self.action_choose()
            else:
                self._set_cursor(row)
