"""The simulated universe: which symbols the demo exchange lists, how they trade, how they relate.

Thirteen USDT perpetuals with Binance's tick and step sizes and realistic price levels, of
known structure (what a scanner should find):

========================  =====  ==========  =========
target ~ hedge            beta   half-life   spread sd
========================  =====  ==========  =========
ETHUSDT ~ BTCUSDT         0.8    10 min      0.0020
SOLUSDT ~ AVAXUSDT        1.1    15 min      0.0030
ADAUSDT ~ DOTUSDT         1.0    20 min      0.0030
LTCUSDT ~ BCHUSDT         0.9    30 min      0.0030
========================  =====  ==========  =========

(``log target = alpha + beta·log hedge + spread``, the spread an Ornstein-Uhlenbeck process; on
a day of 1-minute closes Engle-Granger finds the first three at p < 0.01 and the last at about
p < 0.05, depending on the seed.)
BNBUSDT, XRPUSDT, DOGEUSDT, LINKUSDT and TRXUSDT, like the hedge legs, are independent random
walks. Three more listings trade too but a scanner of USDT perpetuals must leave them out:
BTCUSDC (a USDC-margined perpetual), a BTCUSDT quarterly delivery contract (both tied to
BTCUSDT, so a scanner that kept them would rank them first), and MATICUSDT, ``SETTLING``,
halted 20 hours ago. AVAXUSDT, DOGEUSDT and TRXUSDT fund every 4 hours; LINKUSDT has an
adjusted funding cap (8 hours); fundingInfo lists those four.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec

from pairs_tui.exchange.past import PairModel
from pairs_tui.exchange.tape import Listing, SymbolSpec, usdt_perpetual


class Member(msgspec.Struct, frozen=True):
    """One symbol of the universe: how it is listed and how it trades."""

    listing: Listing
    """How exchangeInfo lists it."""
    spec: SymbolSpec
    """Tick and step sizes."""
    price: float
    """Its price where the past ends and the trades begin."""
    rate_per_s: float
    """Aggregate trades per second."""
    median_qty: float
    """Median quantity of one fill."""
    annual_vol: float = 0.8
    """Annualised volatility, when it walks on its own."""
    halted_s: float = 0.0
    """Seconds since it last traded (a settling symbol), 0 while it trades."""


def _perp(symbol: str, hours: int = 8, cap: str | None = None) -> Listing:
    return msgspec.structs.replace(usdt_perpetual(symbol), funding_hours=hours, funding_cap=cap)


def _member(
    symbol: str,
    tick: str,
    step: str,
    price: float,
    rate: float,
    qty: float,
    vol: float = 0.8,
    listing: Listing | None = None,
    halted_s: float = 0.0,
) -> Member:
    spec = SymbolSpec(symbol, tick, step)
    return Member(listing or _perp(symbol), spec, price, rate, qty, vol, halted_s)


UNIVERSE: tuple[Member, ...] = (
    _member("BTCUSDT", "0.10", "0.001", 61_800.0, 10.0, 0.010, 0.55),
    _member("ETHUSDT", "0.01", "0.001", 2_680.0, 8.0, 0.200),
    _member("SOLUSDT", "0.0100", "0.01", 145.0, 5.0, 3.0),
    _member("BNBUSDT", "0.010", "0.01", 520.0, 3.0, 0.5, 0.6),
    _member("XRPUSDT", "0.0001", "0.1", 0.5600, 4.0, 500.0),
    _member("DOGEUSDT", "0.000010", "1", 0.10500, 4.0, 3_000.0, 1.0, _perp("DOGEUSDT", 4)),
    _member("ADAUSDT", "0.00010", "1", 0.35000, 2.0, 1_000.0),
    _member("AVAXUSDT", "0.0010", "1", 24.500, 2.0, 20.0, 0.9, _perp("AVAXUSDT", 4)),
    _member("LINKUSDT", "0.001", "0.01", 11.200, 2.0, 30.0, 0.9, _perp("LINKUSDT", 8, "0.03")),
    _member("DOTUSDT", "0.001", "0.1", 4.700, 1.5, 80.0, 0.85),
    _member("LTCUSDT", "0.01", "0.001", 62.00, 1.5, 3.0),
    _member("TRXUSDT", "0.00001", "1", 0.13000, 1.0, 5_000.0, 0.5, _perp("TRXUSDT", 4)),
    _member("BCHUSDT", "0.01", "0.001", 330.00, 1.5, 1.0),
)
"""The USDT perpetuals a scanner should rank, all ``TRADING``."""

PAIRS: tuple[PairModel, ...] = (
    PairModel("ETHUSDT", "BTCUSDT", 0.8, 600.0, 0.002),
    PairModel("SOLUSDT", "AVAXUSDT", 1.1, 900.0, 0.003),
    PairModel("ADAUSDT", "DOTUSDT", 1.0, 1_200.0, 0.003),
    PairModel("LTCUSDT", "BCHUSDT", 0.9, 1_800.0, 0.003),
)
"""The cointegrated pairs of :data:`UNIVERSE` (target, hedge, beta, half-life s, spread sd)."""

HALTED_S = 20 * 3_600.0
"""How long ago the settling symbol last traded."""


def quarterly_symbol(now_ms: int) -> tuple[str, int]:
    """The current-quarter BTCUSDT delivery contract at ``now_ms``: its symbol and delivery time
    (the last Friday of March, June, September or December, 08:00 UTC, after now)."""
    now = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    for k in range(2):
        quarter_month = ((now.month - 1) // 3 + 1 + k) * 3
        year, month = now.year + (quarter_month - 1) // 12, (quarter_month - 1) % 12 + 1
        last_day = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        friday = last_day - dt.timedelta(days=(last_day.weekday() - 4) % 7)
        delivery = dt.datetime(friday.year, friday.month, friday.day, 8, tzinfo=dt.UTC)
        if delivery > now:
            break
    return f"BTCUSDT_{delivery:%y%m%d}", int(delivery.timestamp() * 1000)


def excluded(now_ms: int) -> tuple[tuple[Member, ...], tuple[PairModel, ...]]:
    """The listings a USDT-perpetual scanner must leave out, and how they are tied to BTCUSDT.

    Args:
        now_ms: The exchange's clock (names the quarterly contract).

    Returns:
        The members (a USDC perpetual, a quarterly, a settling symbol) and their pairs.
    """
    quarterly, delivery = quarterly_symbol(now_ms)
    usdc = Listing("BTCUSDC", "BTCUSDC", "BTC", "USDC", "USDC", onboard_ms=1_705_305_600_000)
    quarter = Listing(
        quarterly, "BTCUSDT", "BTC", contract_type="CURRENT_QUARTER", delivery_ms=delivery
    )
    settling = msgspec.structs.replace(usdt_perpetual("MATICUSDT"), status="SETTLING")
    members = (
        _member("BTCUSDC", "0.1", "0.001", 61_790.0, 2.0, 0.010, listing=usdc),
        _member(quarterly, "0.1", "0.001", 62_150.0, 0.5, 0.010, listing=quarter),
        _member("MATICUSDT", "0.0001", "1", 0.3800, 1.0, 1_000.0, 0.9, settling, HALTED_S),
    )
    pairs = (
        PairModel("BTCUSDC", "BTCUSDT", 1.0, 30.0, 0.0002),
        PairModel(quarterly, "BTCUSDT", 1.0, 600.0, 0.0005),
    )
    return members, pairs


def extra_member(symbol: str) -> Member:
    """A symbol asked for that the universe does not have: an independent walk at 100 USDT."""
    return _member(symbol, "0.01", "0.001", 100.0, 2.0, 1.0)


def universe(now_ms: int, symbols: Iterable[str] = ()) -> tuple[list[Member], list[PairModel]]:
    """Every member and pair of the simulated universe, with ``symbols`` added if missing.

    Args:
        now_ms: The exchange's clock.
        symbols: Symbols that must be there (the demo's pair), upper case.

    Returns:
        The members (tradable first, then the excluded) and the cointegrated pairs.
    """
    extra, extra_pairs = excluded(now_ms)
    members = list(UNIVERSE) + list(extra)
    known = {m.spec.symbol for m in members}
    members += [extra_member(s) for s in symbols if s not in known]
    return members, list(PAIRS) + list(extra_pairs)
