"""The quote panel in an app of its own: a leg's last price, its change, its sparkline."""

from __future__ import annotations

import numpy as np
from textual.app import App, ComposeResult
from textual.content import Content

from pairs_tui.snapshot import LegQuote
from pairs_tui.ui.widgets.quote_panel import QuotePanel
from pairs_tui.ui.widgets.text_panel import TextPanel


class QuoteApp(App[None]):
    """One quote panel for BTCUSDT."""

    def compose(self) -> ComposeResult:
        yield QuotePanel("BTCUSDT", id="leg-a")


def price_of(panel: QuotePanel) -> Content:
    rendered = panel.query_one(".price", TextPanel).render()
    assert isinstance(rendered, Content)
    return rendered


async def test_before_the_first_trade_it_names_the_leg_and_waits() -> None:
    app = QuoteApp()
    async with app.run_test(size=(60, 3)) as pilot:
        panel = app.query_one(QuotePanel)
        panel.show(None)
        await pilot.pause()
        assert price_of(panel).plain == "BTCUSDT  waiting for trades…"


async def test_a_trade_shows_the_price_and_its_change_since_the_start_in_colour() -> None:
    app = QuoteApp()
    async with app.run_test(size=(60, 3)) as pilot:
        panel = app.query_one(QuotePanel)
        panel.show(LegQuote("BTCUSDT", 61_812.4, 1_723_161_300_000, 61_738.3))
        await pilot.pause()
        up = price_of(panel)
        panel.show(LegQuote("BTCUSDT", 61_700.0, 1_723_161_301_000, 61_738.3))
        await pilot.pause()
        down = price_of(panel)
    assert up.plain == "BTCUSDT  61,812.40  +0.12%"
    assert down.plain == "BTCUSDT  61,700.00  -0.06%"

    def tone(content: Content) -> str:
        change_at = content.plain.rindex("  ") + 2
        return next(str(s.style) for s in content.spans if s.start <= change_at < s.end)

    assert tone(up) == "$success" and tone(down) == "$error"


async def test_the_sparkline_fills_its_width_with_one_block_per_cell() -> None:
    app = QuoteApp()
    async with app.run_test(size=(60, 3)) as pilot:
        panel = app.query_one(QuotePanel)
        spark = panel.query_one(".spark", TextPanel)
        panel.show_closes(np.linspace(100.0, 110.0, 200))
        await pilot.pause()
        text = str(spark.render())
        assert len(text) == spark.content_size.width > 0
        assert set(text) <= set("▁▂▃▄▅▆▇█") and text[0] == "▁" and text[-1] == "█"
