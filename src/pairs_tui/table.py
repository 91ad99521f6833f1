"""A bounded, append-only table that lives in Polars.

Rows are appended to one plain Python list and moved into a Polars chunk every ``chunk_rows``
rows, or arrive as a batch of columns that becomes a chunk at once (the tick store,
:mod:`pairs_tui.ticks`, builds its columns as trades arrive); the oldest chunks are dropped once
the table holds more than ``max_rows``. Reading concatenates the chunks without copying them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import polars as pl


class RollingTable:
    """Append rows, read a Polars frame of the last ``max_rows`` rows.

    Args:
        schema: Column names and Polars dtypes, in order.
        max_rows: Rows kept; memory stays bounded by about ``max_rows + chunk_rows`` rows.
        chunk_rows: Rows buffered in Python before they move into a Polars chunk.
    """

    def __init__(
        self,
        schema: Mapping[str, pl.DataType | type[pl.DataType]],
        max_rows: int,
        chunk_rows: int = 1024,
    ) -> None:
        self.schema = pl.Schema(schema)
        self.max_rows = max_rows
        self.chunk_rows = max(1, min(chunk_rows, max_rows))
        self._pending: list[tuple[object, ...]] = []
        self._chunks: deque[pl.DataFrame] = deque()
        self._chunked_rows = 0

    def __len__(self) -> int:
        return min(self._chunked_rows + len(self._pending), self.max_rows)

    def append(self, row: tuple[object, ...]) -> None:
        """Append one row, a tuple in schema order."""
        pending = self._pending
        pending.append(row)
        if len(pending) >= self.chunk_rows:
            self._seal()

    def extend(self, columns: Sequence[Sequence[object]]) -> None:
        """Append rows given as one sequence per column, in schema order: one chunk at once."""
        self._seal()
        self._add(self.frame_of(columns))

    def extend_frame(self, rows: pl.DataFrame) -> None:
        """Append the rows of a frame that has (at least) this table's columns."""
        self._seal()
        self._add(rows.select(pl.col(n).cast(t) for n, t in self.schema.items()))

    def frame_of(self, columns: Sequence[Sequence[object]]) -> pl.DataFrame:
        """A frame in this table's schema of one sequence per column (not appended)."""
        return pl.DataFrame(
            dict(zip(self.schema.names(), columns, strict=True)), schema=self.schema, strict=False
        )

    def _seal(self) -> None:
        if not self._pending:
            return
        chunk = self.frame_of(list(zip(*self._pending, strict=True)))
        self._pending = []
        self._add(chunk)

    def _add(self, chunk: pl.DataFrame) -> None:
        if not chunk.height:
            return
        self._chunks.append(chunk)
        self._chunked_rows += chunk.height
        while self._chunks and self._chunked_rows - self._chunks[0].height >= self.max_rows:
            self._chunked_rows -= self._chunks.popleft().height

    def frame(self, tail: int | None = None) -> pl.DataFrame:
        """The kept rows (at most ``max_rows``), oldest first; only the last ``tail`` if given."""
        parts = list(self._chunks)
        if self._pending:
            parts.append(self.frame_of(list(zip(*self._pending, strict=True))))
        if not parts:
            return self.schema.to_frame()
        frame = pl.concat(parts, rechunk=False) if len(parts) > 1 else parts[0]
        keep = self.max_rows if tail is None else min(tail, self.max_rows)
        return frame.tail(keep)

    def clear(self) -> None:
        """Drop every row."""
        self._pending = []
        self._chunks.clear()
        self._chunked_rows = 0
