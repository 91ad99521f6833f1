"""The hedge held into the next bar: a fit on the window ending at this bar, frozen.

Each class is built at the end of bar ``t`` from the window ending at ``t`` and is asked at bar
``t + 1`` for that bar's spread and z-score, so a z-score never includes the bar it scores.

* :class:`OlsHedge`: ``y = alpha + beta·x``; z divides by the OLS prediction standard error
  ``s·√(1 + 1/W + (x - x̄)²/Sxx)``, ``s² = SSR/(W - 2)``.
* :class:`Ols0Hedge`: ``y = beta·x`` through the origin; z divides by its prediction standard
  error ``s0·√(1 + x²/Σx²)``, ``s0² = SSR0/(W - 1)``. The model has no intercept, so the spread
  keeps its mean and the z-score is *not* centred on zero unless the fit's residuals are.
* :class:`HuberHedge`: statsmodels ``RLM(y, [1, x], M=HuberT())`` (MAD scale), centred;
  z divides by ``scale·√(1 + 1/W + (x - x̄)²/Sxx)``, the OLS leverage term with the robust scale.
  An O(W) refit per bar: acceptable only because it is the opt-in method for fat-finger prints.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


class OlsHedge:
    """OLS fit of one window, in the anchored coordinates of :class:`~.rolling.WindowSums`.

    Args:
        w: Bars in the window.
        kx: Anchor of ``x``.
        ky: Anchor of ``y``.
        mx: Mean of ``x - kx``.
        my: Mean of ``y - ky``.
        beta: Slope.
        sxx: ``Σ(x - x̄)²`` (positive).
        s: Residual standard deviation ``√(SSR/(W - 2))``; 0 for an exact fit.
    """

    __slots__ = ("beta", "kx", "ky", "mx", "my", "s", "sxx", "w")

    def __init__(
        self,
        w: int,
        kx: float,
        ky: float,
        mx: float,
        my: float,
        beta: float,
        sxx: float,
        s: float,
    ) -> None:
        self.w, self.kx, self.ky, self.mx, self.my = w, kx, ky, mx, my
        self.beta, self.sxx, self.s = beta, sxx, s

    @property
    def alpha(self) -> float:
        """Intercept in the data's coordinates."""
        return (self.ky + self.my) - self.beta * (self.kx + self.mx)

    def spread_z(self, x: float, y: float) -> tuple[float, float | None]:
        """The spread at ``(x, y)`` and its z-score (None when the fit was exact)."""
        dx = (x - self.kx) - self.mx
        spread = ((y - self.ky) - self.my) - self.beta * dx
        if self.s <= 0.0:
            return spread, None
        lev = 1.0 + 1.0 / self.w + dx * dx / self.sxx
        return spread, spread / (self.s * math.sqrt(lev))


class Ols0Hedge:
    """OLS through the origin, ``y = beta·x``, from a window's centred moments.

    Args:
        w: Bars in the window.
        x_mean: Mean of ``x``.
        y_mean: Mean of ``y``.
        sxx: ``Σ(x - x̄)²``.
        syy: ``Σ(y - ȳ)²``.
        sxy: ``Σ(x - x̄)(y - ȳ)``.
    """

    __slots__ = ("beta", "s", "sum_x2")

    def __init__(
        self, w: int, x_mean: float, y_mean: float, sxx: float, syy: float, sxy: float
    ) -> None:
        # Raw moments rebuilt from centred ones: Σx² = Sxx + W·x̄², Σxy = Sxy + W·x̄·ȳ.
        self.sum_x2 = sxx + w * x_mean * x_mean
        self.beta = (sxy + w * x_mean * y_mean) / self.sum_x2
        b = self.beta
        # SSR0 split into the residuals' spread about their mean and their mean, so the large
        # levels never cancel: Σ(y - βx)² = Σ((y - ȳ) - β(x - x̄))² + W·(ȳ - βx̄)².
        centred = max(syy - 2.0 * b * sxy + b * b * sxx, 0.0)
        mean_resid = y_mean - b * x_mean
        self.s = math.sqrt((centred + w * mean_resid * mean_resid) / (w - 1))

    @property
    def alpha(self) -> float:
        """Always 0: the model has no intercept."""
        return 0.0

    def spread_z(self, x: float, y: float) -> tuple[float, float | None]:
        """The spread ``y - beta·x`` and its z-score (None when the fit was exact)."""
        spread = y - self.beta * x
        if self.s <= 0.0:
            return spread, None
        return spread, spread / (self.s * math.sqrt(1.0 + x * x / self.sum_x2))


