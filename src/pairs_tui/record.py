"""``--record DIR``: every trade of the session to Parquet, as it arrives, one dataset on disk.

Layout, which ``--replay DIR``, DuckDB (``read_parquet('DIR/**/*.parquet',
hive_partitioning=true)``) and Polars (``pl.scan_parquet(DIR)``) all read as one table::

    DIR/symbol=BTCUSDT/date=2024-08-08/1723161256322-3fa94c1e.parquet
        time Int64 (trade time, ms UTC) · price Float64 · qty Float64 · buyer_maker Boolean ·
        id Int64 (aggregate trade id, -1 when unknown)

``symbol`` and ``date`` (UTC, from the trade time) live only in the path. A file is named by its
first trade time, so names sort in time order; rows in a file are sorted by trade time. A trade
that arrives out of order (a backfill) is kept in the file open at the time, so across files of
a folder a reader that needs one order sorts by ``time`` (then ``id``).

How it keeps up, and what a crash costs:

- The feed side is one ``list.append`` per trade (:attr:`Recorder.on_trade` *is* that append);
  nothing else happens on the pipeline's thread.
- Every ``flush_seconds`` (2 s) the accumulated trades are handed to a worker thread, which
  turns them into columns and writes Parquet, so the event loop never waits on the disk.
- Each symbol has one open *segment*: the trades of one UTC slot of ``segment_seconds``
  (15 min) on one date, up to ``segment_rows``. A flush rewrites the open segment whole, to a
  temporary file renamed over the segment's file. A Parquet file is unreadable until its footer
  is written, so appending row groups in place would leave a corrupt file on a crash; rewriting
  keeps every file on disk complete at every moment, and costs little: at 20,000 trades/s a
  segment fills in 25 s and the average rewrite is a quarter of a million rows (tens of ms, off
  the event loop; see ``benchmarks/bench_record.py``).
- A slot ending, the date changing or the row cap seals the segment: its file is final and never
  touched again. A day at a quiet pace is 96 files a symbol, not the 43,200 that a file per flush
  would make, and no later compaction (with its own crash window) is needed.
- A crash loses at most the trades of the last ``flush_seconds`` plus the write in flight, and
  never corrupts a file: temporary files are written in a hidden folder beside ``DIR``
  (``.DIR.incoming``) so that even a file cut short by a crash is outside the dataset; on
  another file system than its parent, or when the parent is not writable, they go into the
  partition folder with a ``.tmp`` suffix, which glob readers skip.
- On exit (end of replay, ``--duration``, Ctrl-C, quitting the TUI) everything accumulated is
  written before the program ends: the pipeline runs :meth:`Recorder.run` as a companion task
  and awaits it when it stops.
- A write that fails (disk full, ``ulimit -f``) is logged and retried at every flush with
  everything held since; nothing is dropped while memory lasts. :attr:`Recorder.waiting` says
  how many trades wait (the status line shows it; headless mode logs it on stderr).
- At exit, what still cannot be written to ``DIR`` goes to one Parquet file in the fallback
  folder (``$XDG_STATE_HOME/pairs-tui/unrecorded/``, with a ``symbol`` column) and
  :attr:`Recorder.shortfall` says how many trades missed ``DIR`` and where they went (or that
  they are lost): the run then exits 1 naming them (:func:`take_shortfalls`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from types import TracebackType

import polars as pl

from pairs_tui.export import remove_leftovers, write_atomically, write_temporary
from pairs_tui.records import Trade
from pairs_tui.ticks import TICK_SCHEMA

log = logging.getLogger("pairs_tui.record")

NAG_SECONDS = 30.0
"""While writes fail, how often the count of waiting trades is logged again."""
_SHORTFALLS: list[str] = []
"""What recorders of this process could not write to their folder, one line each."""


def take_shortfalls() -> list[str]:
    """The shortfalls of every recorder closed since the last call (and forget them).

    The CLI reads them when a run ends, whichever mode ran the recorder.
    """
    taken = _SHORTFALLS[:]
    _SHORTFALLS.clear()
    return taken


RECORD_SCHEMA = pl.Schema(TICK_SCHEMA)
"""Columns of every recorded file: time, price, qty, buyer_maker, id."""
_DAY_MS = 86_400_000


@dataclass(eq=False)
class _Segment:
    """The trades of one symbol in one slot of one date, all in one file."""

    symbol: str
    date: Date
    slot: int
    """Trade time // slot length."""
    path: Path
    frame: pl.DataFrame
    dirty: bool = True
    """Holds rows the file on disk does not have yet."""
    written: int = 0
    """Rows the file on disk has."""
    sealed: bool = False
    """No row will be added; dropped once clean."""


