"""The scanner's input: closes of a universe of symbols on one grid of bars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np


@dataclass(frozen=True, eq=False)
class PriceMatrix:
    """Closes of every symbol on one grid of bars, oldest first.

    A symbol listed after the grid starts has NaN before its first bar; one whose history
    ends early has NaN after its last. Inside its history a symbol has a close on every bar (a
    bar without trades repeats the previous close, as the bar builder and the exchange's
    klines do); a NaN there is an error, since the pairs' lags would silently skip it.

    Raises:
        ValueError: On a shape mismatch, duplicate symbols, bar times not strictly increasing,
            an infinite or non-positive close, or a gap inside a symbol's history; the message
            names the symbol and the bar.
    """

    closes: np.ndarray
    """``(bars, symbols)`` float64 closes; NaN before a symbol's first and after its last bar."""
    symbols: tuple[str, ...]
    """Column names, e.g. ``("BTCUSDT", "ETHUSDT")``."""
    ts: np.ndarray
    """Bar starts, int64 ms UTC, strictly increasing."""
    timeframe: str
    """The bars' timeframe, e.g. ``"1m"`` (carried into every row)."""

    def __post_init__(self) -> None:
        closes = np.asarray(self.closes, dtype=np.float64)
        ts = np.asarray(self.ts, dtype=np.int64)
        object.__setattr__(self, "closes", closes)
        object.__setattr__(self, "ts", ts)
        object.__setattr__(self, "symbols", tuple(self.symbols))
        if closes.ndim != 2 or closes.shape != (len(ts), len(self.symbols)):
            raise ValueError(
                f"closes have shape {closes.shape}; expected (bars, symbols) = "
                f"({len(ts)}, {len(self.symbols)})"
            )
        if len(set(self.symbols)) != len(self.symbols):
            seen: set[str] = set()
            twice = next(s for s in self.symbols if s in seen or seen.add(s))  # type: ignore[func-returns-value]
            raise ValueError(f"symbol {twice} appears twice")
        if len(ts) > 1 and not (np.diff(ts) > 0).all():
            at = int(np.flatnonzero(np.diff(ts) <= 0)[0]) + 1
            raise ValueError(f"bar times must increase: bar {at} at {_when(ts[at])} is not after")
        bad = np.isinf(closes) | (closes <= 0.0)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(
                f"{self.symbols[col]}: close {closes[row, col]} at {_when(ts[row])} "
                "is not a positive finite price"
            )
        first, stop = self.ranges()
        for col in range(closes.shape[1]):
            inside = closes[first[col] : stop[col], col]
            gaps = np.flatnonzero(np.isnan(inside))
            if len(gaps):
                row = first[col] + int(gaps[0])
                raise ValueError(
                    f"{self.symbols[col]} has no close at {_when(ts[row])}, inside its history: "
                    "fill the gap with the previous close first"
                )

    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Each symbol's history as rows ``[first, stop)`` (``first == stop`` if it has none).

        Returns:
            ``(first, stop)``, int64 arrays, one entry per symbol.
        """
        present = ~np.isnan(self.closes)
        bars = self.closes.shape[0]
        has = present.any(axis=0)
        first = np.where(has, present.argmax(axis=0), 0)
        stop = np.where(has, bars - present[::-1].argmax(axis=0), 0)
        return first.astype(np.int64), stop.astype(np.int64)


def _when(ms: np.integer | int) -> str:
    return datetime.fromtimestamp(int(ms) / 1000.0, tz=UTC).isoformat().replace("+00:00", "Z")
