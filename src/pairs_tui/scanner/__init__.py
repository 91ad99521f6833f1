"""The pair scanner: rank every pair of a universe by Engle-Granger cointegration.

Start with :func:`scan` on a :class:`PriceMatrix`, or :func:`scan_store` on the history store
(:func:`read_closes` is its reader); both return a :class:`ScanResult` whose rows are the
contract's ``pairs-tui scan --json`` lines. Nothing here imports Textual; statsmodels is imported
on the first scan, Dask and fsspec only for ``engine="dask"`` or a URL store.
"""

from __future__ import annotations

from pairs_tui.scanner.engine import Engine, scan, scan_store
from pairs_tui.scanner.plan import MIN_BARS, Progress
from pairs_tui.scanner.prices import PriceMatrix
from pairs_tui.scanner.rows import LeftOut, LeftOutReason, ScanResult, ScanRow
from pairs_tui.scanner.store import read_closes, timeframe_ms

__all__ = [
    "MIN_BARS",
    "Engine",
    "LeftOut",
    "LeftOutReason",
    "PriceMatrix",
    "Progress",
    "ScanResult",
    "ScanRow",
    "read_closes",
    "scan",
    "scan_store",
    "timeframe_ms",
]
