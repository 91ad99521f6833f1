"""What a scan returns: one ranked row per tested pair, and the pairs left out with why."""

from __future__ import annotations

from typing import Literal

import msgspec

LeftOutReason = Literal["too few bars", "flat leg", "collinear", "screened out"]
"""Why a pair has no row: fewer common bars than the minimum, a leg that never moves over the
common bars, legs so collinear that the Engle-Granger test is undefined (statsmodels would
report ``-inf``), or (only with ``--screen K``) a cheap statistic outside the K best."""


class ScanRow(msgspec.Struct, frozen=True, kw_only=True):
    """One pair, tested both ways, reported in the ordering with the lower p-value.

    Fields in the order of ``pairs-tui scan --json``.
    """

    rank: int
    """1 for the best pair: lowest ``coint_p``, then shortest ``half_life``."""
    symbol_a: str
    """The target leg ``y`` of the reported ordering."""
    symbol_b: str
    """The hedge leg ``x``."""
    timeframe: str
    """Bar timeframe, e.g. ``"1m"``."""
    bars: int
    """Common bars tested (both legs present)."""
    start_ts: int
    """Start of the first bar, ms UTC."""
    end_ts: int
    """Start of the last bar, ms UTC."""
    price: Literal["log", "raw"]
    """Prices tested: ``ln close`` or the close."""
    beta: float
    """OLS slope of ``y = alpha + beta·x`` over the bars."""
    alpha: float
    """OLS intercept."""
    r2: float
    """R² of that fit."""
    coint_t: float
    """Engle-Granger statistic: ``statsmodels.tsa.stattools.coint(y, x, trend="c",
    autolag="AIC")[0]``."""
    coint_p: float
    """Its MacKinnon p-value (``coint(...)[1]``)."""
    coint_lags: int
    """Lagged differences the residual ADF chose by AIC."""
    coint_p_reverse: float
    """The p-value with ``y`` and ``x`` swapped."""
    half_life: float | None
    """AR(1) half-life of the in-sample residuals, in bars; None unless ``0 < phi < 1``."""
    corr: float
    """Correlation of the two legs' log returns over the bars."""
    resid_z: float
    """The last bar's residual over :attr:`resid_sd`."""
    resid_sd: float
    """The regression's standard error, ``sqrt(SSR / (bars - 2))``."""


class LeftOut(msgspec.Struct, frozen=True, kw_only=True):
    """A pair the scan did not test, and why."""

    symbol_a: str
    """First symbol of the pair, in the universe's order."""
    symbol_b: str
    """Second symbol."""
    reason: LeftOutReason
    """Why, in a word or two."""
    detail: str
    """The same in a sentence, e.g. ``"XYZUSDT is flat over the 1440 common bars"``."""
    bars: int
    """Common bars (both legs present)."""


class ScanResult(msgspec.Struct, frozen=True, kw_only=True):
    """A whole scan."""

    rows: list[ScanRow]
    """Every tested pair, best first."""
    left_out: list[LeftOut]
    """Every pair without a row, in the universe's order."""
    pairs: int
    """Unordered pairs in the universe: ``len(rows) + len(left_out)``."""
    exact_orderings: int
    """Orderings whose lag search statsmodels itself decided (near-tie AICs or fits too
    ill-conditioned for the moment path); the rest came from the moments."""
