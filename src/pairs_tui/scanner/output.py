"""A scan's rows on their way out: JSON lines, and Parquet or CSV files written atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, TextIO

import msgspec
import polars as pl

FORMATS: Final = {".parquet": "parquet", ".csv": "csv"}
"""File formats ``--output`` writes, by extension."""


def output_format(path: Path) -> str:
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
    """Write the rows to ``path`` (Parquet or CSV by its extension), all or nothing: into a
    temporary file beside it, flushed to disk, then renamed over it.

    Raises:
        ValueError: An extension other than ``.parquet`` or ``.csv``.
        OSError: The file could not be written (the folder is missing or read-only…); nothing
            is left behind.
    """
    kind = output_format(path)
    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            if kind == "parquet":
                frame.write_parquet(out)
            else:
                frame.write_csv(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
