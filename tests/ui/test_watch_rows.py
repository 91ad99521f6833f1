"""What a watchlist row says and how rows sort: pure functions, no Textual."""

from __future__ import annotations

from pairs_tui.ui.formatting import DASH, MINUS
from pairs_tui.ui.watch_rows import WatchRow, order


def row(pair: str, z: float | None, corr: float | None = None) -> WatchRow:
    a, b = pair.split("/")
    return WatchRow((a, b), 1.0, 2.0, 0.5, z, 10.0, corr, None, "1s")


ROWS = [row("A/B", -2.5, 0.1), row("C/D", None, 0.9), row("E/F", 1.0, None), row("G/H", 3.0)]


def test_rows_sort_by_abs_z_with_unknown_z_last_either_way() -> None:
    assert order(ROWS, "zscore", descending=True) == [
        ("G", "H"),
        ("A", "B"),
        ("E", "F"),
        ("C", "D"),
    ]
    assert order(ROWS, "zscore", descending=False) == [
        ("E", "F"),
        ("A", "B"),
        ("G", "H"),
        ("C", "D"),
    ]


def test_rows_sort_by_any_column_and_by_name() -> None:
    assert order(ROWS, "corr", descending=True)[:2] == [("C", "D"), ("A", "B")]
    assert order(ROWS, "pair", descending=False) == [("A", "B"), ("C", "D"), ("E", "F"), ("G", "H")]


def test_a_z_past_entry_stands_out_and_unknowns_are_dashes() -> None:
    texts = row("A/B", -2.5).texts(entry_z=2.0)
    assert texts["zscore"] == (f"{MINUS}2.50", "bold reverse")
    assert row("A/B", 1.0).texts(entry_z=2.0)["zscore"][1] == "bold"
    assert row("C/D", None).texts(entry_z=2.0)["zscore"][0] == DASH
    assert texts["half_life"][0] == "10 s" and texts["alert"][0] == DASH
