"""Rolling pair analytics on final bars: O(1) per bar, float64, no look-ahead.

``y`` is the target leg A (the first symbol), ``x`` the hedge leg B: ``ln close`` with
``price="log"`` (the default; beta is then an elasticity), the closes with ``price="raw"`` (beta
is a quantity ratio). Returns are always log returns. Each value is None until its window is full
and None when a leg of its window is flat; see :class:`PairStats` for the exact definitions.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import msgspec
import numpy as np

from pairs_tui.analytics.hedge import HuberHedge, Ols0Hedge, OlsHedge
from pairs_tui.analytics.kalman import KalmanHedge
from pairs_tui.analytics.rolling import WindowSums
from pairs_tui.records import HedgeMethod, PriceMode

SECONDS_PER_YEAR = 365.0 * 86_400.0
"""Crypto perpetuals trade around the clock: a year is 365 full days of bars."""

_EXACT_FIT = 64.0 * 2.220446049250313e-16
"""SSR below this fraction of Σ(y - ȳ)² is rounding noise of an exact fit: there is no scale."""

_LN2 = math.log(2.0)


class PairStats(msgspec.Struct, frozen=True):
    """Analytics of one final bar. ``W`` is the window; "the window" ends at this bar.

    Every value is None until its window is full and None when a leg of that window is flat
    (every close equal), never NaN or inf. Per-leg ``std`` and ``vol`` of a flat leg are 0.0.
    """

    n: int = 0
    """Bars in the window so far (at most ``W``)."""
    beta: float | None = None
    """OLS slope of ``y = alpha + beta·x`` over the window."""
    alpha: float | None = None
    """OLS intercept over the window."""
    r2: float | None = None
    """R² of that fit (descriptive only: levels of two random walks give spurious R²)."""
    beta_se: float | None = None
    """Standard error of ``beta``: ``s/√Σ(x - x̄)²`` with ``s² = SSR/(W - 2)``."""
    spread: float | None = None
    """``y - hedge_alpha - hedge_beta·x`` at this bar, with the hedge held *before* this bar
    (fitted on the window ending at the previous bar, or the Kalman prior): no look-ahead."""
    zscore: float | None = None
    """``spread`` over its prediction standard error under the chosen hedge method: for
    ``ols`` ``s'·√(1 + 1/W + (x - x̄')²/Σ(x - x̄')²)`` of the previous window's fit; for ``ols0``
    ``s0'·√(1 + x²/Σx²)`` with ``s0'² = SSR0/(W - 1)`` (not centred: no intercept); for ``huber``
    the ``ols`` formula with RLM's robust scale for ``s'``; for ``kalman`` it is ``kalman_z``."""
    corr: float | None = None
    """Pearson correlation of the legs' log returns over the last ``W`` returns (``W + 1``
    bars)."""
    half_life: float | None = None
    """Bars for a deviation to halve: AR(1) ``e_i = a + φ·e_(i-1)`` on the window's in-sample
    OLS residuals, ``-ln 2 / ln φ``; None unless ``0 < φ < 1``."""
    kalman_beta: float | None = None
    """Dynamic hedge ratio after this bar (see :mod:`pairs_tui.analytics.kalman`); from bar
    ``W + 1``."""
    kalman_z: float | None = None
    """This bar's Kalman innovation over its standard deviation, ``e/√Q`` (prior state)."""
    bars_needed: int | None = None
    """Bars still to come before every value can be known (0 once ``W + 1`` bars are in)."""
    hedge_beta: float | None = None
    """The slope used for ``spread`` (the held fit's, or the Kalman prior's)."""
    hedge_alpha: float | None = None
    """The intercept used for ``spread`` (0.0 for ``ols0``)."""
    mean_a: float | None = None
    """Mean close of leg A over the window, in price units."""
    std_a: float | None = None
    """Sample standard deviation (ddof 1) of leg A's close over the window."""
    return_a: float | None = None
    """Leg A's last log return, ``ln(close/previous close)``."""
    vol_a: float | None = None
    """Leg A's annualised volatility: sample std of the last ``W`` log returns
    x √(seconds per 365-day year / bar seconds)."""
    mean_b: float | None = None
    """Mean close of leg B over the window."""
    std_b: float | None = None
    """Sample standard deviation of leg B's close over the window."""
    return_b: float | None = None
    """Leg B's last log return."""
    vol_b: float | None = None
    """Leg B's annualised volatility."""


