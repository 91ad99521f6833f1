"""A bounded, append-only table that lives in Polars.

Rows are appended to one plain Python list (a single ``list.append`` on the hot path) and moved
into a Polars chunk every ``chunk_rows`` rows; the oldest chunks are dropped once the table
holds more than ``max_rows``. Reading concatenates the chunks without copying them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

Columns = Callable[[list[Any]], Sequence[Sequence[object]]]
"""Turns pending rows into one sequence of values per column, in schema order."""


def transpose(rows: list[Any]) -> Sequence[Sequence[object]]:
    """Columns of rows that are tuples in schema order."""
    return list(zip(*rows, strict=True))


class RollingTable:
    """Append rows, read a Polars frame of the last ``max_rows`` rows.

    Args:
        schema: Column names and Polars dtypes, in order.
        max_rows: Rows kept; memory stays bounded by about ``max_rows + chunk_rows`` rows.
        chunk_rows: Rows buffered in Python before they move into a Polars chunk.
        columns: How to turn buffered rows into columns; rows are tuples by default, but any
            row object works with a matching function (the tick store keeps Trade records).
    """

    def __init__(
        self, schema: Mapping[str, pl.DataType | type[pl.DataType]], max_rows: int,
        chunk_rows: int = 1024, columns: Columns = transpose,
    ) -> None:
        self.schema = pl.Schema(schema)
        self.max_rows = max_rows
        self.chunk_rows = max(1, min(chunk_rows, max_rows))
        self._to_columns = columns
        self._pending: list[Any] = []
        self._chunks: deque[pl.DataFrame] = deque()
        self._chunked_rows = 0

    def __len__(self) -> int:
        return min(self._chunked_rows + len(self._pending), self.max_rows)

    def append(self, row: Any) -> None:
        """Append one row (a tuple in schema order, or what ``columns`` understands)."""
        pending = self._pending
        pending.append(row)
        if len(pending) >= self.chunk_rows:
            self._seal()

    def _frame_of(self, rows: list[Any]) -> pl.DataFrame:
        values = self._to_columns(rows)
        return pl.DataFrame(dict(zip(self.schema.names(), values, strict=True)),
                            schema=self.schema, strict=False)

    def _seal(self) -> None:
        if not self._pending:
            return
        chunk = self._frame_of(self._pending)
        self._pending = []
        self._chunks.append(chunk)
        self._chunked_rows += chunk.height
        while self._chunks and self._chunked_rows - self._chunks[0].height >= self.max_rows:
            self._chunked_rows -= self._chunks.popleft().height

    def frame(self, tail: int | None = None) -> pl.DataFrame:
        """The kept rows (at most ``max_rows``), oldest first; only the last ``tail`` if given."""
        parts = list(self._chunks)
        if self._pending:
            parts.append(self._frame_of(self._pending))
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
