"""Loops over sorted runs, in C (_runs.c): the merged order of runs, and a leg's bars."""

import numpy as np
from numpy.typing import NDArray

MOST_RUNS: int
"""More runs than this are left to ``np.lexsort``."""

def merge_order(keys: NDArray[np.int64], ids: NDArray[np.int64], out: NDArray[np.int64], /) -> int:
    """How many runs the rows make in order by key, then id (``MOST_RUNS + 1`` for more);
    from 2 to ``MOST_RUNS``, their order by key, then id, then row (``np.lexsort((ids,
    keys))``) is written into ``out``, else ``out`` is left as it was."""

def fold_leg(
    legs: NDArray[np.uint8],
    times: NDArray[np.int64],
    prices: NDArray[np.float64],
    qtys: NDArray[np.float64],
    leg: int,
    tf: int,
    carried: float,
    keys: NDArray[np.int64],
    first: NDArray[np.int64],
    last: NDArray[np.int64],
    high: NDArray[np.float64],
    low: NDArray[np.float64],
    volume: NDArray[np.float64],
    count: NDArray[np.int64],
    /,
) -> int:
    """One leg's trades of a batch (rows whose ``legs`` is ``leg``, times never decreasing) in
    buckets of ``tf`` ms: each bucket's start, first and last row, high, low, volume (added one
    by one, from ``carried`` for the first bucket unless it is NaN) and trades, written into
    the output arrays; how many buckets."""
