"""Carry in the hedge panel: each leg's funding rate, the time to its next funding, its
mark-index premium, and what the long spread earns or pays a day."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from pairs_tui.analytics import PairStats
from pairs_tui.cli import parse_options
from pairs_tui.snapshot import Carry
from pairs_tui.ui import formatting
from pairs_tui.ui.run import make_app
from pairs_tui.ui.view import WarmUp
from pairs_tui.ui.widgets.hedge_panel import HedgePanel, countdown

from .test_warm_demo import until

MINUS = formatting.MINUS

NOW = 1_723_161_600_000 - 3 * 3_600_000 - 12 * 60_000  # 3h12m before a funding time
CARRY = Carry(
    funding_a=0.0001,
    funding_b=-0.00005,
    next_funding_ts=NOW + 725_000,
    carry_bp_day=-3.254,
    interval_a_h=8.0,
    interval_b_h=4.0,
    premium_a=0.00008,
    premium_b=-0.00002,
    next_funding_a=NOW + 11_520_000,
    next_funding_b=NOW + 725_000,
)
STATS = PairStats(n=300, beta=0.8123, beta_se=0.0042, r2=0.93, kalman_beta=0.8097, corr=0.87)


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield HedgePanel()


async def panel_text(width: int, carry: Carry | None) -> list[str]:
    app = PanelApp()
    async with app.run_test(size=(width, 12)) as pilot:
        panel = app.query_one(HedgePanel)
        panel.styles.width = width
        await pilot.pause()
        panel.show(STATS, WarmUp(0, 0, first_bar=True), bar_seconds=1)
        panel.show_carry(carry, NOW)
        await pilot.pause()
        return str(panel.render()).splitlines()


@pytest.mark.parametrize("width", [36, 44])
async def test_the_hedge_panel_shows_each_legs_funding_and_the_carry(width: int) -> None:
    lines = await panel_text(width, CARRY)
    assert len(lines) == 8  # fits the middle row of an 80x24 screen
    for line in lines:
        assert len(line) <= width - 3, line  # padding and border: nothing wraps
    carry, leg_a, leg_b = lines[-3:]
    assert "+1.00" in leg_a and "/8h" in leg_a and "3h12m" in leg_a and "+0.80" in leg_a
    assert (
        f"{MINUS}0.50" in leg_b and "/4h" in leg_b and "12m05s" in leg_b and f"{MINUS}0.20" in leg_b
    )
    assert f"{MINUS}3.25 bp/day" in carry
    assert "R² 0.93" in lines[1]


async def test_without_carry_the_panel_is_as_before() -> None:
    lines = await panel_text(44, None)
    assert lines[1:3] == ["OLS β     0.8123 ± 0.0042", "R²        0.93"]
    assert not any("carry" in line for line in lines)


def test_countdown() -> None:
    assert [countdown(ms) for ms in (11_520_000, 725_000, 45_000, -5)] == [
        "3h12m",
        "12m05s",
        "45s",
        "0s",
    ]


async def test_the_demo_shows_the_funding_its_exchange_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    app = make_app(parse_options(["--demo"]))
    async with app.run_test(size=(100, 30)) as pilot:

        def funded() -> bool:
            carry = app.snapshot().carry
            return carry is not None and None not in (carry.funding_a, carry.carry_bp_day)

        await until(pilot, funded)
        app.refresh_now()
        await pilot.pause()
        carry = app.snapshot().carry
        assert carry is not None and carry.funding_a is not None
        text = str(app.monitor.hedge.render())
        assert formatting.number(carry.funding_a * 1e4, 2, signed=True) in text
        assert "bp/day" in text
