"""The demo's markets: the simulated universe, trading without end, and the shipped recording
with a past; both start with hours of 1-second bars.

:class:`SimulatedMarket` draws one seeded model (:mod:`pairs_tui.exchange.past`): the past as
1-second bars, then trades minute by minute for as long as the exchange runs (no loop, so no
seam), each leg's first trade at its last close of the past. :func:`recorded_market` gives the
recording a modelled past that ends at its first prices; the recording loops, re-based at every
seam (:meth:`~pairs_tui.exchange.tape.TradeTape.passes`).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import numpy as np

from pairs_tui.exchange.past import LegModel, ModelPast, PairModel, ar1, ou_phi, walk
from pairs_tui.exchange.tape import (
    Listing,
    SymbolSpec,
    TapeTrade,
    TradeTape,
    recorded_tape,
)
from pairs_tui.exchange.universe import Member, universe

PAST_S = 51 * 3_600
"""The demo's past: 50 hours fill 600 bars of 5 minutes (a window of 300 and a plot of its
z-scores), and an hour more."""
CHUNK_S = 60
"""Trades are drawn a minute at a time, when the timeline needs them."""
_DT_S = 0.1
"""The live model's grid."""
DEMO_START_MS = 1_723_161_256_000
"""Where an unrebased simulation starts (2024-08-08 23:54:16 UTC, like the recording)."""


