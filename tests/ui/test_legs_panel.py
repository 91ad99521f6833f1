"""``v``: each leg's statistics over the window and its volume as bars under its price."""

from __future__ import annotations

import numpy as np
import pytest

from pairs_tui.analytics import PairStats
from pairs_tui.ui import formatting, plotting, view
from pairs_tui.ui.widgets.legs_panel import LegsPanel, stats_line

from .conftest import AppFactory, settle


def text_of(app_panel: LegsPanel) -> list[str]:
    from pairs_tui.ui.widgets.text_panel import TextPanel

    return [str(p.render()) for p in app_panel.query(TextPanel)]


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
async def test_v_shows_each_legs_statistics_and_volume_and_hides_them(
    app_for: AppFactory, size: tuple[int, int]
) -> None:
    app = app_for()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        panel = app.monitor.query_one(LegsPanel)
        assert not panel.display or not panel.shown
        await pilot.press("v")
        await pilot.pause()
        assert panel.shown and panel.region.height == 2
        stats = view.latest_stats(app.snapshot())
        assert stats is not None and stats.mean_a is not None and stats.vol_b is not None
        volume_a, stats_a, volume_b, stats_b = text_of(panel)
        assert formatting.price(stats.mean_a) in stats_a
        assert formatting.price(stats.mean_b) in stats_b
        assert f"{stats.vol_b * 100:.1f}%" in stats_b
        assert volume_a.startswith("volume ") and volume_b.startswith("volume ")
        half = panel.leg_a.content_size.width
        for line in (volume_a, stats_a, volume_b, stats_b):
            assert len(line) <= half, line  # nothing cut: the form that fits is chosen
        # The volume bars end at the latest bar: the last cell is the last bar's volume.
        volumes = view.columns(app.snapshot(), ("volume_a",), view.VOLUME_SPAN)["volume_a"]
        bars = plotting.volume_bars(volumes, half - len("volume "))
        assert volume_a == "volume " + bars
        await pilot.press("v")
        await pilot.pause()
        assert not panel.shown and panel.region.height == 0


def test_the_stats_line_shortens_to_fit_and_never_prints_none() -> None:
    stats = PairStats(mean_a=61812.4, std_a=12.3125, return_a=-0.000123, vol_a=0.482)
    wide = stats_line(stats, "a", 80).plain
    assert wide == "mean 61,812.40  sd 12.3  last \u22121.23 bp  vol 48.2%/yr"
    narrow = stats_line(stats, "a", 38).plain
    assert len(narrow) <= 38 and "61,812.40" in narrow
    empty = stats_line(None, "b", 80).plain
    assert "None" not in empty and formatting.DASH in empty


def test_volume_bars_start_at_zero() -> None:
    assert plotting.volume_bars(np.array([0.0, 1.0, 8.0, np.nan]), 10) == " ▁█ "
