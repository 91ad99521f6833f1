"""The status line: the feed's state and every counter a trader checks before trusting a number."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.content import Content

from pairs_tui.snapshot import Snapshot
from pairs_tui.ui import formatting
from pairs_tui.ui.widgets.header_bar import state_mark
from pairs_tui.ui.widgets.text_panel import TextPanel


class StatusLine(TextPanel):
    """``● live · 1,203 msg/s · latency 38 ms · gaps 0 · late 0 · bars 344 · reconnects 0``.

    Args:
        monotonic: The clock the feed's ``next_try_at`` is on (injectable for tests).
    """

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        id: str | None = None,
    ) -> None:
        super().__init__("", id=id)
        self._monotonic = monotonic

    def show(
        self, snapshot: Snapshot, *, paused: bool, stopped: str | None, undelivered: int = 0
    ) -> None:
        """Show the feed's state and counters.

        Args:
            snapshot: What to show.
            paused: The display is frozen.
            stopped: Why the feed stopped, if it did.
            undelivered: Alerts the sinks gave up on; shown up front when there are any.
        """
        feed = snapshot.feed
        mark, tone = state_mark(feed.state)
        head: list[str | tuple[str, str]]
        if stopped:
            head = [("■", "$error"), " ", (f"feed stopped: {stopped}", "$error")]
        elif snapshot.finished:
            head = [("■", "$accent"), " replay finished"]
        elif feed.state == "reconnecting":
            retry = ""
            if feed.next_try_at is not None:
                retry = f", next try in {max(0.0, feed.next_try_at - self._monotonic()):.0f} s"
            words = f"reconnecting (attempt {feed.attempt}{retry})"
            head = [(mark, tone), " ", (words, "$warning")]
        else:
            head = [(mark, tone), " ", feed.state]
        if paused:
            head = [("display paused (p)", "bold $warning"), " · ", *head]
        if undelivered:
            head = [*head, " · ", (f"alerts: {undelivered:,} undelivered", "$error")]
        parts = [
            f"{formatting.count(snapshot.messages_per_second)} msg/s",
            f"latency {formatting.latency(feed.latency_ms)}",
            f"gaps {feed.gaps:,}",
            f"late {feed.late:,}",
            f"bars {snapshot.bar_count:,}",
            f"reconnects {feed.reconnects:,}",
        ]
        if feed.malformed:
            parts.append(f"malformed {feed.malformed:,}")
        tail = " · " + " · ".join(parts)
        if feed.detail and not stopped:
            tail += f" · {feed.detail}"
        self.set(Content.assemble(*head, tail))
