"""Exports of a session: ticks, bars and analytics, as Parquet or CSV, never half-written.

Every file is written to a hidden temporary file in the folder it is meant for, flushed to
disk, and renamed into place; the rename is atomic on one file system, so a reader sees the
old state or the whole new file, and an export killed halfway leaves no file under a final
name. The three files of one export are all written before any is renamed: a failure leaves
none of them. A temporary file orphaned by a killed process carries its process id and is
removed by the next export into the same folder.

Taking the frames (:func:`take_session`) is cheap and belongs on the pipeline's thread; writing
them (:func:`write_session`) blocks and can run in a worker thread::

    paths = await asyncio.to_thread(write_session, take_session(pipeline), folder, "parquet")
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal, Protocol

import polars as pl

from pairs_tui.analytics import PairStats
from pairs_tui.records import Timeframe
from pairs_tui.snapshot import BAR_SCHEMA

ExportFormat = Literal["parquet", "csv"]
ExportKind = Literal["ticks", "bars", "analytics"]

ANALYTICS_COLUMNS: tuple[str, ...] = ("ts", *PairStats.__struct_fields__)
"""Columns of the analytics file: the bar start, then every analytics field."""
BAR_COLUMNS: tuple[str, ...] = tuple(c for c in BAR_SCHEMA if c not in ANALYTICS_COLUMNS[1:])
"""Columns of the bars file: the bar start, then OHLCV and trade count per leg (``_a``
the target, ``_b`` the hedge, in the order of the file name)."""

_LEFTOVER = re.compile(r"^\..+\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")


class ExportError(Exception):
    """An export that could not be written; the message names the path."""


class SessionHistory(Protocol):
    """What an export reads from a running session; the pipeline is one."""

    @property
    def symbols(self) -> tuple[str, str]:
        """The pair, target leg first."""
        ...

    @property
    def timeframe(self) -> Timeframe:
        """The active timeframe."""
        ...

    def history(self, timeframe: Timeframe | None = None) -> pl.DataFrame:
        """Bars and analytics kept for ``timeframe`` (:data:`~pairs_tui.snapshot.BAR_SCHEMA`)."""
        ...

    def ticks(self) -> pl.DataFrame:
        """Trades kept in memory, both legs."""
        ...


@dataclass(frozen=True)
class SessionFrames:
    """What one export writes, taken from the pipeline at one moment."""

    symbols: tuple[str, str]
    timeframe: Timeframe
    ticks: pl.DataFrame
    """Both legs' trades kept in memory: symbol, time, price, qty, buyer_maker, id."""
    bars: pl.DataFrame
    """:data:`BAR_COLUMNS` of the timeframe's history."""
    analytics: pl.DataFrame
    """:data:`ANALYTICS_COLUMNS` of the timeframe's history."""


def take_session(pipeline: SessionHistory, timeframe: Timeframe | None = None) -> SessionFrames:
    """The session's frames of ``timeframe`` (the active one by default). Cheap: no copy."""
    timeframe = timeframe or pipeline.timeframe
    history = pipeline.history(timeframe)
    return SessionFrames(
        symbols=pipeline.symbols,
        timeframe=timeframe,
        ticks=pipeline.ticks(),
        bars=history.select(BAR_COLUMNS),
        analytics=history.select(ANALYTICS_COLUMNS),
    )


def export_name(
    symbols: tuple[str, str],
    timeframe: str,
    kind: ExportKind,
    fmt: ExportFormat,
    now: datetime,
) -> str:
    """``BTCUSDT-ETHUSDT_1s_bars_20261122T101500Z.parquet``: pair, timeframe, what, UTC time."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{symbols[0]}-{symbols[1]}_{timeframe}_{kind}_{stamp}.{fmt}"


def export_session(
    pipeline: SessionHistory,
    folder: str | os.PathLike[str],
    fmt: ExportFormat = "parquet",
    *,
    now: datetime | None = None,
) -> list[Path]:
    """Write the session's ticks, bars and analytics of the active timeframe into ``folder``.

    Args:
        pipeline: The running session.
        folder: Export folder; created when needed.
        fmt: ``parquet`` or ``csv``.
        now: Time in the file names (default: now, UTC).

    Returns:
        The three files written: ticks, bars, analytics.

    Raises:
        ExportError: a file could not be written; nothing of this export is left behind.
    """
    return write_session(take_session(pipeline), folder, fmt, now=now)


def write_session(
    frames: SessionFrames,
    folder: str | os.PathLike[str],
    fmt: ExportFormat = "parquet",
    *,
    now: datetime | None = None,
) -> list[Path]:
    """Write taken frames as three files, all or none; blocking, safe in a worker thread.

    An export in the same second as an earlier one gets a ``-2``, ``-3``… suffix instead of
    replacing it.

    Raises:
        ExportError: a file could not be written; nothing of this export is left behind.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown export format {fmt!r}")
    folder = prepare_folder(folder)
    now = now or datetime.now(UTC)
    parts: dict[ExportKind, pl.DataFrame] = {
        "ticks": with_datetimes(frames.ticks),
        "bars": with_datetimes(frames.bars),
        "analytics": with_datetimes(frames.analytics),
    }
    paths = _free_paths(folder, frames, fmt, now)
    return write_all({path: (parts[kind], fmt) for kind, path in paths.items()})


