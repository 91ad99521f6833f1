"""Reconnect backoff: capped exponential with full jitter.

Full jitter spreads many clients' retries after a shared outage; the cap bounds the wait. The
feed resets it only after a connection has delivered data for a while, so a server that accepts
and drops at once cannot cause a fast loop.
"""

from __future__ import annotations

import random


class Backoff:
    """Capped exponential backoff with full jitter: delay ~ U(0, min(cap, initial·2^attempt)).

    Full jitter spreads many clients' retries after a shared outage; the cap bounds the wait.

    Args:
        initial_s: Upper bound of the first delay.
        max_s: Cap on the upper bound.
        rng: Source of randomness (seed it in tests).
    """

    def __init__(self, initial_s: float, max_s: float, rng: random.Random) -> None:
        self.initial_s = initial_s
        """Upper bound of the first delay, seconds."""
        self.max_s = max_s
        """Cap on the upper bound, seconds."""
        self.attempt = 0
        """Failed attempts since the last reset."""
        self._rng = rng

    def ceiling(self) -> float:
        """The upper bound of the next delay, seconds."""
        return min(self.max_s, self.initial_s * 2.0 ** min(self.attempt, 62))

    def next_delay(self) -> float:
        """Count one more failed attempt and draw its delay.

        Returns:
            Seconds to wait before the next attempt.
        """
        delay = self._rng.uniform(0.0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start over; called once a connection has delivered data."""
        self.attempt = 0
