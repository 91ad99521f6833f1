"""A bounded, append-only table that lives in Polars.

Rows are appended to plain Python column lists (cheap on the hot path) and moved into Polars
chunks every ``chunk_rows`` rows; the oldest chunks are dropped once the table holds more than
``max_rows``. Reading concatenates the chunks without copying them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import polars as pl


class RollingTable:
    """Append rows, read a Polars frame of the last ``max_rows`` (or a few more) rows.

    Args:
        schema: Column names and Polars dtypes, in order.
        max_rows: Rows kept; memory stays bounded by about ``max_rows + chunk_rows`` rows.
        chunk_rows: Rows buffered in Python lists before they move into a Polars chunk.
    """

    def __init__(
        self, schema: Mapping[str, pl.DataType | type[pl.DataType]], max_rows: int,
        chunk_rows: int = 1024,
    ) -> None:
        self.schema = pl.Schema(schema)
        self.max_rows = max_rows
        self.chunk_rows = max(1, min(chunk_rows, max_rows))
        self._columns: list[list[object]] = [[] for _ in self.schema]
        self._chunks: deque[pl.DataFrame] = deque()
        self._chunked_rows = 0
        self.total_rows = 0
        """Rows ever appended, including those dropped since."""

    def __len__(self) -> int:
        return min(self._chunked_rows + len(self._columns[0]), self.max_rows)

    def append(self, row: Sequence[object]) -> None:
        """Append one row, its values in schema order."""
        for column, value in zip(self._columns, row, strict=True):
            column.append(value)
        self.total_rows += 1
        if len(self._columns[0]) >= self.chunk_rows:
            self._seal()

    def _seal(self) -> None:
        if not self._columns[0]:
            return
        chunk = pl.DataFrame(
            dict(zip(self.schema.names(), self._columns, strict=True)),
            schema=self.schema, strict=False,
        )
        self._columns = [[] for _ in self.schema]
        self._chunks.append(chunk)
        self._chunked_rows += chunk.height
        while self._chunks and self._chunked_rows - self._chunks[0].height >= self.max_rows:
            self._chunked_rows -= self._chunks.popleft().height

    def frame(self, tail: int | None = None) -> pl.DataFrame:
        """The kept rows (at most ``max_rows``), oldest first; only the last ``tail`` if given."""
        pending = None
        if self._columns[0]:
            pending = pl.DataFrame(
                dict(zip(self.schema.names(), self._columns, strict=True)),
                schema=self.schema, strict=False,
            )
        parts = [*self._chunks, *([pending] if pending is not None else [])]
        if not parts:
            return self.schema.to_frame()
        frame = pl.concat(parts, rechunk=False) if len(parts) > 1 else parts[0]
        keep = self.max_rows if tail is None else min(tail, self.max_rows)
        return frame.tail(keep)

    def clear(self) -> None:
        """Drop every row."""
        self._columns = [[] for _ in self.schema]
        self._chunks.clear()
        self._chunked_rows = 0
