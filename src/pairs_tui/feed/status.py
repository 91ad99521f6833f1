"""What the feed says about itself: its state and its counters since the start."""

from __future__ import annotations

from typing import Literal

import msgspec

FeedState = Literal["connecting", "live", "stale", "reconnecting", "replay", "done", "stopped"]


class FeedStatus(msgspec.Struct, frozen=True):
    """An immutable picture of the feed, published with every snapshot."""

    state: FeedState = "connecting"
    """Connection state as the status line shows it."""
    reconnects: int = 0
    """Reconnections since the start."""
    gaps: int = 0
    """Trades known to be missing (aggregate-trade id gaps not recovered by backfill)."""
    late: int = 0
    """Trades that arrived after their bar was final."""
    malformed: int = 0
    """Frames that could not be decoded."""
    attempt: int = 0
    """Current reconnection attempt, 0 while connected."""
    next_try_at: float | None = None
    """Monotonic time of the next connection attempt, while reconnecting."""
    latency_ms: float | None = None
    """Exchange-to-receive latency of the latest trade, ms (trade time against exchange clock)."""
    messages: int = 0
    """Trade messages received since the start."""
    detail: str = ""
    """A short human sentence about the last event (a reconnect reason, a stalled stream)."""