class Recorder:
    """Writes every trade it is given to a partitioned Parquet dataset under ``folder``.

    Attach :attr:`on_trade` as the pipeline's trade listener and run :meth:`run` for as long as
    the pipeline runs: ``pipeline.add_companion(recorder.run)`` starts it with
    :meth:`Pipeline.run` and awaits its last write when run ends (``build_pipeline`` does both).
    Standing alone, ``async with recorder:`` does the same.

    Args:
        folder: The dataset's root; created when needed.
        symbols: Symbols to record; trades of others are ignored.
        flush_seconds: How often accumulated trades are written: the most a crash can lose.
        segment_seconds: Length of a file's UTC slot; divides a day.
        segment_rows: Rows after which a file is sealed even within its slot.
        fallback: Folder for the trades that cannot be written to ``folder`` at exit; None
            keeps no fallback (they are counted as lost).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        symbols: tuple[str, ...] | list[str],
        flush_seconds: float = 2.0,
        *,
        segment_seconds: int = 900,
        segment_rows: int = 500_000,
        fallback: str | os.PathLike[str] | None = None,
    ) -> None:
        if flush_seconds <= 0:
            raise ValueError(f"flush_seconds must be positive, got {flush_seconds}")
        if segment_seconds <= 0 or _DAY_MS % (segment_seconds * 1000):
            raise ValueError(f"segment_seconds must divide a day, got {segment_seconds}")
        self.folder = Path(folder).absolute()
        self.symbols = frozenset(s.upper() for s in symbols)
        self.flush_seconds = flush_seconds
        self.segment_ms = segment_seconds * 1000
        self.segment_rows = segment_rows
        self._pending: list[Trade] = []
        self.on_trade = self._pending.append
        """Take one trade (the pipeline's trade listener): a bare list append, nothing more."""
        self._open: dict[str, _Segment] = {}
        self._dirty: list[_Segment] = []
        """Segments with rows not yet on disk, sealed or not, oldest first."""
        self._lock = threading.Lock()
        """One writer at a time: a timer flush still running when the final one starts."""
        self._staging: Path | None = self.folder.parent / f".{self.folder.name}.incoming"
        self._failing = False
        self.trades_written = 0
        """Trades on disk so far."""
        self.files: set[Path] = set()
        """Every file written by this recorder."""
        self.flushes = 0
        """Flushes that wrote something."""
        self.fallback_folder = None if fallback is None else Path(fallback)
        self.shortfall = ""
        """After the last write: what missed ``folder`` and where it went; empty if nothing."""
        self._error = ""
        self._nagged_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def failing(self) -> bool:
        """The last flush could not write everything (trades are waiting for the disk)."""
        return self._failing

    @property
    def waiting(self) -> int:
        """Trades taken but not yet on disk (held while writes fail); read from any thread."""
        held = sum(seg.frame.height - seg.written for seg in list(self._dirty))
        return len(self._pending) + held

    # -- running --------------------------------------------------------------------------

    async def run(self) -> None:
        """Flush every ``flush_seconds`` until cancelled; then write everything left."""
        try:
            while True:
                await asyncio.sleep(self.flush_seconds)
                await self.flush()
        finally:
            await self.close()

    async def flush(self) -> int:
        """Write what accumulated, in a worker thread. Returns the trades taken."""
        batch = self._take()
        if not batch and not self._dirty:
            return 0
        await asyncio.to_thread(self._write, batch, False)
        return len(batch)

    async def close(self) -> None:
        """Write everything accumulated and seal every file; safe to call more than once.

        If this await is cancelled the write still completes in its thread.
        """
        batch = self._take()
        await asyncio.to_thread(self._write, batch, True)

    def close_now(self) -> None:
        """:meth:`close`, blocking the calling thread (for exit paths with no event loop)."""
        self._write(self._take(), True)

    async def __aenter__(self) -> Recorder:
        self._task = asyncio.create_task(self.run(), name="recorder")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _take(self) -> list[Trade]:
        # Copy and clear rather than swap: on_trade is bound to this very list.
        batch = self._pending[:]
        self._pending.clear()
        return batch

    # -- writing (worker thread) ----------------------------------------------------------

    def _write(self, batch: list[Trade], final: bool) -> None:
        with self._lock:
            if batch:
                self._route(batch)
            if final:
                for segment in self._open.values():
                    segment.sealed = True
                self._open.clear()
            self._write_dirty()
            if final:
                self._tidy_staging()
                if self._dirty:
                    self._divert()

    def _route(self, batch: list[Trade]) -> None:
        """Put a batch's rows into their symbols' segments."""
        frame = pl.DataFrame(
            {
                "symbol": [t.symbol for t in batch],
                "time": [t.time for t in batch],
                "price": [t.price for t in batch],
                "qty": [t.qty for t in batch],
                "buyer_maker": [t.buyer_maker for t in batch],
                "id": [t.id for t in batch],
            },
            schema={"symbol": pl.String, **RECORD_SCHEMA},
        )
        for (symbol,), rows in frame.partition_by(
            "symbol", as_dict=True, maintain_order=True
        ).items():
            if symbol in self.symbols:
                self._route_symbol(str(symbol), rows.drop("symbol"))

    def _route_symbol(self, symbol: str, rows: pl.DataFrame) -> None:
        current = self._open.get(symbol)
        floor = current.slot if current is not None else 0
        # A slot never goes back: a late trade joins the segment open at the time.
        keyed = rows.with_columns(
            _slot=pl.max_horizontal((pl.col("time") // self.segment_ms).cum_max(), pl.lit(floor)),
            _date=pl.from_epoch("time", "ms").dt.date(),
        )
        for (day, slot), group in keyed.partition_by(
            ["_date", "_slot"], as_dict=True, maintain_order=True
        ).items():
            part = group.drop("_slot", "_date")
            current = self._open.get(symbol)
            if current is not None and current.date == day and current.slot == slot:
                current.frame = pl.concat([current.frame, part])
                current.dirty = True
                if current not in self._dirty:
                    self._dirty.append(current)
            elif current is not None and day < current.date:
                # Out of order across midnight: a one-off file in that date's folder.
                self._start(symbol, day, int(slot), part, sealed=True)
            else:
                if current is not None:
                    current.sealed = True
                self._open[symbol] = self._start(symbol, day, int(slot), part, sealed=False)
            current = self._open.get(symbol)
            if current is not None and current.frame.height >= self.segment_rows:
                current.sealed = True
                del self._open[symbol]

    def _start(
        self,
        symbol: str,
        day: Date,
        slot: int,
        rows: pl.DataFrame,
        *,
        sealed: bool,
    ) -> _Segment:
        name = f"{rows['time'][0]}-{secrets.token_hex(4)}.parquet"
        path = self.folder / f"symbol={symbol}" / f"date={day.isoformat()}" / name
        segment = _Segment(symbol, day, slot, path, rows, sealed=sealed)
        self._dirty.append(segment)
        return segment

    def _write_dirty(self) -> None:
        wrote = False
        failed: tuple[_Segment, Exception] | None = None
        for segment in self._dirty:
            try:
                self._write_segment(segment)
            except Exception as exc:
                failed = failed or (segment, exc)
            else:
                wrote = True
        self._dirty = [segment for segment in self._dirty if segment.dirty]
        if wrote:
            self.flushes += 1
        if failed is not None:
            segment, error = failed
            self._error = str(error)
            now = time.monotonic()
            if not self._failing or now - self._nagged_at >= NAG_SECONDS:
                log.error(
                    "recording to %s: cannot write %s (%s); %d trades waiting, retrying at "
                    "every flush",
                    self.folder,
                    segment.path,
                    error,
                    self.waiting,
                )
                self._nagged_at = now
            self._failing = True
        elif self._failing and not self._dirty:
            log.info("recording to %s: writing again, no trade waiting", self.folder)
            self._failing = False

    def _divert(self) -> None:
        """At exit: the rows ``folder`` would not take go to one file in the fallback folder."""
        parts = [
            seg.frame.slice(seg.written).with_columns(pl.lit(seg.symbol).alias("symbol"))
            for seg in self._dirty
        ]
        rows = pl.concat(parts).select("symbol", *RECORD_SCHEMA).sort("time", maintain_order=True)
        missed = f"--record {self.folder}: {rows.height:,} trades not recorded ({self._error})"
        if self.fallback_folder is None:
            self.shortfall = f"{missed}; they are lost"
        else:
            name = f"{self.folder.name}-{rows['time'][0]}-{secrets.token_hex(4)}.parquet"
            path = self.fallback_folder / name
            try:
                self.fallback_folder.mkdir(parents=True, exist_ok=True)
                write_atomically(rows, path, "parquet")
            except Exception:
                self.shortfall = f"{missed}; the fallback {path} could not be written: lost"
            else:
                self.shortfall = f"{missed}; they are in {path} instead"
        # Said once: a second close does not report (or divert) the same trades again.
        for seg in self._dirty:
            seg.written, seg.dirty = seg.frame.height, False
        self._dirty = []
        # The CLI says it on stderr when the run ends (take_shortfalls): the log file only here.
        log.error("%s", self.shortfall, extra={"file_only": True})
        _SHORTFALLS.append(self.shortfall)

    def _write_segment(self, segment: _Segment) -> None:
        frame = segment.frame
        if not frame["time"].is_sorted():
            frame = frame.sort("time", maintain_order=True)
        segment.frame = frame = frame.rechunk()
        segment.path.parent.mkdir(parents=True, exist_ok=True)
        self._put(frame, segment.path)
        self.trades_written += frame.height - segment.written
        self.files.add(segment.path)
        segment.written = frame.height
        segment.dirty = False

    def _put(self, frame: pl.DataFrame, path: Path) -> None:
        """Write ``frame`` to ``path`` atomically, staging it outside the dataset if we can."""
        staging = self._staging
        if staging is not None:
            try:
                staging.mkdir(exist_ok=True)
            except OSError:
                staging = self._staging = None  # a parent we cannot write: stage in place
        if staging is not None:
            temporary = write_temporary(frame, path, "parquet", staging=staging)
            try:
                os.replace(temporary, path)
                return
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                if exc.errno != errno.EXDEV:
                    raise
                self._staging = None  # DIR is a mount point: stage in place from now on
        write_atomically(frame, path, "parquet")

    def _tidy_staging(self) -> None:
        if self._staging is not None and self._staging.is_dir():
            remove_leftovers(self._staging)
            with contextlib.suppress(OSError):
                self._staging.rmdir()  # only when empty: another recorder may share it
