"""Watching the streams of one connection: quiet legs probed, stalls told from quiet markets.

Silence is the failure mode to design for: a stream can stop while the socket is up and the other
streams flow (Binance has been seen to), and an acknowledgement proves nothing. But a quiet market
is silent too. The watch tells them apart cheaply and early:

- each leg's trade rate is sampled about once a second (from its ids, nothing per trade), and a
  silence longer than :data:`QUIET_GAPS` of its usual gaps makes a REST probe due
  (:meth:`~pairs_tui.feed.backfill.Backfill.probe`): its bars wait from that moment, the probe's
  page says "quiet" (nothing published since the last id) or "stalled" (trades the stream did not
  deliver, delivered from the page at once). A stalled leg stays held and is fed over REST every
  ``stale_after_s`` until its stream delivers again, so a stall costs no late trades;
- probes before the watchdog are optional (skipped while the REST budget is more than half spent);
  a silence of the whole ``watchdog_s`` is probed in any case, and replaces the connection unless
  the probe found the market quiet (for ``@trade``, whose ids cannot be fetched, silence alone
  decides, as it did before probes);
- a mark-price stream that stops is reported (logged once per silence), but is no trade silence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pairs_tui.feed.backfill import Backfill
from pairs_tui.feed.leg import Leg
from pairs_tui.feed.weight import WeightBudget

log = logging.getLogger("pairs_tui.feed")

QUIET_GAPS = 8.0
"""A silence of this many mean gaps between trades makes a probe due: for Poisson arrivals, one
gap in e^8 ≈ 3,000 is that long."""
RATE_EVERY_S = 1.0
"""How often each leg's trade rate is sampled."""
RATE_WEIGHT = 0.3
"""Weight of the newest sample in the smoothed rate."""
OPTIONAL_SHARE = 0.5
"""An early probe is skipped while more than this share of the REST budget is spent."""
MARK_SILENT_S = 3.0
"""A mark-price stream (one update a second) silent this long is reported."""
_NAMES_SHOWN = 3
"""Streams named in one sentence; more are counted."""


class Watch:
    """Probes and watchdog of one connection's legs.

    Args:
        backfill: The feed's backfill (probes run there).
        budget: The REST weight budget (early probes wait for room in it).
        watchdog_s: A silence this long replaces the connection, unless the market is quiet.
        fetchable: Whether the stream's ids can be fetched (``aggTrade``); without, silence alone
            decides.
    """

    def __init__(
        self, backfill: Backfill, budget: WeightBudget, watchdog_s: float, fetchable: bool
    ) -> None:
        self.backfill = backfill
        self.budget = budget
        self.watchdog_s = watchdog_s
        """Silence after which the connection is replaced (unless the market is quiet)."""
        self.stale_after_s = watchdog_s / 4.0
        """Silence after which a leg shows as stale, and between probes of a stalled leg."""
        self.min_quiet_s = min(0.25, watchdog_s / 40.0)
        """The shortest silence that makes a probe due."""
        self.fetchable = fetchable

    def start(self, legs: Iterable[Leg], now: float) -> None:
        """A connection opened (or legs were subscribed): their silences start now."""
        for leg in legs:
            leg.last_seen = leg.mark_seen = now
            if leg.quiet_after_s == 0.0:
                leg.quiet_after_s = self.stale_after_s

    def check(self, legs: Iterable[Leg], now: float) -> list[Leg]:
        """Sample rates, start the probes that are due, report silent mark streams.

        Args:
            legs: The connection's legs.
            now: Monotonic time.

        Returns:
            The legs whose silence replaces the connection now (empty: keep it).
        """
        silent: list[Leg] = []
        for leg in legs:
            self._sample(leg, now)
            quiet = now - leg.last_seen
            if leg.mark_stream is not None:
                self._mark_silence(leg, now)
            if not self.fetchable:
                if quiet >= self.watchdog_s:
                    silent.append(leg)
                continue
            current = leg.probed_at > leg.last_seen  # the verdict is about this silence
            if self._due(leg, quiet, current, now):
                urgent = quiet >= self.watchdog_s
                if urgent or self._room():
                    self.backfill.probe(leg)
            if quiet >= self.watchdog_s and self._gives_up(leg, quiet, current):
                silent.append(leg)
        return silent

    def next_check(self, legs: Iterable[Leg], now: float) -> float:
        """When :meth:`check` has something to do next, monotonic time."""
        wake = now + RATE_EVERY_S
        for leg in legs:
            if leg.verdict == "stalled" and leg.probed_at > leg.last_seen:
                wake = min(wake, leg.probed_at + self.stale_after_s)
            else:
                wake = min(wake, leg.last_seen + self._wait(leg))
            watchdog = leg.last_seen + self.watchdog_s
            if watchdog > now:
                wake = min(wake, watchdog)
        # A probe due but not started (a backfill runs, or the budget has no room) is looked
        # at again soon, not in a busy loop.
        return max(wake, now + max(0.005, self.min_quiet_s / 2.0))

    def is_stale(self, leg: Leg, now: float) -> bool:
        """Whether the leg shows as stale: silent for ``stale_after_s`` and not found quiet."""
        if now - leg.last_seen <= self.stale_after_s:
            return False
        return not (leg.verdict == "quiet" and leg.probed_at > leg.last_seen)

    # -- inside -----------------------------------------------------------------------------------

    def _sample(self, leg: Leg, now: float) -> None:
        if now - leg.rate_at < RATE_EVERY_S:
            return
        last = leg.last_id
        if last is not None and leg.rate_id is not None:
            rate = (last - leg.rate_id) / (now - leg.rate_at)
            leg.rate = rate if leg.rate == 0.0 else leg.rate + RATE_WEIGHT * (rate - leg.rate)
            usual = QUIET_GAPS / leg.rate if leg.rate > 0.0 else self.stale_after_s
            leg.quiet_after_s = min(self.stale_after_s, max(self.min_quiet_s, usual))
        leg.rate_at, leg.rate_id = now, last

    def _wait(self, leg: Leg) -> float:
        """The silence the next probe waits for: the usual-gap threshold for a new silence,
        twice the silence at the last probe for one already found quiet."""
        if leg.probed_at > leg.last_seen:
            return max(leg.quiet_after_s, 2.0 * (leg.probed_at - leg.last_seen))
        return leg.quiet_after_s

    def _due(self, leg: Leg, quiet: float, current: bool, now: float) -> bool:
        if leg.task is not None:
            return False
        if current and leg.verdict == "stalled":
            return now - leg.probed_at >= self.stale_after_s
        if quiet >= self.watchdog_s and not (current and leg.verdict == "quiet"):
            return True  # the watchdog needs a verdict about this silence
        return quiet >= self._wait(leg)

    def _gives_up(self, leg: Leg, quiet: float, current: bool) -> bool:
        """Whether a leg silent for the watchdog replaces the connection."""
        if current and leg.verdict == "quiet":
            return False  # a quiet market: nothing is lost by waiting
        if current and leg.verdict == "stalled":
            return True
        # No verdict about this silence yet: wait for the probe a while, not forever.
        return leg.task is None or quiet >= 2.0 * self.watchdog_s

    def _room(self) -> bool:
        budget = self.budget
        return budget.used + budget.in_flight < OPTIONAL_SHARE * budget.ceiling

    def _mark_silence(self, leg: Leg, now: float) -> None:
        silent_s = now - leg.mark_seen
        if silent_s >= max(MARK_SILENT_S, self.stale_after_s) and not leg.mark_silent:
            leg.mark_silent = True
            log.warning(
                "%s sent nothing for %.0f s (reported only: a mark stream's silence is not a "
                "trade stream's, and does not replace the connection)",
                leg.mark_stream,
                silent_s,
            )


