"""The plot text, its axes and the sparklines, without Textual."""

from __future__ import annotations

import numpy as np

from pairs_tui.ui import plotting

T0 = 1723161256000


def series(n: int = 300, **kwargs: object) -> plotting.Series:
    ts = np.arange(T0, T0 + n * 1000, 1000)
    return plotting.Series(ts, 2.5 * np.sin(np.arange(n) / 20.0), **kwargs)  # type: ignore[arg-type]


def test_plot_is_plain_text_of_the_asked_size() -> None:
    plot = plotting.render(series(bands=(2.0, -2.0)), 80, 10)
    assert plot is not None
    assert len(plot.lines) == 10
    assert all(len(line) <= 80 for line in plot.lines)
    assert "\x1b" not in plot.text
    assert plot.label_width == 2


def test_bands_zero_line_and_time_labels_are_drawn() -> None:
    text = plotting.render(series(bands=(2.0, -2.0)), 100, 12).text  # type: ignore[union-attr]
    assert plotting.BAND * 5 in text and plotting.DOTTED not in text
    assert plotting.ZERO * 5 in text
    assert "23:55:00" in text and "23:58:00" in text
    assert " 2" in text and "\u22122" in text


def test_minute_bars_get_minute_labels() -> None:
    ts = np.arange(T0, T0 + 300 * 60_000, 60_000)
    plot = plotting.render(
        plotting.Series(ts, np.cos(np.arange(300) / 9), seconds_labels=False), 100, 10
    )
    text = plot.text  # type: ignore[union-attr]
    assert "00:00" in text and "00:00:00" not in text


def test_nothing_to_draw_gives_empty_text() -> None:
    values = np.full(300, np.nan)
    empty = plotting.Series(np.arange(T0, T0 + 300_000, 1000), values)
    assert not empty.has_data
    assert plotting.render(empty, 80, 10) is None


def test_downsample_keeps_extremes_and_order() -> None:
    x = np.arange(10_000, dtype=float)
    y = np.sin(x / 50)
    y[4321] = 9.0
    dx, dy = plotting.downsample(x, y, 100)
    assert len(dx) <= 200
    assert 9.0 in dy
    assert np.all(np.diff(dx) > 0)


def test_nice_ticks_are_round() -> None:
    assert plotting.nice_ticks(-2.6, 2.6, 3) == [-2.0, 0.0, 2.0]
    assert plotting.nice_ticks(0.0, 0.0, 3) == []


def test_time_ticks_land_on_round_times() -> None:
    ticks = plotting.time_ticks(T0, T0 + 300_000, 5)
    assert all(t % 60_000 == 0 for t in ticks)
    assert len(ticks) <= 5


def test_sparkline_is_one_block_per_bar_scaled_to_range() -> None:
    assert plotting.sparkline(np.array([1.0, 2.0, 3.0]), 10) == "▁▅█"
    assert plotting.sparkline(np.array([5.0, 5.0]), 10) == "▁▁"
    assert len(plotting.sparkline(np.arange(100.0), 12)) == 12
    assert plotting.sparkline(np.array([]), 10) == ""
