"""The scanner reads what the store writes: its reader and ours see the same bars."""

from __future__ import annotations

import math
from pathlib import Path

from history.sample import D0, DAY, MIN, bars
from pairs_tui.history.store import HistoryStore
from pairs_tui.scanner.store import read_closes


def test_the_scanner_reads_the_closes_the_store_holds(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history")
    grid = [D0 - 3 * MIN + i * MIN for i in range(6)]  # across midnight
    store.write("AUSDT", "1m", bars(grid), [(grid[0], grid[-1] + MIN)])
    # Listed two bars later: the range before its first bar was fetched and found empty.
    store.write("BUSDT", "1m", bars(grid[2:], 50.0), [(grid[0], grid[-1] + MIN)])

    prices = read_closes(store.root, ["AUSDT", "BUSDT"], "1m", 6)

    assert prices.ts.tolist() == grid
    assert (
        prices.closes[:, 0].tolist()
        == store.read("AUSDT", "1m", D0 - DAY, D0 + DAY)["close"].to_list()
    )
    assert [math.isnan(c) for c in prices.closes[:2, 1]] == [True, True]
    assert prices.closes[2:, 1].tolist() == [50.0, 51.0, 52.0, 53.0]
