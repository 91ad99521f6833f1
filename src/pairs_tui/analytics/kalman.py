"""Kalman filter on a dynamic hedge ``[beta, alpha]``, warm-started from OLS and scale-free.

Model, in coordinates centred on the warm-up window's means ``c_x``, ``c_y`` (so the 2x2 algebra
stays well conditioned whatever the price level):

    y_t - c_y = beta_t·(x_t - c_x) + a_t + ε_t,     ε_t ~ N(0, Ve_t)
    [beta_t, a_t] = [beta_{t-1}, a_{t-1}] + w_t,     w_t ~ N(0, diag(q_beta_t, q_a_t))

so ``alpha_t = c_y + a_t - beta_t·c_x``. Per bar: ``R = P + Vw``; ``h = [x - c_x, 1]``;
innovation ``e = y - c_y - h·θ``; ``Q = h R hᵀ + Ve``; ``K = R hᵀ / Q``; ``θ += K e``;
``P = (I - K h) R (I - K h)ᵀ + Ve K Kᵀ`` (Joseph form). The innovation z-score is ``e / √Q``.

Why it does not lock onto the price ratio (Chan's defaults on price levels do): the state starts
at the OLS fit of a full window with ``P0 = s²(XᵀX)⁻¹`` instead of zero, and every variance is in
the data's own units, so rescaling a leg's prices rescales beta exactly as OLS would (with log
prices, not at all) and leaves the innovation z-score unchanged:

* ``Vw`` is the previous window's OLS parameter covariance divided by ``W``,
  ``diag(s²/(W·Sxx), s²/W²)``: the filter forgets at about the pace of the OLS window;
* ``Ve`` starts at the warm-up window's ``s²`` and then tracks the one-step innovation variance
  by covariance matching, ``Ve ← Ve + (max(e² - h R hᵀ, 0) - Ve)/W``, updated *after* the bar it
  learns from, so that ``e/√Q`` keeps a standard deviation near 1 through volatility regimes.
"""

from __future__ import annotations


class KalmanHedge:
    """The filter's state and its O(1) step; ``started`` is False until :meth:`start`.

    Args:
        adapt_bars: Memory in bars of the observation-noise estimate (the OLS window);
            None keeps ``Ve`` fixed at its starting value.
    """

    __slots__ = ("a", "adapt_bars", "beta", "cx", "cy", "p11", "p12", "p22", "started", "ve")

    def __init__(self, adapt_bars: int | None) -> None:
        self.adapt_bars = adapt_bars
        """Memory of the covariance matching of ``Ve``; None for a fixed ``Ve``."""
        self.started = False
        """Whether the state has been warm-started."""
        self.cx = self.cy = 0.0
        self.beta = self.a = 0.0
        self.p11 = self.p12 = self.p22 = 0.0
        self.ve = 0.0
        """Observation noise variance used for the next bar."""

    def start(
        self, beta: float, x_mean: float, y_mean: float, p_beta: float, p_a: float, ve: float
    ) -> None:
        """Warm-start from an OLS fit.

        Args:
            beta: OLS slope of the warm-up window.
            x_mean: Mean of ``x`` over that window (becomes ``c_x``).
            y_mean: Mean of ``y`` over that window (becomes ``c_y``); ``a`` starts at 0.
            p_beta: Variance of the slope, ``s²/Sxx``.
            p_a: Variance of the centred intercept, ``s²/W``.
            ve: Starting observation noise variance (``s²``); must be positive.
        """
        self.cx, self.cy = x_mean, y_mean
        self.beta, self.a = beta, 0.0
        self.p11, self.p12, self.p22 = p_beta, 0.0, p_a
        self.ve = ve
        self.started = True

    @property
    def alpha(self) -> float:
        """The intercept in the data's coordinates: ``c_y + a - beta·c_x``."""
        return self.cy + self.a - self.beta * self.cx

    def step(self, x: float, y: float, q_beta: float, q_a: float) -> tuple[float, float]:
        """Predict with the state through the previous bar, then update with this bar.

        Args:
            x: This bar's hedge-leg price.
            y: This bar's target-leg price.
            q_beta: Transition noise variance of ``beta`` for this step.
            q_a: Transition noise variance of the centred intercept for this step.

        Returns:
            The innovation ``e`` (the spread of the hedge held before this bar) and its
            variance ``Q``; ``Q`` is 0.0 when it is not positive, and then the state is only
            predicted, not updated (no information to weigh).
        """
        hx = x - self.cx
        r11 = self.p11 + q_beta
        r12 = self.p12
        r22 = self.p22 + q_a
        rh1 = r11 * hx + r12
        rh2 = r12 * hx + r22
        hrh = hx * rh1 + rh2
        if hrh < 0.0:
            hrh = 0.0  # R is positive semi-definite: a negative h R hᵀ is rounding
        q = hrh + self.ve
        e = (y - self.cy) - (self.beta * hx + self.a)
        if not q > 0.0:
            self.p11, self.p22 = r11, r22
            return e, 0.0
        k1 = rh1 / q
        k2 = rh2 / q
        self.beta += k1 * e
        self.a += k2 * e
        # Joseph form, P = (I - K h) R (I - K h)ᵀ + Ve K Kᵀ: equal to R - K h R in exact
        # arithmetic, but it stays positive semi-definite when prices span many decades.
        a11 = 1.0 - k1 * hx
        a12 = -k1
        a21 = -k2 * hx
        a22 = 1.0 - k2
        m11 = a11 * r11 + a12 * r12
        m12 = a11 * r12 + a12 * r22
        m21 = a21 * r11 + a22 * r12
        m22 = a21 * r12 + a22 * r22
        ve = self.ve
        self.p11 = m11 * a11 + m12 * a12 + ve * k1 * k1
        self.p12 = m11 * a21 + m12 * a22 + ve * k1 * k2
        self.p22 = m21 * a21 + m22 * a22 + ve * k2 * k2
        if self.adapt_bars is not None:
            innovation = e * e - hrh
            self.ve += ((innovation if innovation > 0.0 else 0.0) - ve) / self.adapt_bars
        return e, q