class SimulatedMarket:
    """A seeded universe: a past of 1-second bars, then trades without end.

    Args:
        members: The symbols and how they trade.
        pairs: The cointegrated pairs among them.
        seed: Seed of every random draw.
        start_ms: Time where the past ends and the trades begin.
        past_s: Seconds of past.
        duration_s: Stop trading after this long (tests); None trades without end.
        name: A short description for logs.
    """

    def __init__(
        self,
        members: Sequence[Member],
        pairs: Sequence[PairModel],
        *,
        seed: int = 7,
        start_ms: int = DEMO_START_MS,
        past_s: int = PAST_S,
        duration_s: float | None = None,
        name: str = "",
    ) -> None:
        self.name = name or f"simulated universe seed {seed}"
        """A short description for logs."""
        self.members = {m.spec.symbol: m for m in members}
        """Every symbol's member."""
        self.pairs = list(pairs)
        """The cointegrated pairs."""
        self.specs: dict[str, SymbolSpec] = {s: m.spec for s, m in self.members.items()}
        """Exchange info by symbol."""
        self.listings: dict[str, Listing] = {s: m.listing for s, m in self.members.items()}
        """How exchangeInfo lists each symbol."""
        self.start_ms = start_ms
        """Where the past ends and the trades begin, ms."""
        self.seed = seed
        """Seed of every random draw."""
        self.duration_s = duration_s
        """When trading stops, seconds after the start; None: never."""
        legs = {
            s: LegModel(m.spec, m.price, m.rate_per_s, m.median_qty, m.annual_vol, 1.67, m.halted_s)
            for s, m in self.members.items()
        }
        self.legs = legs
        """The model of every leg."""
        past = ModelPast(legs, pairs, past_s, seed)
        self.past: ModelPast | None = past
        """Every symbol's past, drawn when first asked for."""
        self._log_mids = {s: math.log(leg.price) for s, leg in legs.items()}
        self._spreads = dict(past.spread_ends)
        self._alphas = dict(past.alphas)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol, upper case."""
        return tuple(self.specs)

    def passes(self, shift_ms: int, loop: bool) -> Iterator[TapeTrade]:
        """Every trade from the start on, drawn a minute at a time (``loop`` changes nothing:
        the simulation goes on without a seam, until ``duration_s`` if given).

        Args:
            shift_ms: Time shift, ms.
            loop: Ignored.

        Yields:
            The trades in time order.
        """
        log_mids = dict(self._log_mids)
        spreads = dict(self._spreads)
        next_agg = dict.fromkeys(self.specs, 1)
        next_fill = {s: 1_000_000_000 + 1_000 * i for i, s in enumerate(self.specs)}
        first = set(self.specs)
        end = None if self.duration_s is None else self.start_ms + shift_ms + self.duration_s * 1e3
        for chunk in itertools.count():
            rng = np.random.default_rng([self.seed, 1, chunk])
            grids = self._grids(rng, log_mids, spreads)
            start = self.start_ms + shift_ms + chunk * CHUNK_S * 1000
            trades: list[TapeTrade] = []
            for symbol, grid in grids.items():
                trades += self._trades(rng, symbol, grid, start, next_agg, next_fill, first)
            trades.sort(key=_trade_time)
            for trade in trades:
                if end is not None and trade.time >= end:
                    return
                yield trade

    def _grids(
        self, rng: np.random.Generator, log_mids: dict[str, float], spreads: dict[str, float]
    ) -> dict[str, np.ndarray[tuple[int], np.dtype[np.float64]]]:
        """Every leg's log mid on the live grid over one chunk, continuing (and updating) the
        model's state."""
        steps = round(CHUNK_S / _DT_S)
        targets = {p.y: p for p in self.pairs}
        grids = {}
        for symbol, leg in self.legs.items():
            if symbol not in targets:
                path = log_mids[symbol] + walk(rng, leg.annual_vol, _DT_S, steps)
                grids[symbol] = np.concatenate([[log_mids[symbol]], path])
        for pair in self.pairs:
            phi = ou_phi(pair.half_life_s, _DT_S)
            shocks = rng.normal(0.0, pair.spread_sd * math.sqrt(1.0 - phi * phi), steps)
            s = np.concatenate([[spreads[pair.y]], ar1(phi, shocks, spreads[pair.y])])
            grids[pair.y] = self._alphas[pair.y] + pair.beta * grids[pair.x] + s
            spreads[pair.y] = float(s[-1])
        for symbol, grid in grids.items():
            log_mids[symbol] = float(grid[-1])
        return grids

    def _trades(
        self,
        rng: np.random.Generator,
        symbol: str,
        grid: np.ndarray[tuple[int], np.dtype[np.float64]],
        start_ms: int,
        next_agg: dict[str, int],
        next_fill: dict[str, int],
        first: set[str],
    ) -> list[TapeTrade]:
        """One leg's trades over one chunk: Poisson arrivals, each a burst of fills at one
        price and side; consecutive bursts at one time, price and side aggregate."""
        leg = self.legs[symbol]
        if leg.halted_s > 0 or leg.rate_per_s <= 0:
            return []
        spec = leg.spec
        tick, step = float(spec.tick_size), float(spec.step_size)
        n = rng.poisson(leg.rate_per_s * CHUNK_S)
        offsets = np.sort(rng.integers(0, CHUNK_S * 1000, n))
        mids = np.exp(grid[np.minimum(offsets // round(_DT_S * 1000), len(grid) - 1)]) / tick
        sells = rng.random(n) < 0.5
        ticks = np.round(mids + np.where(sells, -0.5, 0.5)).astype(np.int64)
        if symbol in first and n:
            # The first trade of each leg prints at the last close of its past: no jump.
            ticks[0] = round(leg.price / tick)
            first.discard(symbol)
        bursts = rng.geometric(1.0 / leg.fills_per_trade, n)
        median = max(leg.median_qty / step, 1.0)
        sizes = np.maximum(np.round(median * rng.lognormal(0.0, 1.0, int(bursts.sum()))), 1)
        # A burst that repeats the previous one's time, price and side is the same aggregate.
        same = np.zeros(n, bool)
        same[1:] = (
            (offsets[1:] == offsets[:-1]) & (ticks[1:] == ticks[:-1]) & (sells[1:] == sells[:-1])
        )
        pd, qd = spec.price_decimals, spec.qty_decimals
        out: list[TapeTrade] = []
        fill_at = 0
        agg_id, fill_id = next_agg[symbol], next_fill[symbol]
        for i in range(n):
            qtys = [round(float(q) * step, qd) for q in sizes[fill_at : fill_at + bursts[i]]]
            fill_at += int(bursts[i])
            if same[i] and out:
                prev = out[-1]
                qtys = list(prev.fill_qtys) + qtys
                agg_id -= 1
                fill_id = prev.first_trade_id
                out.pop()
            price = round(int(ticks[i]) * tick, pd)
            qty = round(math.fsum(qtys), qd)
            t = start_ms + int(offsets[i])
            out.append(
                TapeTrade(symbol, agg_id, t, price, qty, bool(sells[i]), fill_id, tuple(qtys))
            )
            agg_id += 1
            fill_id += len(qtys)
        next_agg[symbol], next_fill[symbol] = agg_id, fill_id
        return out


def simulated_market(
    symbols: Iterable[str] = (),
    *,
    seed: int = 7,
    start_ms: int | None = None,
    past_s: int = PAST_S,
    duration_s: float | None = None,
) -> SimulatedMarket:
    """The simulated universe (:mod:`pairs_tui.exchange.universe`), with ``symbols`` added.

    Args:
        symbols: Symbols that must trade (the demo's pair), any case.
        seed: Seed of the model.
        start_ms: Where the past ends; default: now (it names the quarterly contract).
        past_s: Seconds of past.
        duration_s: Stop trading after this long (tests); None trades without end.

    Returns:
        The market.
    """
    start = round(time.time() * 1000) if start_ms is None else start_ms
    members, pairs = universe(start, (s.upper() for s in symbols))
    return SimulatedMarket(
        members, pairs, seed=seed, start_ms=start, past_s=past_s, duration_s=duration_s
    )


def recorded_market(*, seed: int = 7, past_s: int = PAST_S) -> TradeTape:
    """The shipped recording with a modelled past ending at its first prices: ETHUSDT
    cointegrated on BTCUSDT (beta 0.8, half-life 15 minutes), at the recording's trade rates.

    Args:
        seed: Seed of the past.
        past_s: Seconds of past.

    Returns:
        The recording, with its past.
    """
    tape = recorded_tape()
    span_s = max((tape.end_ms - tape.start_ms) / 1000, 1.0)
    legs = {}
    for symbol, spec in tape.specs.items():
        trades = [t for t in tape.trades if t.symbol == symbol]
        fills = [q for t in trades for q in t.fill_qtys]
        legs[symbol] = LegModel(
            spec,
            trades[0].price,
            len(trades) / span_s,
            float(np.median(fills)),
            0.55 if symbol == "BTCUSDT" else 0.7,
            tape.fill_counts[symbol] / len(trades),
        )
    pairs = [PairModel("ETHUSDT", "BTCUSDT", 0.8, 900.0, 0.002)]
    return tape.with_past(ModelPast(legs, pairs, past_s, seed))


DemoSource = Literal["recording", "simulation"]
"""What the demo plays."""


def demo_tape(
    source: DemoSource, symbols: Sequence[str], *, seed: int = 7
) -> SimulatedMarket | TradeTape:
    """What ``--demo`` publishes: the recording (for its own pair) or the simulated universe.

    Args:
        source: ``"simulation"`` (the universe, the default) or ``"recording"``.
        symbols: The pair (or every symbol) the demo watches.
        seed: Seed of the simulation and of the recording's past.

    Returns:
        The tape, with hours of past.
    """
    upper = [s.upper() for s in symbols]
    if source == "recording" and set(upper) <= set(recorded_tape().specs):
        return recorded_market(seed=seed)
    return simulated_market(upper, seed=seed)


def _trade_time(trade: TapeTrade) -> int:
    return trade.time
