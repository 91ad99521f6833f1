"""Loops over sorted runs, in C (_runs.c): the merged order of runs, and sums of runs."""

import numpy as np
from numpy.typing import NDArray

MOST_RUNS: int
"""More runs than this are left to ``np.lexsort``."""

def merge_order(keys: NDArray[np.int64], ids: NDArray[np.int64], out: NDArray[np.int64], /) -> int:
    """How many runs the rows make in order by key, then id (``MOST_RUNS + 1`` for more);
    from 2 to ``MOST_RUNS``, their order by key, then id, then row (``np.lexsort((ids,
    keys))``) is written into ``out``, else ``out`` is left as it was."""

def run_sums(
    values: NDArray[np.float64], ends: NDArray[np.int64], out: NDArray[np.float64], /
) -> None:
    """The sum of each run of ``values`` (run j ends at ``ends[j]``, exclusive), added one by
    one from its first value, into ``out``."""