@dataclass(frozen=True)
class WindowData:
    """The current window, for the stationarity tests (ADF, Engle-Granger)."""

    y: np.ndarray
    """Target-leg prices (log or raw, as analysed), oldest first."""
    x: np.ndarray
    """Hedge-leg prices, oldest first."""
    residuals: np.ndarray
    """In-sample OLS residuals ``y - alpha - beta·x`` of this window's fit."""
    beta: float
    """The window's OLS slope (two-pass)."""
    alpha: float
    """The window's OLS intercept."""
    bars: int
    """Bars seen since the last reset: identifies the window's last bar."""


class PairAnalytics:
    """Rolling pair analytics, one :meth:`update` per final bar.

    Args:
        window: ``W``, bars in the rolling window (at least 3).
        price: ``"log"`` or ``"raw"`` prices for the regression.
        hedge: Hedge for ``spread``/``zscore``: ``"ols"``, ``"ols0"`` (through the origin),
            ``"huber"`` (robust, O(W) per bar) or ``"kalman"``.
        bar_seconds: Bar length, to annualise volatility.
        max_window: Closes kept for :meth:`resize` (``max(max_window, window) + 1``).

    Raises:
        ValueError: On an unknown ``price`` or ``hedge``, a window below 3 or a non-positive
            ``bar_seconds``.
    """

    def __init__(
        self,
        window: int,
        price: PriceMode = "log",
        hedge: HedgeMethod = "ols",
        *,
        bar_seconds: float = 1.0,
        max_window: int = 86_400,
    ) -> None:
        if price not in ("log", "raw"):
            raise ValueError(f"price must be 'log' or 'raw', got {price!r}")
        if hedge not in ("ols", "ols0", "huber", "kalman"):
            raise ValueError(f"hedge must be ols, ols0, huber or kalman, got {hedge!r}")
        if not bar_seconds > 0.0:
            raise ValueError(f"bar_seconds must be positive, got {bar_seconds!r}")
        if window < 3:
            raise ValueError(f"window must be at least 3 bars, got {window}")
        self.price: PriceMode = price
        """Log or raw prices."""
        self.hedge: HedgeMethod = hedge
        """Hedge method behind ``spread`` and ``zscore``."""
        self.bar_seconds = bar_seconds
        """Bar length in seconds."""
        self.max_window = max_window
        """Largest window :meth:`resize` can rebuild in full from kept closes."""
        self._annualise = math.sqrt(SECONDS_PER_YEAR / bar_seconds)
        self._window = window
        self._history_a: deque[float] = deque(maxlen=max(max_window, window) + 1)
        self._history_b: deque[float] = deque(maxlen=max(max_window, window) + 1)
        self._bars = 0
        """Bars taken since construction or the last reset."""
        self._start()

    @property
    def window(self) -> int:
        """``W``, bars in the rolling window."""
        return self._window

    @property
    def last(self) -> PairStats:
        """The analytics of the latest bar (empty before the first)."""
        return self._last

    def _start(self) -> None:
        self._sums = WindowSums(self._window, self.price == "log")
        self._held: OlsHedge | Ols0Hedge | HuberHedge | None = None
        self._kalman = KalmanHedge(adapt_bars=self._window)
        self._kalman_q: tuple[float, float] | None = None
        self._count = 0
        """Bars in the current state (a resize restarts it from the kept closes)."""
        self._last = PairStats(bars_needed=self._window + 1)

    def reset(self) -> None:
        """Forget every bar, kept closes included (e.g. after a gap in the feed)."""
        self._history_a.clear()
        self._history_b.clear()
        self._bars = 0
        self._start()

    def resize(self, window: int) -> PairStats:
        """Change the window and rebuild from the kept closes.

        Every rolling value becomes what it would be had the window always been ``window``.
        The Kalman filter restarts: warm-started on the window ending at the previous bar.

        Args:
            window: The new ``W`` (at least 3).

        Returns:
            The analytics of the latest kept bar under the new window.

        Raises:
            ValueError: If ``window`` is below 3.
        """
        if window < 3:
            raise ValueError(f"window must be at least 3 bars, got {window}")
        if window == self._window:
            return self._last
        self._window = window
        if self._history_a.maxlen is not None and self._history_a.maxlen < window + 1:
            self._history_a = deque(self._history_a, maxlen=window + 1)
            self._history_b = deque(self._history_b, maxlen=window + 1)
        self._start()
        keep = min(len(self._history_a), window + 1)
        if keep == 0:
            return self._last
        closes_a = list(self._history_a)[-keep:]
        closes_b = list(self._history_b)[-keep:]
        if keep > 1:
            # Everything but the last bar in one exact numpy pass; the last bar the normal way,
            # so that the held fit and the Kalman warm start are those a replay would give.
            self._sums.load(closes_a[:-1], closes_b[:-1])
            self._count = keep - 1
            self._stats()
        self._last = self._advance(closes_a[-1], closes_b[-1])
        return self._last

    def update(self, close_a: float, close_b: float) -> PairStats:
        """Take both legs' closes of the next final bar and return its analytics.

        Args:
            close_a: Close of leg A (the target, ``y``).
            close_b: Close of leg B (the hedge leg, ``x``).

        Returns:
            The bar's analytics.

        Raises:
            ValueError: If a close is not a positive finite number (call :meth:`reset` across
                gaps rather than feeding placeholders).
        """
        if not (0.0 < close_a < math.inf and 0.0 < close_b < math.inf):
            raise ValueError(f"closes must be positive and finite, got {close_a!r}, {close_b!r}")
        close_a = float(close_a)
        close_b = float(close_b)
        self._history_a.append(close_a)
        self._history_b.append(close_b)
        self._bars += 1
        self._last = self._advance(close_a, close_b)
        return self._last

    def window_data(self) -> WindowData | None:
        """The current window's prices and in-sample residuals, for ADF and coint.

        Returns:
            The window, or None until it is full or while a leg of it is flat.
        """
        s = self._sums
        if not s.full or s.flat_a or s.flat_b:
            return None
        y, x = s.arrays()
        xc = x - x.mean()
        yc = y - y.mean()
        beta = float(xc @ yc) / float(xc @ xc)
        alpha = float(y.mean() - beta * x.mean())
        return WindowData(y, x, yc - beta * xc, beta, alpha, self._bars)

    # -- the per-bar path -----------------------------------------------------------------

    def _advance(self, a: float, b: float) -> PairStats:
        self._sums.push(a, b)
        self._count += 1
        return self._stats()

    def _stats(self) -> PairStats:
        """Everything for the latest bar; then freeze the hedge held into the next one."""
        s = self._sums
        w = s.window
        n = len(s.xs)
        x = s.xs[-1]
        y = s.ys[-1]
        full = n == w
        # Inline rather than WindowSums' properties: this is the per-bar hot path.
        run_a = s.run_a
        run_b = s.run_b
        flat = run_a >= w or run_b >= w

        spread = zscore = hedge_beta = hedge_alpha = None
        held = self._held
        if held is not None:
            spread, zscore = held.spread_z(x, y)
            hedge_beta = held.beta
            hedge_alpha = held.alpha

        kalman_beta = kalman_z = None
        kf = self._kalman
        if kf.started and self._kalman_q is not None:
            prior_beta, prior_alpha = kf.beta, kf.alpha
            e, q = kf.step(x, y, *self._kalman_q)
            if not flat and q > 0.0:
                kalman_beta = kf.beta
                kalman_z = e / math.sqrt(q)
                if self.hedge == "kalman":
                    spread, zscore = e, kalman_z
                    hedge_beta, hedge_alpha = prior_beta, prior_alpha

        beta = alpha = r2 = beta_se = half_life = None
        self._held = None
        if full and not flat:
            mx = s.sx / w
            my = s.sy / w
            cxx = s.sxx - s.sx * mx
            cyy = s.syy - s.sy * my
            cxy = s.sxy - s.sx * my
            if cxx > 0.0 and cyy > 0.0:
                beta = cxy / cxx
                alpha = (s.ky + my) - beta * (s.kx + mx)
                r2 = min(cxy * cxy / (cxx * cyy), 1.0)
                ssr = cyy - cxy * beta
                if ssr <= _EXACT_FIT * cyy:
                    ssr = 0.0
                s2 = ssr / (w - 2)
                beta_se = math.sqrt(s2 / cxx)
                if ssr > 0.0:
                    half_life = self._half_life(beta, ssr)
                self._freeze(w, mx, my, beta, cxx, cyy, cxy, s2)

        mean_a = std_a = mean_b = std_b = return_a = return_b = None
        if full:
            mean_a = s.ka + s.sa / w
            mean_b = s.kb + s.sb / w
            caa = s.saa - s.sa * s.sa / w
            cbb = s.sbb - s.sb * s.sb / w
            std_a = math.sqrt(caa / (w - 1)) if run_a < w and caa > 0.0 else 0.0
            std_b = math.sqrt(cbb / (w - 1)) if run_b < w and cbb > 0.0 else 0.0
            return_a = s.ras[-1]
            return_b = s.rbs[-1]

        corr = vol_a = vol_b = None
        if len(s.ras) == w:
            craa = s.sraa - s.sra * s.sra / w
            crbb = s.srbb - s.srb * s.srb / w
            # A leg whose returns are all zero has run > w (w + 1 equal closes).
            moves_a = run_a <= w and craa > 0.0
            moves_b = run_b <= w and crbb > 0.0
            vol_a = math.sqrt(craa / (w - 1)) * self._annualise if moves_a else 0.0
            vol_b = math.sqrt(crbb / (w - 1)) * self._annualise if moves_b else 0.0
            if moves_a and moves_b:
                crab = s.srab - s.sra * s.srb / w
                corr = crab / math.sqrt(craa * crbb)
                corr = 1.0 if corr > 1.0 else -1.0 if corr < -1.0 else corr

        return PairStats(
            n=n,
            beta=beta,
            alpha=alpha,
            r2=r2,
            beta_se=beta_se,
            spread=spread,
            zscore=zscore,
            corr=corr,
            half_life=half_life,
            kalman_beta=kalman_beta,
            kalman_z=kalman_z,
            bars_needed=w + 1 - self._count if self._count <= w else 0,
            hedge_beta=hedge_beta,
            hedge_alpha=hedge_alpha,
            mean_a=mean_a,
            std_a=std_a,
            return_a=return_a,
            vol_a=vol_a,
            mean_b=mean_b,
            std_b=std_b,
            return_b=return_b,
            vol_b=vol_b,
        )

    def _half_life(self, beta: float, ssr: float) -> float | None:
        """AR(1) on the in-sample residuals ``d_i = y_i - beta·x_i`` (the intercept cancels).

        With ``L`` the first ``W - 1`` bars and ``F`` the last ``W - 1``, the lagged pairs are
        ``(d_L, d_F)``; their co-moments come from the level sums minus the newest (``L``) or
        oldest (``F``) bar and from the lagged cross-products, all in anchored coordinates.
        """
        s = self._sums
        m = s.window - 1
        kx, ky = s.kx, s.ky
        xn = s.xs[-1] - kx
        yn = s.ys[-1] - ky
        x0 = s.xs[0] - kx
        y0 = s.ys[0] - ky
        sum_l = (s.sy - yn) - beta * (s.sx - xn)
        sum_f = (s.sy - y0) - beta * (s.sx - x0)
        sq_l = (s.syy - yn * yn) - 2.0 * beta * (s.sxy - xn * yn) + beta * beta * (s.sxx - xn * xn)
        lag = s.lyy - beta * (s.lyx + s.lxy) + beta * beta * s.lxx
        s_uu = sq_l - sum_l * sum_l / m
        if s_uu <= 1e-9 * ssr:
            return None
        phi = (lag - sum_l * sum_f / m) / s_uu
        if 0.0 < phi < 1.0:
            return -_LN2 / math.log(phi)
        return None

    def _freeze(
        self,
        w: int,
        mx: float,
        my: float,
        beta: float,
        cxx: float,
        cyy: float,
        cxy: float,
        s2: float,
    ) -> None:
        """Freeze this window's hedge for the next bar; warm-start or feed the Kalman filter."""
        s = self._sums
        if self.hedge == "ols":
            self._held = OlsHedge(w, s.kx, s.ky, mx, my, beta, cxx, math.sqrt(s2))
        elif self.hedge == "ols0":
            self._held = Ols0Hedge(w, s.kx + mx, s.ky + my, cxx, cyy, cxy)
        elif self.hedge == "huber":
            self._held = HuberHedge.fit(*s.arrays())
        if s2 > 0.0:
            # The next step's transition noise: this window's OLS parameter covariance / W.
            self._kalman_q = (s2 / (w * cxx), s2 / (w * w))
            if not self._kalman.started:
                self._kalman.start(beta, s.kx + mx, s.ky + my, s2 / cxx, s2 / w, s2)
