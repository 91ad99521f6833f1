"""What ``--backtest`` is asked on the command line: ``--from``/``--to`` times and ``--sweep``.

Parsed before anything runs, so that a bad value is an exit-2 error naming it; light on purpose
(no Polars, no NumPy), since the command line imports it at every start.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from pairs_tui.config import UsageError

SWEEP_KEYS: Final = ("window", "entry_z", "exit_z", "stop_z", "fee_bps", "hedge", "price")
"""The keys ``--sweep`` takes."""
ANALYTICS_KEYS: Final = ("window", "hedge", "price")
"""The keys the bars' analytics depend on: each of their combinations is analysed once."""
GRID_ORDER: Final = (*ANALYTICS_KEYS, "entry_z", "exit_z", "stop_z", "fee_bps")
"""The order the grid varies the keys in, the last fastest: the analytics keys slowest, so that
the combinations sharing an analysis come together."""
HEDGES: Final = ("ols", "ols0", "huber", "kalman")
PRICES: Final = ("log", "raw")

Value = int | float | str | None
"""One setting's value: an int window, a float level, None for ``stop_z=none``, a name."""


def parse_time(text: str, flag: str) -> int:
    """An ISO 8601 date or time as ms UTC (a time without an offset is UTC).

    Raises:
        UsageError: not a date or time; the message names ``flag`` and the text.
    """
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{flag} {text!r}: not an ISO 8601 date or time (e.g. 2026-12-01 or "
            "2026-12-01T08:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


@dataclass(frozen=True)
class Grid:
    """The settings ``--sweep`` varies: each key's values, in the order given."""

    values: Mapping[str, tuple[Value, ...]]
    """Values per swept key, in :data:`GRID_ORDER`."""

    def combinations(self, base: Mapping[str, Value]) -> Iterator[dict[str, Value]]:
        """Every combination, the unswept keys at ``base``'s values; the last key fastest."""
        keys = list(self.values)
        for chosen in itertools.product(*(self.values[k] for k in keys)):
            yield {**base, **dict(zip(keys, chosen, strict=True))}

    @property
    def size(self) -> int:
        """Combinations in the grid."""
        return math.prod(len(v) for v in self.values.values())


def parse_grid(texts: Sequence[str]) -> Grid:
    """``--sweep KEY=V1,V2,...`` terms as a grid.

    Raises:
        UsageError: a term without ``=``, an unknown or repeated key, a value of the wrong kind
            or out of range; the message names the term and the value.
    """
    values: dict[str, tuple[Value, ...]] = {}
    for text in texts:
        key, sep, listed = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"--sweep {text!r}: give KEY=V1,V2,... (keys: {', '.join(SWEEP_KEYS)})"
            )
        if key not in SWEEP_KEYS:
            raise UsageError(
                f"--sweep {text!r}: unknown key {key!r} (keys: {', '.join(SWEEP_KEYS)})"
            )
        if key in values:
            raise UsageError(f"--sweep {text!r}: {key} is given twice")
        items = [v.strip() for v in listed.split(",")]
        if not all(items):
            raise UsageError(f"--sweep {text!r}: an empty value")
        parsed = tuple(dict.fromkeys(_value(key, item, text) for item in items))
        values[key] = parsed
    if not values:
        raise UsageError("--sweep needs at least one KEY=V1,V2,...")
    return Grid({k: values[k] for k in GRID_ORDER if k in values})


def _value(key: str, item: str, text: str) -> Value:
    where = f"--sweep {text!r}: {key} value {item!r}"
    if key == "window":
        try:
            window = int(item)
        except ValueError:
            raise UsageError(f"{where} is not a whole number") from None
        if not 3 <= window <= 1_000_000:
            raise UsageError(f"{where} must be 3 to 1,000,000")
        return window
    if key == "hedge":
        if item.lower() not in HEDGES:
            raise UsageError(f"{where} is not one of {', '.join(HEDGES)}")
        return item.lower()
    if key == "price":
        if item.lower() not in PRICES:
            raise UsageError(f"{where} is not one of {', '.join(PRICES)}")
        return item.lower()
    if key == "stop_z" and item.lower() == "none":
        return None
    try:
        number = float(item)
    except ValueError:
        raise UsageError(f"{where} is not a number") from None
    if not math.isfinite(number):
        raise UsageError(f"{where} must be finite")
    if key in ("entry_z", "fee_bps") and number < 0:
        raise UsageError(f"{where} must be >= 0")
    return number


def check_fraction(fraction: float) -> float:
    """``--oos FRACTION``: the held-out share of the bars, strictly between 0 and 1.

    Raises:
        UsageError: out of range.
    """
    if not (math.isfinite(fraction) and 0.0 < fraction < 1.0):
        raise UsageError(f"--oos {fraction:g}: give the held-out share of the bars, e.g. 0.3")
    return fraction
