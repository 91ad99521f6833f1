"""The header bar in an app of its own: the pair and the model, as much as fits; the feed."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pairs_tui.feed.status import FeedStatus
from pairs_tui.ui.widgets.header_bar import HeaderBar
from pairs_tui.ui.widgets.text_panel import TextPanel

from .snapshots import snapshot


class HeaderApp(App[None]):
    """One header bar."""

    def compose(self) -> ComposeResult:
        yield HeaderBar()


async def shown(width: int, **changes: object) -> tuple[str, str]:
    """The header's title and feed state after showing a snapshot, at ``width`` cells."""
    paused = bool(changes.pop("paused", False))
    stopped = changes.pop("stopped", None)
    assert stopped is None or isinstance(stopped, str)
    app = HeaderApp()
    async with app.run_test(size=(width, 3)) as pilot:
        header = app.query_one(HeaderBar)
        header.show(snapshot(**changes), paused=paused, stopped=stopped)
        await pilot.pause()
        title = str(header.query_one("#title", TextPanel).render())
        feed = str(header.query_one("#feed", TextPanel).render())
    return title, feed


async def test_a_wide_header_names_the_pair_timeframe_window_and_model() -> None:
    title, feed = await shown(120)
    assert title == "pairs-tui  BTCUSDT / ETHUSDT   1s   window 300   OLS on log prices"
    assert feed == "● live  38 ms"


async def test_a_narrow_header_keeps_the_pair_and_drops_words() -> None:
    assert (await shown(70))[0] == "BTCUSDT / ETHUSDT  1s  window 300  OLS, log"
    assert (await shown(50))[0] == "BTCUSDT/ETHUSDT 1s w 300 OLS, log"
    assert (await shown(40))[0] == "BTCUSDT/ETHUSDT 1s w 300"


async def test_a_narrow_header_tells_ols_from_ols_through_the_origin() -> None:
    assert (await shown(70, hedge="ols0"))[
        0
    ] == "BTCUSDT / ETHUSDT  1s  window 300  OLS no int., log"


async def test_the_model_names_the_hedge_method() -> None:
    title, _ = await shown(120, hedge="kalman", price="raw", window=1000)
    assert title.endswith("window 1,000   Kalman on raw prices")


async def test_pause_stop_and_the_end_of_a_replay_show_on_the_right() -> None:
    assert (await shown(120, paused=True))[1] == "PAUSED  ● live  38 ms"
    assert (await shown(120, stopped="OSError: gone"))[1] == "■ stopped"
    assert (await shown(120, finished=True))[1] == "■ replay finished"
    reconnecting = FeedStatus(state="reconnecting", latency_ms=None)
    assert (await shown(120, feed=reconnecting))[1] == "◌ reconnecting"
