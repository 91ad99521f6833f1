"""PLACEHOLDER until the analytics issue lands: the interface the pipeline codes against."""

from __future__ import annotations

from typing import Literal

import msgspec

PriceMode = Literal["log", "raw"]
HedgeMethod = Literal["ols", "ols0", "huber", "kalman"]


class PairStats(msgspec.Struct, frozen=True):
    """Analytics of one final bar. Every value is None until its window is full."""

    n: int = 0
    """Bars in the window so far."""
    beta: float | None = None
    alpha: float | None = None
    r2: float | None = None
    beta_se: float | None = None
    spread: float | None = None
    zscore: float | None = None
    corr: float | None = None
    half_life: float | None = None
    kalman_beta: float | None = None
    kalman_z: float | None = None


class PairAnalytics:
    """Rolling pair analytics, one update per final bar."""

    def __init__(self, window: int, price: PriceMode = "log", hedge: HedgeMethod = "ols") -> None:
        self.window = window
        self.price = price
        self.hedge = hedge

    def update(self, close_a: float, close_b: float) -> PairStats:
        """Take both legs' closes of the next final bar; return its analytics."""
        return PairStats()
