"""The merged order of a replay's rows (:func:`~pairs_tui.feed.replay.stream.merged_order`) is
numpy's stable sort by key, then id, whether the C merge of sorted runs takes it or numpy does
(more runs than the merge takes, or no C extension)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairs_tui.feed.replay import stream

ROW = st.tuples(st.integers(0, 8), st.integers(-2, 8))


@pytest.mark.parametrize("compiled", [True, False], ids=["C", "numpy"])
@settings(max_examples=300, deadline=None)
@given(runs=st.lists(st.lists(ROW, max_size=30), max_size=24), shuffled=st.booleans())
def test_the_merged_order_is_the_stable_sort_by_key_then_id(
    runs: list[list[tuple[int, int]]], shuffled: bool, compiled: bool
) -> None:
    """Runs each in order (up to 24 of them, past the merge's 16), or rows in any order."""
    if compiled and stream._merge_order is None:
        pytest.skip("built without a C compiler")
    rows = [row for run in runs for row in (run if shuffled else sorted(run))]
    keys = np.array([k for k, _ in rows], dtype=np.int64)
    ids = np.array([i for _, i in rows], dtype=np.int64)
    expected = np.lexsort((ids, keys))
    with pytest.MonkeyPatch.context() as patch:
        if not compiled:
            patch.setattr(stream, "_merge_order", None)
        order = stream.merged_order(keys, ids)
    if order is None:
        assert expected.tolist() == list(range(len(rows)))
    else:
        assert order.tolist() == expected.tolist()
        assert expected.tolist() != list(range(len(rows)))
