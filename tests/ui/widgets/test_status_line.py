"""The status line in an app of its own: the feed's state and every counter."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pairs_tui.feed.status import FeedStatus
from pairs_tui.ui.widgets.status_line import StatusLine

from .snapshots import snapshot

COUNTERS = "1,203 msg/s · latency 38 ms · gaps 0 · late 0 · bars 344 · reconnects 0"


class StatusApp(App[None]):
    """One status line on a clock stopped at 100 s."""

    def compose(self) -> ComposeResult:
        yield StatusLine(monotonic=lambda: 100.0)


async def shown(**changes: object) -> str:
    """What the status line reads after showing a snapshot with ``changes``."""
    paused = bool(changes.pop("paused", False))
    stopped = changes.pop("stopped", None)
    assert stopped is None or isinstance(stopped, str)
    app = StatusApp()
    async with app.run_test(size=(160, 3)) as pilot:
        line = app.query_one(StatusLine)
        line.show(snapshot(**changes), paused=paused, stopped=stopped)
        await pilot.pause()
        return str(line.render())


async def test_a_live_feed_shows_its_state_and_every_counter() -> None:
    assert await shown() == f"● live · {COUNTERS}"


async def test_reconnecting_says_which_attempt_and_when_the_next_one_is() -> None:
    feed = FeedStatus(state="reconnecting", attempt=3, next_try_at=104.6, latency_ms=38.0)
    text = await shown(feed=feed)
    assert text == f"◌ reconnecting (attempt 3, next try in 5 s) · {COUNTERS}"


async def test_a_stopped_feed_says_why_instead_of_the_last_event() -> None:
    feed = FeedStatus(state="live", latency_ms=38.0, detail="reconnected after 2 s")
    text = await shown(feed=feed, stopped="ConnectionError: refused")
    assert text == f"■ feed stopped: ConnectionError: refused · {COUNTERS}"


async def test_the_last_event_and_malformed_frames_are_appended() -> None:
    feed = FeedStatus(state="live", latency_ms=38.0, malformed=2, detail="stream stalled")
    text = await shown(feed=feed)
    assert text == f"● live · {COUNTERS} · malformed 2 · stream stalled"


async def test_a_finished_replay_and_a_paused_display_say_so_first() -> None:
    text = await shown(finished=True, paused=True)
    assert text == f"display paused (p) · ■ replay finished · {COUNTERS}"


async def shown_at(width: int, **changes: object) -> str:
    """What the status line reads at ``width`` columns (``offline_hint`` as the app passes)."""
    hint = bool(changes.pop("offline_hint", False))
    unrecorded = int(str(changes.pop("unrecorded", 0)))
    app = StatusApp()
    async with app.run_test(size=(width, 3)) as pilot:
        line = app.query_one(StatusLine)
        line.show(
            snapshot(**changes),
            paused=False,
            stopped=None,
            offline_hint=hint,
            unrecorded=unrecorded,
        )
        await pilot.pause()
        return str(line.render())


NO_NETWORK = FeedStatus(
    state="reconnecting", attempt=4, next_try_at=107.2, reconnects=3, detail="no network (DNS)"
)


async def test_no_network_says_the_cause_one_countdown_and_the_demo_at_80_columns() -> None:
    text = await shown_at(80, feed=NO_NETWORK, offline_hint=True, messages_per_second=0.0)
    assert text.startswith("◌ no network (DNS) · attempt 4, next try in 7 s")
    assert "--demo works offline" in text
    assert text.count(" s") == 1 and "reconnecting in" not in text  # one countdown
    assert len(text) <= 78


async def test_the_status_line_leaves_out_whole_parts_at_80_columns_never_half_words() -> None:
    feed = FeedStatus(
        state="live",
        latency_ms=38.0,
        reconnects=12,
        gaps=3,
        late=1,
        malformed=2,
        detail="backfilled 18 ETHUSDT trades over REST",
    )
    text = await shown_at(80, feed=feed, bar_count=123_456)
    assert len(text) <= 78 and not text.endswith("…")
    parts = text.split(" · ")
    for whole in ("● live", "gaps 3", "late 1", "malformed 2"):
        assert whole in parts, (whole, text)
    wide = (await shown_at(200, feed=feed, bar_count=123_456)).split(" · ")
    assert set(parts) <= set(wide)  # only whole parts, each as the wide line has it


async def test_the_warm_start_shows_its_progress() -> None:
    from pairs_tui.snapshot import HistoryProgress

    loading = HistoryProgress("loading", 3, 6)
    assert "● live · history 3/6 requests · " in await shown_at(80, history=loading)
    failed = HistoryProgress("failed", 2, 6, "HTTP 418: banned until 12:00")
    assert "history failed: HTTP 418: banned until 12:00" in await shown_at(160, history=failed)
    done = HistoryProgress("done", 6, 6, "1,806 bars")
    assert "history" not in await shown_at(160, history=done)


async def test_trades_waiting_for_a_refusing_disk_are_said_up_front() -> None:
    feed = FeedStatus(state="live", latency_ms=38.0, reconnects=12, gaps=3, late=1)
    wide = await shown_at(200, feed=feed, unrecorded=1_234)
    assert "record: 1,234 trades waiting for the disk" in wide.split(" · ")
    narrow = await shown_at(60, feed=feed, unrecorded=1_234)
    assert "1,234 unrecorded" in narrow.split(" · ") or "record: 1,234" in narrow
    assert "record" not in await shown_at(200, feed=feed)
