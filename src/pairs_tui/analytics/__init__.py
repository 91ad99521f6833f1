"""Pair analytics on final bars: pure Python and numpy, nothing from Textual."""

from __future__ import annotations

from pairs_tui.analytics.pair import PairAnalytics, PairStats

__all__ = ["PairAnalytics", "PairStats"]
