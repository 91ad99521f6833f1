"""The bar history's rows: every value under the column that names it."""

from __future__ import annotations

from pairs_tui.analytics import PairStats
from pairs_tui.records import Bar, PairBar
from pairs_tui.snapshot import BAR_SCHEMA, STAT_FIELDS, history_row


def test_a_history_row_puts_each_field_under_its_column() -> None:
    """Every field a different value, so a column taking another's would show."""
    bar = PairBar(7, Bar(1.0, 2.0, 0.5, 1.5, 3.0, 4), Bar(11.0, 12.0, 10.5, 11.5, 13.0, 14))
    stats = PairStats(**{name: i + 100 for i, name in enumerate(STAT_FIELDS)})
    row = dict(zip(BAR_SCHEMA, history_row(bar, stats), strict=True))
    assert row["ts"] == 7
    for suffix, leg in (("a", bar.a), ("b", bar.b)):
        assert leg is not None
        assert [row[f"{name}_{suffix}"] for name in ("open", "high", "low", "close")] == [
            leg.open,
            leg.high,
            leg.low,
            leg.close,
        ]
        assert (row[f"volume_{suffix}"], row[f"trades_{suffix}"]) == (leg.volume, leg.trades)
    assert all(row[name] == getattr(stats, name) for name in STAT_FIELDS)


def test_a_missing_leg_leaves_its_columns_empty() -> None:
    row = dict(
        zip(BAR_SCHEMA, history_row(PairBar(7, None, Bar.flat(2.0)), PairStats()), strict=True)
    )
    assert all(row[name] is None for name in BAR_SCHEMA if name.endswith("_a"))
    assert row["close_b"] == 2.0 and row["trades_b"] == 0
