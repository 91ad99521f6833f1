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
        self,
        snapshot: Snapshot,
        *,
        paused: bool,
        stopped: str | None,
        undelivered: int = 0,
        unrecorded: int = 0,
        offline_hint: bool = False,
    ) -> None:
        """Show the feed's state and counters, as many whole ones as fit.

        What matters most stays when room is short (the state, why a connection failed, the
        warm start's progress, gaps and late trades); the rest is left out whole, never cut
        mid-word.

        Args:
            snapshot: What to show.
            paused: The display is frozen.
            stopped: Why the feed stopped, if it did.
            undelivered: Alerts the sinks gave up on; shown up front when there are any.
            unrecorded: Trades ``--record`` holds because the disk refuses them; shown up front.
            offline_hint: Say that ``--demo`` works offline while the feed cannot connect.
        """
        feed = snapshot.feed
        mark, tone = state_mark(feed.state)
        # Each part: its alternatives, longest first, and its rank (0 is kept first).
        parts: list[tuple[int, list[Content]]] = []

        def add(rank: int, *forms: str | Content) -> None:
            parts.append((rank, [Content(f) if isinstance(f, str) else f for f in forms]))

        if paused:
            add(0, Content.styled("display paused (p)", "bold $warning"))
        if stopped:
            add(0, Content.assemble(("■", "$error"), " ", (f"feed stopped: {stopped}", "$error")))
        elif snapshot.finished:
            add(0, Content.assemble(("■", "$accent"), " replay finished"))
        elif feed.state == "reconnecting":
            retry = ""
            if feed.next_try_at is not None:
                wait = max(0.0, feed.next_try_at - self._monotonic())
                retry = f", next try in {wait:.0f} s"
            attempt = f"attempt {feed.attempt}{retry}"
            if feed.detail:
                add(0, Content.assemble((mark, tone), " ", (feed.detail, "$warning")))
                add(1, attempt)
            else:
                add(
                    0,
                    Content.assemble((mark, tone), " ", (f"reconnecting ({attempt})", "$warning")),
                )
            if offline_hint and not feed.messages:  # never connected: maybe no network at all
                add(2, Content.styled("--demo works offline", "italic"))
        else:
            add(0, Content.assemble((mark, tone), " ", feed.state))
        if undelivered:
            add(1, Content.styled(f"alerts: {undelivered:,} undelivered", "$error"))
        if unrecorded:
            add(
                1,
                Content.styled(f"record: {unrecorded:,} trades waiting for the disk", "$error"),
                Content.styled(f"{unrecorded:,} unrecorded", "$error"),
            )
        history = snapshot.history
        if history.state == "loading":
            add(1, f"history {history.done}/{history.total} requests", "history…")
        elif history.state == "failed":
            add(3, f"history failed: {history.detail}", "history failed")
        add(5, f"{formatting.count(snapshot.messages_per_second)} msg/s")
        add(4, f"latency {formatting.latency(feed.latency_ms)}")
        counted = 2 if feed.messages or feed.gaps or feed.late else 3  # zeros until data flows
        add(counted, f"gaps {feed.gaps:,}")
        add(counted, f"late {feed.late:,}")
        add(4, f"bars {snapshot.bar_count:,}")
        add(2 if feed.reconnects else 5, f"reconnects {feed.reconnects:,}")
        if feed.malformed:
            add(3, f"malformed {feed.malformed:,}")
        if feed.detail and not stopped and feed.state != "reconnecting":
            add(6, feed.detail)
        self.set(_fit(parts, self.content_size.width or None))


SEPARATOR = " · "


def _fit(parts: list[tuple[int, list[Content]]], width: int | None) -> Content:
    """The parts that fit in ``width`` cells, by rank (a part's shorter form if need be), in
    their own order."""
    chosen: dict[int, Content] = {}
    used = 0
    for index in sorted(range(len(parts)), key=lambda i: parts[i][0]):
        rank, forms = parts[index]
        gap = len(SEPARATOR) if chosen else 0
        for form in forms:
            if width is None or rank == 0 or used + gap + form.cell_length <= width:
                chosen[index] = form
                used += gap + form.cell_length
                break
    shown = [chosen[i] for i in sorted(chosen)]
    out = Content("")
    for n, part in enumerate(shown):
        out = out + (SEPARATOR if n else "") + part
    return out
