"""A scan's rows on their way out: JSON lines, and Parquet or CSV files written atomically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, TextIO

import msgspec
import polars as pl

from pairs_tui.export import ExportFormat, write_atomically

FORMATS: Final[dict[str, ExportFormat]] = {".parquet": "parquet", ".csv": "csv"}
"""File formats ``--output`` writes, by extension."""


def output_format(path: Path) -> ExportFormat:
    """``"parquet"`` or ``"csv"`` from the file's extension.

    Raises:
        ValueError: Any other extension; the message names the file.
    """
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"--output {path}: the name must end in .parquet or .csv")
    return kind


def write_json_lines(records: Iterable[dict[str, Any]], out: TextIO) -> None:
    """One JSON object a line, in order, flushed at the end."""
    encoder = msgspec.json.Encoder()
    for record in records:
        out.write(encoder.encode(record).decode())
        out.write("\n")
    out.flush()


def write_table(frame: pl.DataFrame, path: Path) -> None:
    """Write the rows to ``path`` (Parquet or CSV by its extension), all or nothing
    (:func:`pairs_tui.export.write_atomically`).

    Raises:
        ValueError: An extension other than ``.parquet`` or ``.csv``.
        OSError: The file could not be written (the folder is missing or read-only…); nothing
            is left behind.
    """
    write_atomically(frame, path, output_format(path))
