"""The pair scanner: rank every pair of a universe by Engle-Granger cointegration.

Start with :func:`scan` on a :class:`PriceMatrix` (or :func:`scan_store` on the history store);
both return a :class:`ScanResult` whose rows are the contract's ``pairs-tui scan --json`` lines.
Nothing here imports Textual; Dask is imported only for ``engine="dask"``.
"""

from __future__ import annotations

from pairs_tui.scanner.engine import MIN_BARS, Engine, scan
from pairs_tui.scanner.prices import PriceMatrix
from pairs_tui.scanner.rows import LeftOut, ScanResult, ScanRow

__all__ = ["MIN_BARS", "Engine", "LeftOut", "PriceMatrix", "ScanResult", "ScanRow", "scan"]
