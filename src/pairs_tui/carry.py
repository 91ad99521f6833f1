"""Perpetual funding: each leg's rate in force, and what holding the spread earns or costs.

A perpetual pays funding every ``h`` hours (8 for most symbols, 4 or 1 for some: Binance lists
the exceptions in ``GET /fapi/v1/fundingInfo``): longs pay ``r`` times their notional when ``r``
is positive, and are paid when it is negative. The long spread is long 1 USDT of A and short
β USDT of B (log prices; with raw prices 1 unit of A against β units of B), so a day of funding
at the rates in force is, in basis points of A's notional::

    carry_bp_day = 1e4 · (-r_A · 24/h_A + β · r_B · 24/h_B)

with the B term scaled by ``close_B / close_A`` for raw prices. The short spread earns the
negative.
"""

from __future__ import annotations

from collections.abc import Mapping

from pairs_tui.records import MarkPrice, PriceMode
from pairs_tui.snapshot import Carry

DEFAULT_INTERVAL_H = 8.0
"""Funding interval of a symbol ``fundingInfo`` does not list."""


def carry_bp_day(
    rate_a: float,
    interval_a_h: float,
    rate_b: float,
    interval_b_h: float,
    beta: float,
    *,
    price: PriceMode = "log",
    close_a: float | None = None,
    close_b: float | None = None,
) -> float | None:
    """Funding of the long spread over a day at the rates in force, bp of A's notional.

    Args:
        rate_a: Leg A's funding rate per interval (a fraction).
        interval_a_h: Leg A's funding interval, hours.
        rate_b: Leg B's funding rate per interval.
        interval_b_h: Leg B's funding interval, hours.
        beta: The hedge ratio: USDT of B per USDT of A (log), units of B per unit of A (raw).
        price: ``log`` or ``raw``.
        close_a: Leg A's price, needed for raw prices.
        close_b: Leg B's price, needed for raw prices.

    Returns:
        The carry, or None for raw prices without both closes.
    """
    b_per_a = beta
    if price == "raw":
        if not close_a or close_b is None:
            return None
        b_per_a = beta * close_b / close_a
    return 1e4 * (-rate_a * 24.0 / interval_a_h + b_per_a * rate_b * 24.0 / interval_b_h)


class CarryBook:
    """The latest mark-price update of each leg of a pair, and the carry they imply.

    Args:
        symbols: The pair, target first.
        intervals_h: Funding interval in hours of the symbols that do not fund every 8 hours.
    """

    def __init__(
        self, symbols: tuple[str, str], intervals_h: Mapping[str, float] | None = None
    ) -> None:
        self.symbols = symbols
        self._intervals = dict(intervals_h or {})
        self._marks: list[MarkPrice | None] = [None, None]
        self._leg = {symbols[0]: 0, symbols[1]: 1}

    def set_intervals(self, intervals_h: Mapping[str, float]) -> None:
        """Funding intervals from ``fundingInfo`` (symbols not listed fund every 8 hours)."""
        self._intervals.update(intervals_h)

    def interval_h(self, symbol: str) -> float:
        """A symbol's funding interval, hours."""
        return self._intervals.get(symbol, DEFAULT_INTERVAL_H)

    def on_mark(self, mark: MarkPrice) -> bool:
        """Take one mark-price update; return whether it was one of the pair's and newer."""
        leg = self._leg.get(mark.symbol)
        if leg is None:
            return False
        held = self._marks[leg]
        if held is not None and held.time > mark.time:
            return False
        self._marks[leg] = mark
        return True

    def carry(
        self,
        beta: float | None,
        *,
        price: PriceMode = "log",
        close_a: float | None = None,
        close_b: float | None = None,
    ) -> Carry:
        """Funding and carry at the rates in force, for the hedge ratio ``beta``."""
        mark_a, mark_b = self._marks
        h_a = self.interval_h(self.symbols[0])
        h_b = self.interval_h(self.symbols[1])
        value = None
        if mark_a is not None and mark_b is not None and beta is not None:
            value = carry_bp_day(
                mark_a.funding_rate,
                h_a,
                mark_b.funding_rate,
                h_b,
                beta,
                price=price,
                close_a=close_a,
                close_b=close_b,
            )
        times = [m.next_funding_time for m in (mark_a, mark_b) if m is not None]
        return Carry(
            funding_a=None if mark_a is None else mark_a.funding_rate,
            funding_b=None if mark_b is None else mark_b.funding_rate,
            next_funding_ts=min(times) if times else None,
            carry_bp_day=value,
            interval_a_h=h_a,
            interval_b_h=h_b,
            premium_a=_premium(mark_a),
            premium_b=_premium(mark_b),
            next_funding_a=None if mark_a is None else mark_a.next_funding_time,
            next_funding_b=None if mark_b is None else mark_b.next_funding_time,
        )


def _premium(mark: MarkPrice | None) -> float | None:
    if mark is None or not mark.index > 0:
        return None
    return mark.mark / mark.index - 1.0