TIME_DTYPE = pl.Datetime("ms", "UTC")
"""What an exported time column is: a reader sees times, not epoch integers."""


def with_datetimes(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its integer epoch-ms columns (``ts``, ``time``, ``*_ts``) as
    :data:`TIME_DTYPE`, the way an export writes them; other columns as they are."""
    times = [
        name
        for name, dtype in frame.schema.items()
        if (name in ("ts", "time") or name.endswith("_ts")) and dtype.is_integer()
    ]
    if not times:
        return frame
    return frame.with_columns(pl.col(times).cast(pl.Int64).cast(TIME_DTYPE))


def write_all(files: Mapping[Path, tuple[pl.DataFrame, ExportFormat]]) -> list[Path]:
    """Write several files all or none: every one to a temporary file first, then the renames.

    Args:
        files: Final path → (frame, format). The folders must exist.

    Returns:
        The paths, in the order given.

    Raises:
        ExportError: a file could not be written, naming it; none of the files is left.
    """
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for path, (frame, fmt) in files.items():
            try:
                staged.append((write_temporary(frame, path, fmt), path))
            except Exception as exc:
                raise ExportError(f"export to {path} failed: {exc}") from exc
        for temporary, path in staged:
            try:
                os.replace(temporary, path)
            except OSError as exc:
                raise ExportError(f"export to {path} failed: {exc}") from exc
            placed.append(path)
    except BaseException:
        for leftover in [temporary for temporary, _ in staged] + placed:
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        raise
    return list(files)


def _free_paths(
    folder: Path,
    frames: SessionFrames,
    fmt: ExportFormat,
    now: datetime,
) -> dict[ExportKind, Path]:
    kinds: tuple[ExportKind, ...] = ("ticks", "bars", "analytics")
    for n in range(1, 1000):
        paths = {}
        for kind in kinds:
            name = export_name(frames.symbols, frames.timeframe, kind, fmt, now)
            if n > 1:
                stem, dot, ext = name.rpartition(".")
                name = f"{stem}-{n}{dot}{ext}"
            paths[kind] = folder / name
        if not any(path.exists() for path in paths.values()):
            return paths
    raise ExportError(f"export folder {folder}: too many exports in one second")


def write_atomically(
    frame: pl.DataFrame,
    path: Path,
    fmt: ExportFormat = "parquet",
    *,
    staging: Path | None = None,
) -> None:
    """Write ``frame`` to ``path`` so that ``path`` is never seen half-written.

    Args:
        frame: What to write.
        path: The final file; replaced if it exists.
        fmt: ``parquet`` (zstd) or ``csv``.
        staging: Folder for the temporary file, on the same file system as ``path``
            (default: ``path``'s own folder).

    Raises:
        OSError, polars errors: the write failed; the temporary file is gone and ``path`` is
            as it was.
    """
    temporary = write_temporary(frame, path, fmt, staging=staging)
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_temporary(
    frame: pl.DataFrame,
    path: Path,
    fmt: ExportFormat,
    *,
    staging: Path | None = None,
) -> Path:
    """Write ``frame`` to a new hidden temporary file meant to become ``path``; return it.

    The file is on disk (fsync) when this returns. On failure it is removed.
    """
    folder = staging or path.parent
    temporary = folder / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        with open(temporary, "xb") as out:
            _write_frame(frame, out, fmt)
            out.flush()
            # Without this a power cut after the rename can leave an empty file under the name.
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary


def _write_frame(frame: pl.DataFrame, out: IO[bytes], fmt: ExportFormat) -> None:
    if fmt == "parquet":
        frame.write_parquet(out, compression="zstd")
    else:
        frame.write_csv(out)


def prepare_folder(folder: str | os.PathLike[str]) -> Path:
    """The export folder, created if need be, without the leftovers of a crashed export.

    Raises:
        ExportError: the folder cannot be created.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"export folder {folder}: cannot create it ({exc})") from None
    remove_leftovers(folder)
    return folder


def remove_leftovers(folder: Path) -> int:
    """Remove temporary files that processes no longer running left in ``folder``.

    Returns:
        How many were removed.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _LEFTOVER.match(entry.name)
        if match is None or _alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OSError:
        return True
    return True
