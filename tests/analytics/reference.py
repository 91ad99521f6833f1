"""Test data and straightforward per-window references, independent of the streaming code.

Everything here is the batch computation a reader would write first: slice the window, fit it
with numpy or statsmodels, compute the number. No running sums, no anchors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl
import statsmodels.api as sm

FIXTURES = Path(__file__).parent.parent / "fixtures"
SESSION = "sessionB_2024-08-08T2354Z_2024-08-09T0000Z"
SECONDS_PER_YEAR = 365.0 * 86_400.0


def real_closes() -> tuple[np.ndarray, np.ndarray]:
    """1-second closes of BTCUSDT (leg A) and ETHUSDT (leg B) on a common grid.

    Built with plain polars, apart from the project's bar builder: the last trade price of each
    whole second, then every second from the later first trade to the last, forward-filled.
    """
    legs = []
    for symbol in ("BTCUSDT", "ETHUSDT"):
        trades = pl.read_csv(FIXTURES / f"{SESSION}_{symbol}-trades.vision-style.csv.gz")
        legs.append(
            trades.sort("time", "id")
            .group_by((pl.col("time") // 1000).alias("sec"), maintain_order=True)
            .agg(pl.col("price").last().alias(symbol))
        )
    start = max(int(leg["sec"].min()) for leg in legs)  # type: ignore[arg-type]
    end = max(int(leg["sec"].max()) for leg in legs)  # type: ignore[arg-type]
    grid = pl.DataFrame({"sec": pl.int_range(start, end + 1, eager=True)})
    frame = (
        grid.join(legs[0], on="sec", how="left")
        .join(legs[1], on="sec", how="left")
        .sort("sec")
        .with_columns(pl.col("BTCUSDT", "ETHUSDT").forward_fill())
    )
    return frame["BTCUSDT"].to_numpy(), frame["ETHUSDT"].to_numpy()


def synthetic_pair(
    n: int, *, seed: int = 7, beta: float = 0.8, phi: float = 0.98
) -> tuple[np.ndarray, np.ndarray]:
    """Closes of a cointegrated pair: ``ln a = c + beta·ln b + e``, ``e`` an AR(1).

    Leg B is a 1 bp-per-bar random walk from 2,680 (ETH-like); the spread's AR(1) has
    coefficient ``phi`` and innovations of 0.5 bp; leg A starts near 61,800 (BTC-like).
    """
    rng = np.random.default_rng(seed)
    ln_b = math.log(2680.0) + np.cumsum(rng.normal(0.0, 1e-4, n))
    eta = rng.normal(0.0, 5e-5, n)
    e = np.empty(n)
    e[0] = 0.0
    for i in range(1, n):
        e[i] = phi * e[i - 1] + eta[i]
    ln_a = math.log(61800.0) - beta * math.log(2680.0) + beta * ln_b + e
    return np.exp(ln_a), np.exp(ln_b)


def prices(a: np.ndarray, b: np.ndarray, price: str) -> tuple[np.ndarray, np.ndarray]:
    """``(y, x)`` as analysed: log or raw closes of A and B."""
    return (np.log(a), np.log(b)) if price == "log" else (a, b)


def ols_fit(y: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """Two-pass OLS ``y = alpha + beta·x`` of one window."""
    w = len(x)
    xm, ym = x.mean(), y.mean()
    xc, yc = x - xm, y - ym
    sxx = float(xc @ xc)
    beta = float(xc @ yc) / sxx
    resid = yc - beta * xc
    ssr = float(resid @ resid)
    return {
        "beta": beta,
        "alpha": float(ym - beta * xm),
        "r2": float(xc @ yc) ** 2 / (sxx * float(yc @ yc)),
        "beta_se": math.sqrt(ssr / (w - 2) / sxx),
        "s": math.sqrt(ssr / (w - 2)),
        "x_mean": float(xm),
        "y_mean": float(ym),
        "sxx": sxx,
    }


def statsmodels_fit(y: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """``sm.OLS(y, add_constant(x))`` of one window."""
    res = sm.OLS(y, sm.add_constant(x)).fit()
    return {
        "beta": float(res.params[1]),
        "alpha": float(res.params[0]),
        "r2": float(res.rsquared),
        "beta_se": float(res.bse[1]),
    }


def half_life(y: np.ndarray, x: np.ndarray) -> float | None:
    """AR(1) with intercept on the window's in-sample OLS residuals, by least squares."""
    fit = ols_fit(y, x)
    e = y - fit["alpha"] - fit["beta"] * x
    design = np.column_stack([np.ones(len(e) - 1), e[:-1]])
    phi = float(np.linalg.lstsq(design, e[1:], rcond=None)[0][1])
    return -math.log(2.0) / math.log(phi) if 0.0 < phi < 1.0 else None


