"""The merged trades of a replay, delivered in order a batch at a time, from memory or from disk.

A file of stream frames or a trades CSV is read a block at a time
(:mod:`~pairs_tui.feed.replay.ndjson`, :mod:`~pairs_tui.feed.replay.csv`). Its blocks of the
pair's trades go to a :class:`Spill`, a temporary file of Arrow IPC streams, while
a :class:`Run` per leg keeps what the merge needs to know of them: how many, their range of
times and ids, and whether they come in order. A big Parquet recording is read a block at a time
as well (:mod:`~pairs_tui.feed.replay.parquet`), and its blocks are not spilled but read from
the file again (:class:`Reread`). Once every file is read (and checked, before any screen
appears), a replay whose files pass :func:`streamable` is merged a block at a time by
:class:`StreamedTrades`, so memory holds a few blocks, not the file; any other (a leg out of
order, ids that two files share, copies of a trade) is read back whole and merged in memory
(:class:`TradeTable`), exactly as before. A Parquet recording whose files can be cut into
windows of time is merged a window at a time, each in memory (:class:`WindowedTrades`).

Why a spill and not a second reading of a text file: reading the file is the replay's cost (the
benchmark's bare decode is the yardstick), and the checks need all of it before the first bar
is shown. The spill is about 40 bytes a trade on disk under the system's temporary directory
(``TMPDIR``), in a file without a name, gone with the replay however it ends. Parquet is the
other way round: reading it again costs less than writing and reading a spill (and a recording
small enough is read whole, in one scan, and merged in memory).
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import BinaryIO, Protocol

import numpy as np
import polars as pl

from pairs_tui.feed.replay.files import ReplayError

try:
    from pairs_tui import _runs
except ImportError:  # built without a C compiler: numpy's sort
    _merge_order: Callable[[np.ndarray, np.ndarray, np.ndarray], int] | None = None
    _MOST_RUNS = 0
else:
    _merge_order, _MOST_RUNS = _runs.merge_order, _runs.MOST_RUNS

log = logging.getLogger("pairs_tui.feed.replay")

OUTPUT = ("leg", "time", "price", "qty", "buyer_maker", "id")
"""The columns a replay delivers (``leg`` 0 for the target, 1 for the hedge)."""

BATCH = 65_536
"""Trades handed over as columns between two yields, at full speed to a sink that takes
batches (and a held table out of order takes in order at a time): big enough that the
per-batch costs vanish, small enough to keep a screen live."""

KEY_LIMIT = 2**61
"""Times within this of zero make ``2 * time + leg`` a sort key that cannot overflow."""


def merged_order(keys: np.ndarray, ids: np.ndarray) -> np.ndarray | None:
    """The order of rows by key, then id, then row (``np.lexsort((ids, keys))``); None when it
    is theirs.

    A replay's rows come as a few runs in that order (each leg of a recording, each queue of
    the streamed merge): those are merged in one linear pass per doubling of the runs
    (:func:`pairs_tui._runs.merge_order`, about twice as fast as the sort and without its
    second key's pass); more runs than that, or no C extension, are sorted by numpy.

    Args:
        keys: ``2 * time + leg`` of each row, int64.
        ids: The rows' ids, int64.
    """
    keys, ids = np.ascontiguousarray(keys, np.int64), np.ascontiguousarray(ids, np.int64)
    if _merge_order is not None:
        order = np.empty(keys.size, dtype=np.int64)
        runs = _merge_order(keys, ids, order)
        if runs == 1:
            return None
        if runs <= _MOST_RUNS:
            return order
    elif bool(((keys[1:] > keys[:-1]) | ((keys[1:] == keys[:-1]) & (ids[1:] >= ids[:-1]))).all()):
        return None
    return np.lexsort((ids, keys))


class MergedTrades(Protocol):
    """A replay's trades of the pair in the merged order, one batch after another."""

    @property
    def height(self) -> int:
        """How many trades."""
        ...

    @property
    def last_time(self) -> int | None:
        """The last trade's time (the latest), None without trades."""
        ...

    def batches(self) -> Iterator[pl.DataFrame]:
        """The trades in order, columns :data:`OUTPUT`, in batches of any size; every call
        starts again from the first."""
        ...


@dataclass(frozen=True)
class TradeTable:
    """Merged trades held in memory."""

    table: pl.DataFrame
    """Columns :data:`OUTPUT`."""
    order: np.ndarray | None = None
    """The rows in the merged order, when the table's own is not: they are taken in it a batch
    at a time, so the table is never copied whole into it."""

    @property
    def height(self) -> int:
        """How many trades."""
        return self.table.height

    @property
    def last_time(self) -> int | None:
        """The last trade's time."""
        if self.table.is_empty():
            return None
        return int(self.table["time"][-1 if self.order is None else int(self.order[-1])])

    def batches(self) -> Iterator[pl.DataFrame]:
        """The whole table as one batch, or in the merged order :data:`BATCH` rows at a time."""
        if not self.table.height:
            return
        if self.order is None:
            yield self.table
            return
        for start in range(0, self.order.size, BATCH):
            yield self.table[self.order[start : start + BATCH]]


class _Counted:
    """Merged trades read as they are wanted, whose count and last time are known before."""

    _height: int
    _last_time: int | None

    @property
    def height(self) -> int:
        """How many trades."""
        return self._height

    @property
    def last_time(self) -> int | None:
        """The last trade's time."""
        return self._last_time


class WindowedTrades(_Counted):
    """Trades merged a window of time at a time: each window's trades held and merged in
    memory, one window after the other, which is their merged order when no trade of a later
    window comes before one of an earlier.

    Args:
        windows: Merges each window's trades, in order, as they are wanted.
        height: How many trades the windows hold.
        last_time: The latest trade time.
    """

    def __init__(
        self, windows: Callable[[], Iterator[TradeTable]], height: int, last_time: int | None
    ) -> None:
        self._windows = windows
        self._height = height
        self._last_time = last_time

    def batches(self) -> Iterator[pl.DataFrame]:
        """Each window's trades in order, one window held at a time."""
        windows = self._windows()
        while (table := next(windows, None)) is not None:
            yield from table.batches()
            table = None  # let go of it before the next window is read


class Blocks(Protocol):
    """Blocks of one file's trades of the pair, kept aside as the file is read, to be merged."""

    def write(self, block: pl.DataFrame) -> None:
        """Take the next block, as read."""
        ...

    def blocks(self) -> Generator[pl.DataFrame, None, None]:
        """The blocks, in the order written; every call starts again from the first."""
        ...


class Reread:
    """The blocks of a file that is read again when they are wanted, rather than spilled.

    Each block read again must be the block first read: a file changed in between (a trade
    inserted into a recording still being written) is refused, not replayed half one way and
    half the other.

    Args:
        read: Reads the file's blocks again.
        name: The file, for the error message.
    """

    def __init__(self, read: Callable[[], Iterator[pl.DataFrame]], name: str) -> None:
        self._read = read
        self._name = name
        self._seen: list[tuple[int, int, int]] = []
        """Each block's size and the sums of its times and ids."""

    def write(self, block: pl.DataFrame) -> None:
        """Note a block as first read."""
        self._seen.append(_fingerprint(block))

    def blocks(self) -> Generator[pl.DataFrame, None, None]:
        """The blocks, read from the file again.

        Raises:
            ReplayError: The file no longer holds the blocks first read.
        """
        again = self._read()
        for seen in self._seen:
            block = next(again, None)
            if block is None or _fingerprint(block) != seen:
                raise changed(self._name)
            yield block


def changed(name: str) -> ReplayError:
    """The error for files ``name`` that no longer hold what was first read of them."""
    return ReplayError(
        f"{name}: changed while it was replayed; replay a copy, or a recording that has stopped"
    )


def _fingerprint(block: pl.DataFrame) -> tuple[int, int, int]:
    return block.height, int(block["time"].sum()), int(block["id"].sum())


class Spill:
    """Blocks of trades written to a temporary file as they are read, and read back in the
    same order.

    The file has no name (``tempfile.TemporaryFile``: ``O_TMPFILE``, or made and unlinked at
    once) under the system's temporary folder (``TMPDIR``), so it is gone when the replay
    is, even one killed with no chance to clean up (``SIGKILL``, the OOM killer).

    A block that cannot be written (a full disk, a file size limit), or a folder where no file
    can be made, loses nothing: the spill reads back what it wrote, lets go of its file and
    holds every block in memory from then on, as a replay did before it spilled.
    """

    def __init__(self) -> None:
        self._spans: list[tuple[int, int]] = []
        self._file: BinaryIO | None = None
        self._held: list[pl.DataFrame] | None = None
        """The blocks, in memory (no file, or the disk refused one)."""
        self.rows = 0
        """Trades written."""
        try:
            self._file = tempfile.TemporaryFile(  # noqa: SIM115 (open as long as the spill)
                prefix="pairs-tui-replay-", buffering=0
            )
        except OSError as exc:
            self._hold(exc)

    def write(self, block: pl.DataFrame) -> None:
        """Append a block."""
        self.rows += block.height
        if self._held is not None:
            self._held.append(block)
            return
        assert self._file is not None
        packed = io.BytesIO()
        block.write_ipc_stream(packed, compression="uncompressed")
        data = packed.getbuffer()
        start = self._spans[-1][1] if self._spans else 0
        try:
            done = 0
            while done < len(data):
                done += os.pwrite(self._file.fileno(), data[done:], start + done)
        except OSError as exc:
            self._hold(exc)
            assert self._held is not None
            self._held.append(block)
            return
        self._spans.append((start, start + len(data)))

    def _hold(self, exc: OSError) -> None:
        """From now on, hold the blocks in memory, those written first among them."""
        log.warning(
            "replay: cannot spill to %s (%s); holding the trades in memory",
            tempfile.gettempdir(),
            exc,
        )
        self._held = list(self._read())
        self._spans = []
        if self._file is not None:
            self._file.close()
            self._file = None

    def blocks(self) -> Generator[pl.DataFrame, None, None]:
        """The blocks, in the order written."""
        if self._held is not None:
            yield from self._held
            return
        yield from self._read()

    def _read(self) -> Iterator[pl.DataFrame]:
        for start, end in self._spans:
            assert self._file is not None
            yield pl.read_ipc_stream(io.BytesIO(os.pread(self._file.fileno(), end - start, start)))


@dataclass
class Run:
    """What the merge needs to know of one leg's trades in one file, gathered block by block.

    ``ordered`` means by time, then id (the merged order within a leg of one file); ``rising``
    means ids strictly increasing; a copy is a trade whose id (not negative) and time repeat
    the trade before.
    """

    count: int = 0
    ordered: bool = True
    rising: bool = True
    copies: bool = False
    nulls: bool = False
    """An id is missing."""
    times: tuple[int, int] | None = None
    """Earliest and latest time."""
    ids: tuple[int, int] | None = None
    """Smallest and largest id."""
    kinds: set[int] = field(default_factory=set)
    """The id spaces present (the codes of :data:`~pairs_tui.feed.replay.table.KIND`)."""
    agg: tuple[int, int, int] | None = None
    """Aggregate trades: how many, the smallest and the largest id."""
    _last: tuple[int, int] | None = None

    def add(self, time: np.ndarray, ids: pl.Series, kinds: pl.Series) -> None:
        """Take the next block of this leg's trades (file order)."""
        if not time.size:
            return
        self.count += time.size
        self.kinds.update(np.flatnonzero(np.bincount(kinds.to_physical().to_numpy())).tolist())
        lo, hi = int(time.min()), int(time.max())
        if self.times is not None:
            lo, hi = min(self.times[0], lo), max(self.times[1], hi)
        self.times = (lo, hi)
        if ids.null_count():
            self.nulls = True
            return
        i = ids.to_numpy()
        if self._last is not None:
            time = np.concatenate(([self._last[0]], time))
            i = np.concatenate(([self._last[1]], i))
        self._last = (int(time[-1]), int(i[-1]))
        lo, hi = int(i.min()), int(i.max())
        if self.ids is not None:
            lo, hi = min(self.ids[0], lo), max(self.ids[1], hi)
        self.ids = (lo, hi)
        later, same = time[1:] > time[:-1], time[1:] == time[:-1]
        up = i[1:] > i[:-1]
        self.ordered = self.ordered and bool((later | (same & (i[1:] >= i[:-1]))).all())
        self.rising = self.rising and bool(up.all())
        self.copies = self.copies or bool((same & (i[1:] == i[:-1]) & (i[1:] >= 0)).any())
        aggregate = kinds.to_physical().to_numpy() == _AGG_CODE
        if aggregate.any():
            a = i[-aggregate.size :][aggregate]
            n, lo, hi = int(a.size), int(a.min()), int(a.max())
            self.agg = (
                (n, lo, hi)
                if self.agg is None
                else (self.agg[0] + n, min(self.agg[1], lo), max(self.agg[2], hi))
            )

    @property
    def mergeable(self) -> bool:
        """Whether this run can be merged a block at a time: in order, every id there, no
        copies, ids rising where they are aggregate ids (so that none repeats), and times
        that fit the sort key."""
        return (
            self.ordered
            and not self.nulls
            and not self.copies
            and (self.agg is None or self.rising)
            and (self.times is None or -KEY_LIMIT < self.times[0] <= self.times[1] < KEY_LIMIT)
        )


_AGG_CODE = 2
"""The code of ``aggTrade`` in :data:`~pairs_tui.feed.replay.table.KIND`."""


def streamable(runs: Sequence[tuple[Run, Run]]) -> bool:
    """Whether files whose legs ran so can be merged a block at a time.

    Each run must be :attr:`Run.mergeable`, and no two files may share an id of one leg (their
    ranges do not overlap), so that no trade is in two files and a tie of time, leg and id can
    only be within one file, where the file's order decides it.
    """
    if not all(run.mergeable for legs in runs for run in legs):
        return False
    for leg in (0, 1):
        ranges = sorted(ids for legs in runs if (ids := legs[leg].ids) is not None)
        if any(b[0] <= a[1] for a, b in pairwise(ranges)):
            return False
    return True


class StreamedTrades(_Counted):
    """Trades of files kept aside block by block, merged a block at a time (see
    :func:`streamable`).

    The order is the in-memory merge's: time, leg, id, then file and row. Blocks are read one at
    a time, each split by leg into a queue per file and leg, whose trades are in order. After
    each block, every queue's trades up to the least of the bounds of every leg not yet finished
    are delivered, merged: a leg's bound is the newest trade read of it, or before any is read,
    its first time and smallest id. No trade still unread can come before it, because each leg
    of each file is in order. A trade is moved once, when it is delivered, and a file is first
    read when its bound is the least, so a recording of many files that follow one another holds
    one or two of them at a time, not all.

    Args:
        files: Each file's blocks, in the order of the files' names.
        runs: Each file's runs (target leg, hedge leg).
    """

    def __init__(self, files: Sequence[Blocks], runs: Sequence[tuple[Run, Run]]) -> None:
        self._files = list(files)
        self._counts = [(a.count, b.count) for a, b in runs]
        # A leg's least key before any of it is read: its first time and its smallest id.
        self._firsts = [
            [
                (2 * run.times[0] + side, run.ids[0])
                if run.times is not None and run.ids is not None
                else None
                for side, run in enumerate(legs)
            ]
            for legs in runs
        ]
        self._height = sum(map(sum, self._counts))
        ends = [run.times[1] for legs in runs for run in legs if run.times is not None]
        self._last_time = max(ends) if ends else None

    def batches(self) -> Iterator[pl.DataFrame]:
        """The trades in order, a few blocks' worth at most held at once."""
        blocks = [file.blocks() for file in self._files]
        unread = [list(counts) for counts in self._counts]
        bounds = [list(firsts) for firsts in self._firsts]
        queues = [[_Queue(), _Queue()] for _ in blocks]
        while True:
            bound, owner = None, -1
            for f, (counts, keys) in enumerate(zip(unread, bounds, strict=True)):
                for side in (0, 1):
                    key = keys[side]
                    if counts[side] and key is not None and (bound is None or key < bound):
                        bound, owner = key, f
            due = [part for legs in queues for queue in legs if (part := queue.take(bound))]
            if due:
                yield _in_order(due)
            if bound is None:
                return
            block = next(blocks[owner]).select(OUTPUT)
            leg = block["leg"].to_numpy()
            for side in (0, 1):
                mine = leg == side
                count = int(mine.sum())
                if not count:
                    continue
                rows = block if count == block.height else block.filter(pl.Series(mine))
                unread[owner][side] -= count
                queues[owner][side].put(rows, side)
                bounds[owner][side] = queues[owner][side].newest
            if not any(unread[owner]):
                # Every trade of the file is read: its reader, paused at its last block, lets
                # go of it (a recording of a file every 15 minutes would otherwise keep the
                # last block of each file until the end).
                blocks[owner].close()


_NONE = np.empty(0, dtype=np.int64)


class _Queue:
    """The trades of one leg of one file read and not yet delivered, in order."""

    def __init__(self) -> None:
        self._rows: list[pl.DataFrame] = []
        self._keys = _NONE
        """``2 * time + leg`` of each trade."""
        self._ids = _NONE

    @property
    def newest(self) -> tuple[int, int]:
        """The key and id of the last trade read."""
        return int(self._keys[-1]), int(self._ids[-1])

    def put(self, rows: pl.DataFrame, side: int) -> None:
        """Append trades of the leg ``side``, in order."""
        self._rows.append(rows)
        self._keys = np.concatenate((self._keys, rows["time"].to_numpy() * 2 + side))
        self._ids = np.concatenate((self._ids, rows["id"].to_numpy()))

    def take(
        self, bound: tuple[int, int] | None
    ) -> tuple[pl.DataFrame, np.ndarray, np.ndarray] | None:
        """Remove and return the trades up to ``bound`` (all of them for None), with their keys
        and ids; None when there are none."""
        keys, ids = self._keys, self._ids
        if bound is None:
            n = keys.size
        else:
            lo, hi = (
                np.searchsorted(keys, bound[0], "left"),
                np.searchsorted(keys, bound[0], "right"),
            )
            n = int(lo + np.searchsorted(ids[lo:hi], bound[1], "right"))
        if not n:
            return None
        rows = pl.concat(self._rows) if len(self._rows) > 1 else self._rows[0]
        if n < keys.size:
            self._keys, self._ids, self._rows = keys[n:], ids[n:], [rows.slice(n)]
        else:  # not an empty view, which would keep the arrays it views
            self._keys, self._ids, self._rows = _NONE, _NONE, []
        return rows.slice(0, n), keys[:n], ids[:n]


def _in_order(parts: list[tuple[pl.DataFrame, np.ndarray, np.ndarray]]) -> pl.DataFrame:
    """Trades of several queues merged, each queue's in order: by key, then id, then the
    queue's order (ties of key and id are within one queue, which keeps its order)."""
    if len(parts) == 1:
        return parts[0][0]
    rows = pl.concat([part[0] for part in parts])
    order = merged_order(
        np.concatenate([part[1] for part in parts]), np.concatenate([part[2] for part in parts])
    )
    return rows if order is None else rows[order]