class HuberHedge:
    """Huber robust regression of one window (statsmodels RLM with ``HuberT``).

    Args:
        w: Bars in the window.
        x_mean: Mean of ``x``.
        y_mean: Mean of ``y``.
        a: Intercept of the centred fit, ``alpha + beta·x̄ - ȳ``.
        beta: Slope.
        scale: Robust residual scale (RLM's MAD-based estimate), in ``y`` units.
        sxx: ``Σ(x - x̄)²``.
    """

    __slots__ = ("a", "beta", "scale", "sxx", "w", "x_mean", "y_mean")

    def __init__(
        self, w: int, x_mean: float, y_mean: float, a: float, beta: float, scale: float, sxx: float
    ) -> None:
        self.w, self.x_mean, self.y_mean, self.sxx = w, x_mean, y_mean, sxx
        self.a, self.beta, self.scale = a, beta, scale

    @classmethod
    def fit(cls, y: np.ndarray, x: np.ndarray) -> HuberHedge | None:
        """Fit ``y = alpha + beta·x`` robustly; None if the fit is degenerate.

        RLM is affine-equivariant, so it is run on ``(y - ȳ)/sd(y)`` against ``[1, x - x̄]``
        and mapped back. On raw log prices (``x ≈ 8 ± 1e-4``) its weighted least squares is so
        ill-conditioned that the iterations never settle (the scale wanders at 1e-6 for 500
        iterations); centred and scaled, it converges on the coefficients to 1e-12 in about 20.

        Args:
            y: Target-leg prices of the window.
            x: Hedge-leg prices of the window (not constant).

        Returns:
            The fit, or None when statsmodels cannot produce finite parameters and a
            positive scale (e.g. more than half the residuals exactly zero).
        """
        # Imported here: statsmodels costs about a second to import and only this method uses it.
        import statsmodels.api as sm

        x_mean = float(x.mean())
        y_mean = float(y.mean())
        xc = x - x_mean
        yc = y - y_mean
        sd = float(np.sqrt(yc @ yc / len(yc)))
        sxx = float(xc @ xc)
        if sd <= 0.0 or sxx <= 0.0:
            return None
        from statsmodels.tools.sm_exceptions import (
            ConvergenceWarning,
        )

        exog = np.column_stack([np.ones_like(xc), xc])
        # A window where most prints sit exactly on the line makes RLM's scale 0: it warns, and
        # the None below is the answer. (catch_warnings is process-wide while it lasts; only
        # this warning class is silenced.)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                res = sm.RLM(yc / sd, exog, M=sm.robust.norms.HuberT()).fit(
                    conv="coefs", tol=1e-12, maxiter=200
                )
            except (ValueError, np.linalg.LinAlgError):
                return None
        a = float(res.params[0]) * sd
        beta = float(res.params[1]) * sd
        scale = float(res.scale) * sd
        if not (math.isfinite(a) and math.isfinite(beta) and math.isfinite(scale)):
            return None
        if scale <= 0.0:
            return None
        return cls(len(x), x_mean, y_mean, a, beta, scale, sxx)

    @property
    def alpha(self) -> float:
        """Intercept in the data's coordinates."""
        return self.y_mean + self.a - self.beta * self.x_mean

    def spread_z(self, x: float, y: float) -> tuple[float, float | None]:
        """The spread ``y - alpha - beta·x`` and its z-score."""
        dx = x - self.x_mean
        spread = (y - self.y_mean) - self.a - self.beta * dx
        lev = 1.0 + 1.0 / self.w + dx * dx / self.sxx
        return spread, spread / (self.scale * math.sqrt(lev))
