"""pairs-tui: a terminal monitor for pairs trading on Binance USD-M perpetual futures."""

from __future__ import annotations

__version__ = "0.1.0"