def expected(
    a: np.ndarray,
    b: np.ndarray,
    t: int,
    window: int,
    price: str = "log",
    bar_seconds: float = 1.0,
    use_statsmodels: bool = False,
) -> dict[str, float | None]:
    """Every rolling field at bar ``t`` (0-based) by direct computation; ``t ≥ window``."""
    y, x = prices(a, b, price)
    lo = t - window + 1
    yw, xw = y[lo : t + 1], x[lo : t + 1]
    fit = statsmodels_fit(yw, xw) if use_statsmodels else ols_fit(yw, xw)
    prev = ols_fit(y[lo - 1 : t], x[lo - 1 : t])
    spread = (y[t] - prev["alpha"]) - prev["beta"] * x[t]
    lev = 1.0 + 1.0 / window + (x[t] - prev["x_mean"]) ** 2 / prev["sxx"]
    ra = np.diff(np.log(a[lo - 1 : t + 1]))
    rb = np.diff(np.log(b[lo - 1 : t + 1]))
    aw, bw = a[lo : t + 1], b[lo : t + 1]
    annualise = math.sqrt(SECONDS_PER_YEAR / bar_seconds)
    return {
        "beta": fit["beta"],
        "alpha": fit["alpha"],
        "r2": fit["r2"],
        "beta_se": fit["beta_se"],
        "spread": float(spread),
        "zscore": float(spread / (prev["s"] * math.sqrt(lev))),
        "hedge_beta": prev["beta"],
        "hedge_alpha": prev["alpha"],
        "corr": float(np.corrcoef(ra, rb)[0, 1]),
        "half_life": half_life(yw, xw),
        "mean_a": float(aw.mean()),
        "std_a": float(aw.std(ddof=1)),
        "return_a": float(ra[-1]),
        "vol_a": float(ra.std(ddof=1)) * annualise,
        "mean_b": float(bw.mean()),
        "std_b": float(bw.std(ddof=1)),
        "return_b": float(rb[-1]),
        "vol_b": float(rb.std(ddof=1)) * annualise,
    }


def scales(a: np.ndarray, b: np.ndarray, t: int, window: int, price: str) -> dict[str, float]:
    """A natural size per field, for values that can sit at zero (a relative error there is
    meaningless): the residual scale for the spread, 1 for z-scores, correlations and R², the
    level of ``y`` for the intercept, the leg's standard deviation for returns."""
    y, x = prices(a, b, price)
    prev = ols_fit(y[t - window : t], x[t - window : t])
    lo = t - window + 1
    ra = np.diff(np.log(a[lo - 1 : t + 1]))
    rb = np.diff(np.log(b[lo - 1 : t + 1]))
    return {
        "spread": prev["s"],
        "zscore": 1.0,
        "corr": 1.0,
        "r2": 1.0,
        "alpha": float(abs(y[lo : t + 1]).mean()),
        "hedge_alpha": float(abs(y[lo : t + 1]).mean()),
        "return_a": float(ra.std()) or 1.0,
        "return_b": float(rb.std()) or 1.0,
    }


def assert_matches(
    got: object,
    want: Mapping[str, float | None],
    scale: Mapping[str, float],
    rtol: float,
    where: str,
) -> None:
    """Each field of ``got`` equals ``want`` to ``rtol`` of the value (or of its scale)."""
    for name, value in want.items():
        actual = getattr(got, name)
        if value is None:
            assert actual is None, f"{where}: {name} = {actual}, expected None"
            continue
        assert actual is not None, f"{where}: {name} is None, expected {value}"
        assert type(actual) is float, f"{where}: {name} is {type(actual).__name__}"
        size = max(abs(value), scale.get(name, 0.0))
        assert abs(actual - value) <= rtol * size, (
            f"{where}: {name} = {actual!r}, expected {value!r} "
            f"(error {abs(actual - value) / size:.2e} of {size:.3g})"
        )