def names(legs: list[Leg]) -> str:
    """The streams of ``legs`` in a sentence: ``a and b``, or ``a, b, c and 7 more``."""
    streams = [leg.stream for leg in legs]
    if len(streams) <= _NAMES_SHOWN:
        return " and ".join(streams)
    return f"{', '.join(streams[:_NAMES_SHOWN])} and {len(streams) - _NAMES_SHOWN} more"


def silence_sentence(
    silent: list[Leg], legs: list[Leg], watch: Watch, opened: float, now: float
) -> str:
    """What the watchdog found, naming the silent streams and their likely cause.

    Args:
        silent: The legs that tripped it.
        legs: Every leg of the connection.
        watch: The connection's watch.
        opened: When the connection opened, monotonic.
        now: Monotonic time.
    """
    # A leg that is merely less busy trips first when the whole connection stops: the others
    # count as silent too once they have been quiet long enough to show as stale.
    if all(now - leg.last_seen >= watch.stale_after_s for leg in legs):
        silent = list(legs)
    lasting = f"sent nothing for {watch.watchdog_s:g} s"
    if len(silent) == len(legs):
        return (
            f"{names(silent)} {lasting} while connected: the whole connection is silent, likely "
            "a stalled connection (a network problem, a proxy, or an exchange-side hang)"
        )
    leg = silent[0]
    flowing = names([other for other in legs if other not in silent])
    again = (
        f", silent on {leg.silent_sessions + 1} connections in a row" if leg.silent_sessions else ""
    )
    if leg.last_id is None:
        return (
            f"{names(silent)} {lasting} while {flowing} flowed{again}: likely a subscription the "
            "exchange acknowledged but never serves (a retired route such as /stream or /ws "
            "behind --url, an upper-case stream name, or a symbol this route does not carry)"
        )
    when = "on this connection" if leg.last_seen > opened else "since the last connection"
    return (
        f"{names(silent)} {lasting} while {flowing} flowed (it last traded {when}){again}: "
        "likely a stalled server stream, which Binance has been seen to do to one stream while "
        "others flow"
    )
