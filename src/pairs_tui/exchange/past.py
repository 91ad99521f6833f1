"""The exchange's past: hours of 1-second bars made by a price model, vectorised with numpy.

Generating hours of trades at start would be too slow, so the deep past is 1-second bars (OHLCV,
taker-buy volume, fill and aggregate-trade counts) drawn from the same model as the trades: each
independent leg is a random walk of the log price, and each cointegrated leg is
``log y = alpha + beta·log x + s`` with ``s`` an Ornstein-Uhlenbeck spread. Paths end exactly at
given prices (where the trades begin), so the past flows into the present without a jump.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import msgspec
import numpy as np
from numpy.typing import NDArray

from pairs_tui.exchange.tape import PastSeconds, SymbolSpec

Floats = NDArray[np.float64]
"""A column of floats."""
_YEAR_S = 365.0 * 86_400.0


class LegModel(msgspec.Struct, frozen=True):
    """How one symbol trades in the model."""

    spec: SymbolSpec
    """Its exchange info (tick and step)."""
    price: float
    """The price where the past ends and the trades begin."""
    rate_per_s: float
    """Aggregate trades per second."""
    median_qty: float
    """Median quantity of one fill, base units."""
    annual_vol: float = 0.8
    """Annualised volatility of an independent leg (a cointegrated leg's follows its pair)."""
    fills_per_trade: float = 1.67
    """Mean fills per aggregate trade (bursts at one price and side)."""
    halted_s: float = 0.0
    """Seconds before the end of the past since which it has not traded (a settling symbol)."""


class PairModel(msgspec.Struct, frozen=True):
    """A cointegrated pair: ``log y = alpha + beta·log x + s``, ``s`` mean-reverting."""

    y: str
    """The target leg (regressed)."""
    x: str
    """The hedge leg (a random walk of its own)."""
    beta: float
    """Cointegrating coefficient on log prices."""
    half_life_s: float
    """Half-life of the spread, seconds."""
    spread_sd: float
    """Stationary standard deviation of the spread, log units."""


def ar1(phi: float, shocks: Floats, start: float) -> Floats:
    """``s[i] = phi·s[i-1] + shocks[i]`` with ``s[-1] = start``, vectorised in blocks.

    Args:
        phi: The autoregressive coefficient, ``|phi| < 1``.
        shocks: The innovations.
        start: The value before the first.

    Returns:
        The series, as long as ``shocks``.
    """
    n = len(shocks)
    if n == 0:
        return np.zeros(0)
    block = 256
    blocks = -(-n // block)
    flat = np.zeros(blocks * block)
    flat[:n] = shocks
    e = flat.reshape(blocks, block)
    lag = np.arange(block)[:, None] - np.arange(block)[None, :]
    # Within a block, a lower-triangular Toeplitz matrix of phi's powers sums the shocks.
    kernel = np.where(lag >= 0, phi ** np.maximum(lag, 0), 0.0)
    inner = e @ kernel.T
    decay = phi ** np.arange(1, block + 1)
    carry = np.empty(blocks)
    previous = start
    for b in range(blocks):  # one step per block of 256: a few hundred for a day of seconds
        carry[b] = previous
        previous = inner[b, -1] + decay[-1] * previous
    out: Floats = (inner + np.outer(carry, decay)).reshape(-1)[:n]
    return out


def poisson(rng: np.random.Generator, rate: float, n: int) -> NDArray[np.int64]:
    """``n`` Poisson counts of mean ``rate`` by inverting the CDF (faster than numpy's own for
    the small rates of trades per second)."""
    k = np.arange(int(rate + 10.0 * math.sqrt(rate) + 10.0))
    pmf = np.exp(k * math.log(max(rate, 1e-300)) - rate - np.array([math.lgamma(i + 1) for i in k]))
    out: NDArray[np.int64] = np.searchsorted(np.cumsum(pmf), rng.random(n)).astype(np.int64)
    return np.minimum(out, len(k) - 1)


def walk(rng: np.random.Generator, annual_vol: float, dt_s: float, steps: int) -> Floats:
    """A random walk of a log price from 0: ``steps`` Gaussian steps of ``dt_s`` seconds."""
    sigma = annual_vol * math.sqrt(dt_s / _YEAR_S)
    out: Floats = np.cumsum(rng.normal(0.0, sigma, steps))
    return out


def ou_phi(half_life_s: float, dt_s: float) -> float:
    """The AR(1) coefficient of an Ornstein-Uhlenbeck process with this half-life, sampled."""
    return math.exp(-math.log(2.0) / half_life_s * dt_s)


def past_seconds(log_mids: Floats, leg: LegModel, rng: np.random.Generator) -> PastSeconds:
    """1-second bars over a path: trades per second drawn from the leg's rate, open and close
    at the mids of the second's edges plus or minus half a tick, highs and lows a little
    beyond; the last bar closes exactly at the leg's end price.

    Args:
        log_mids: Log mid prices at every second boundary (one more than the bars).
        leg: The leg's model.
        rng: The random source.

    Returns:
        The bars.
    """
    n = len(log_mids) - 1
    tick = float(leg.spec.tick_size)
    step = float(leg.spec.step_size)
    aggs = poisson(rng, leg.rate_per_s, n)
    if leg.halted_s > 0:
        aggs[max(0, n - round(leg.halted_s)) :] = 0
    aggs[0] = max(int(aggs[0]), 1)  # the past opens with a trade, so every close has a source
    aggs[-1] = max(int(aggs[-1]), 1) if leg.halted_s <= 0 else aggs[-1]
    # Extra fills of the bursts: their mean, rounded at random (cheaper than a Poisson per bar).
    extra = max(leg.fills_per_trade - 1.0, 0.0) * aggs
    fills = aggs + np.floor(extra + rng.random(n)).astype(np.int64)
    mids = np.exp(log_mids) / tick
    bounce = np.where(rng.random((2, n)) < 0.5, -0.5, 0.5)
    open_ = np.round(mids[:-1] + bounce[0])
    close = np.round(mids[1:] + bounce[1])
    if leg.halted_s <= 0:
        close[-1] = round(leg.price / tick)
    open_ = np.where(aggs == 1, close, open_)  # one trade: one price
    # The range beyond open and close grows with the trades and the second's volatility.
    sd_ticks = float(np.std(np.diff(log_mids))) * mids[1:]
    busy = np.sqrt(np.minimum(np.maximum(aggs - 1, 0) / 5.0, 1.0))
    wiggle = np.abs(rng.normal(0.0, 1.0, (2, n))) * sd_ticks * 0.3 * busy
    high = np.maximum(open_, close) + np.round(wiggle[0])
    low = np.maximum(np.minimum(open_, close) - np.round(wiggle[1]), 1.0)
    traded = aggs > 0
    last = np.maximum.accumulate(np.where(traded, np.arange(n), 0))
    carried = close[last]
    median_steps = max(leg.median_qty / step, 1.0)
    volume = np.maximum(fills, np.round(fills * median_steps * rng.lognormal(0.0, 0.6, n)))
    volume = np.where(traded, volume, 0)
    taker_buy = np.round(volume * rng.uniform(0.15, 0.85, n))
    return PastSeconds(
        open=np.where(traded, open_, carried).astype(np.int32),
        high=np.where(traded, high, carried).astype(np.int32),
        low=np.where(traded, low, carried).astype(np.int32),
        close=carried.astype(np.int32),
        volume=volume.astype(np.int32),
        taker_buy=taker_buy.astype(np.int32),
        fills=fills.astype(np.int32),
        aggs=aggs.astype(np.int32),
    )


class ModelPast:
    """Every leg's past, drawn from the model when first asked for (a day of seconds for a
    dozen symbols is a third of a second of numpy; a client asks for a few at start).

    Each leg draws from its own seeded stream, so a past does not depend on which was asked
    for first. Hedge and independent legs walk to their end prices; each target leg's spread
    ends at a value drawn up front (from the spread's stationary law) and is drawn backwards
    from there (an AR(1) reversed in time is the same AR(1)), so the live model can continue
    from the end state before any past is drawn.

    Args:
        legs: Every symbol's model.
        pairs: The cointegrated pairs (each target leg in one pair; hedge legs walk).
        seconds: Length of the past.
        seed: Seed of every draw.
    """

    def __init__(
        self,
        legs: Mapping[str, LegModel],
        pairs: Sequence[PairModel],
        seconds: int,
        seed: int,
    ) -> None:
        self.legs = dict(legs)
        """Every symbol's model."""
        self.pairs = {p.y: p for p in pairs}
        """The cointegrated pairs by target leg."""
        self.seconds = seconds
        """Length of the past, seconds."""
        self.seed = seed
        """Seed of every draw."""
        self._index = {s: i for i, s in enumerate(legs)}
        rng = np.random.default_rng([seed, 2])
        self.spread_ends = {y: float(rng.normal(0.0, p.spread_sd)) for y, p in self.pairs.items()}
        """Where each target leg's spread ends (where the live model continues from)."""
        self.alphas = {
            y: math.log(legs[y].price) - p.beta * math.log(legs[p.x].price) - self.spread_ends[y]
            for y, p in self.pairs.items()
        }
        """Each target leg's intercept, landing it on its end price."""
        self._paths: dict[str, Floats] = {}
        self._bars: dict[str, PastSeconds] = {}

    def has(self, symbol: str) -> bool:
        """Whether ``symbol`` has a past."""
        return symbol in self.legs

    def end_close(self, symbol: str) -> int:
        """The close the past ends at, ticks: the leg's end price, unless it is halted."""
        leg = self.legs[symbol]
        if leg.halted_s > 0:
            return int(self.bars(symbol).close[-1])
        return round(leg.price / float(leg.spec.tick_size))

    def path(self, symbol: str) -> Floats:
        """Log mid prices at every second boundary of the past (``seconds + 1`` values)."""
        path = self._paths.get(symbol)
        if path is not None:
            return path
        leg = self.legs[symbol]
        rng = self._rng(0, symbol)
        pair = self.pairs.get(symbol)
        if pair is None:
            steps: Floats = np.concatenate([[0.0], walk(rng, leg.annual_vol, 1.0, self.seconds)])
            path = steps - steps[-1] + math.log(leg.price)
        else:
            phi = ou_phi(pair.half_life_s, 1.0)
            shocks = rng.normal(0.0, pair.spread_sd * math.sqrt(1.0 - phi * phi), self.seconds)
            end = self.spread_ends[symbol]
            spread: Floats = np.concatenate([[end], ar1(phi, shocks, end)])[::-1]
            path = self.alphas[symbol] + pair.beta * self.path(pair.x) + spread
        self._paths[symbol] = path
        return path

    def bars(self, symbol: str) -> PastSeconds:
        """The leg's past as 1-second bars (drawn on first use, then kept)."""
        bars = self._bars.get(symbol)
        if bars is None:
            bars = past_seconds(self.path(symbol), self.legs[symbol], self._rng(1, symbol))
            self._bars[symbol] = bars
        return bars

    def _rng(self, stream: int, symbol: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, 3 + stream, self._index[symbol]])
