"""Pair analytics on final bars: pure Python and numpy, nothing from Textual.

* :mod:`.pair`: :class:`PairAnalytics`, one O(1) :meth:`~PairAnalytics.update` per final bar,
  returning :class:`PairStats`; :meth:`~PairAnalytics.window_data` for the tests below.
* :mod:`.rolling`: the anchored windowed sums behind every rolling value.
* :mod:`.hedge`: the hedge held into the next bar (OLS, through the origin, Huber).
* :mod:`.kalman`: the dynamic ``[beta, alpha]`` filter.
* :mod:`.stationarity`: ADF and Engle-Granger on demand, run off the caller's thread.
* :mod:`.blas`: one BLAS thread for those tests.
"""

from __future__ import annotations

from pairs_tui.analytics.pair import PairAnalytics, PairStats, WindowData
from pairs_tui.analytics.stationarity import (
    InsufficientData,
    StationarityReport,
    StationarityResult,
    adf_test,
    coint_test,
    run_stationarity,
    stationarity_report,
)

__all__ = [
    "InsufficientData",
    "PairAnalytics",
    "PairStats",
    "StationarityReport",
    "StationarityResult",
    "WindowData",
    "adf_test",
    "coint_test",
    "run_stationarity",
    "stationarity_report",
]
