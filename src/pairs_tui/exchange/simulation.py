"""A seeded cointegrated pair, printed as an exchange would print it (the demo's other tape)."""

from __future__ import annotations

import math

import numpy as np

from pairs_tui.exchange.tape import KNOWN_SPECS, SymbolSpec, TradeTape

_SIM_LEVELS: dict[str, tuple[float, float]] = {
    "BTCUSDT": (61_800.0, 0.010),
    "ETHUSDT": (2_680.0, 0.20),
    "SOLUSDT": (145.0, 3.0),
    "BNBUSDT": (520.0, 0.5),
}
"""Starting price and median trade size of the simulated symbols."""


def simulated_tape(
    symbols: tuple[str, str] = ("BTCUSDT", "ETHUSDT"),
    *,
    seed: int = 7,
    duration_s: float = 3600.0,
    rate_per_s: float | tuple[float, float] = (12.0, 8.0),
    beta: float = 0.8,
    half_life_s: float = 60.0,
    spread_sd: float = 0.0005,
    annual_vol: float = 0.6,
    start_ms: int = 1_723_161_256_000,
) -> TradeTape:
    """A seeded cointegrated pair: log B a random walk, log A = a + beta·log B + AR(1) spread.

    The spread is an AR(1) on a 100 ms grid (an Ornstein-Uhlenbeck process sampled), trades
    arrive per leg as a Poisson process, each arrival is a burst of one to a few fills at one
    price and side (so aggregation has work to do), sizes are log-normal, and prices are the
    mid plus or minus half a tick by side, rounded to the tick.

    Args:
        symbols: Target leg A and hedge leg B, upper case.
        seed: Seed of ``numpy.random.default_rng``.
        duration_s: Length of the tape.
        rate_per_s: Arrivals per second, one rate for both legs or one per leg.
        beta: Cointegrating coefficient on log prices.
        half_life_s: Half-life of the spread, seconds.
        spread_sd: Stationary standard deviation of the spread (log units).
        annual_vol: Annualised volatility of leg B.
        start_ms: Time of the start of the tape, ms.

    Returns:
        The tape.
    """
    rng = np.random.default_rng(seed)
    a_sym, b_sym = (s.upper() for s in symbols)
    rates = (rate_per_s, rate_per_s) if isinstance(rate_per_s, float | int) else rate_per_s
    dt = 0.1
    n = max(2, math.ceil(duration_s / dt))
    a0, _ = _SIM_LEVELS.get(a_sym, (100.0, 1.0))
    b0, _ = _SIM_LEVELS.get(b_sym, (10.0, 10.0))
    sigma = annual_vol / math.sqrt(365.0 * 86_400.0) * math.sqrt(dt)
    log_b = math.log(b0) + np.cumsum(rng.normal(0.0, sigma, n))
    phi = math.exp(-math.log(2.0) / half_life_s * dt)
    shocks = rng.normal(0.0, spread_sd * math.sqrt(1.0 - phi * phi), n)
    spread = np.empty(n)
    level = 0.0
    for i in range(n):  # 36k steps per simulated hour: a plain loop is fast enough
        level = phi * level + shocks[i]
        spread[i] = level
    log_a = math.log(a0) - beta * math.log(b0) + beta * log_b + spread
    specs = {s: KNOWN_SPECS.get(s, SymbolSpec(s)) for s in (a_sym, b_sym)}
    fills: list[tuple[str, int, float, float, bool, int]] = []
    for symbol, logs, rate in ((a_sym, log_a, rates[0]), (b_sym, log_b, rates[1])):
        fills.extend(_simulated_fills(rng, symbol, specs[symbol], logs, dt, rate, start_ms))
    fills.sort(key=lambda f: f[1])  # stable: each leg's bursts stay in trade-id order
    return TradeTape.from_fills(fills, specs, name=f"simulation seed {seed}")


def _simulated_fills(
    rng: np.random.Generator,
    symbol: str,
    spec: SymbolSpec,
    logs: np.ndarray,
    dt: float,
    rate: float,
    start_ms: int,
) -> list[tuple[str, int, float, float, bool, int]]:
    duration = len(logs) * dt
    arrivals = np.sort(rng.uniform(0.0, duration, rng.poisson(rate * duration)))
    tick = float(spec.tick_size)
    step = float(spec.step_size)
    median = _SIM_LEVELS.get(symbol, (100.0, 1.0))[1]
    mids = np.exp(logs[np.minimum((arrivals / dt).astype(np.int64), len(logs) - 1)])
    sells = rng.random(len(arrivals)) < 0.5
    prices = np.round((mids + np.where(sells, -tick / 2, tick / 2)) / tick) * tick
    bursts = rng.geometric(0.6, len(arrivals))
    out: list[tuple[str, int, float, float, bool, int]] = []
    trade_id = 1_000_000_000 + int(rng.integers(0, 1_000_000))
    pd, qd = spec.price_decimals, spec.qty_decimals
    for t, price, sell, burst in zip(arrivals, prices, sells, bursts, strict=True):
        t_ms = start_ms + int(t * 1000.0)
        p = round(float(price), pd)
        sizes = np.maximum(np.round(median * rng.lognormal(0.0, 1.0, burst) / step) * step, step)
        for q in sizes:
            out.append((symbol, t_ms, p, round(float(q), qd), bool(sell), trade_id))
            trade_id += 1
    return out
