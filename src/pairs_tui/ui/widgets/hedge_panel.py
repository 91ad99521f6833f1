"""The hedge ratio: OLS beta with its standard error and R², Kalman beta, half-life, correlation;
and with carry on, what holding the spread costs in funding."""

from __future__ import annotations

from textual.content import Content

from pairs_tui.analytics import PairStats
from pairs_tui.snapshot import Carry
from pairs_tui.ui import formatting
from pairs_tui.ui.view import WarmUp
from pairs_tui.ui.widgets.text_panel import TextPanel

Parts = list[str | Content | tuple[str, str]]


class HedgePanel(TextPanel):
    """Six lines under the heading ``hedge ratio``, on the window in the header::

    OLS β     0.8123 ± 0.0042
    R²        0.93
    Kalman β  0.8097
    half-life 41 bars (41 s)
    corr      0.87 of log returns

    With carry on (a live feed), R² joins the β line and three lines follow::

    carry     -3.25 bp/day long spread
    A +1.00 bp/8h  in 3h12m  prem +0.80 bp
    B -0.50 bp/4h  in 12m05s  prem -0.20 bp
    """

    DEFAULT_CSS = """
    HedgePanel {
        width: 44;
        height: 100%;
        padding: 0 1;
        border-left: vkey $panel-lighten-2;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._stats: PairStats | None = None
        self._warm: WarmUp | None = None
        self._bar_seconds = 1
        self._carry: Carry | None = None
        self._now_ms = 0.0

    def show(self, stats: PairStats | None, warm: WarmUp, *, bar_seconds: int) -> None:
        """Show the latest bar's statistics, or how many bars they still need."""
        self._stats, self._warm, self._bar_seconds = stats, warm, bar_seconds
        self._draw()

    def show_carry(self, carry: Carry | None, now_ms: float) -> None:
        """Show each leg's funding and the spread's carry at ``now_ms`` (None: carry is off)."""
        self._carry, self._now_ms = carry, now_ms
        self._draw()

    def _draw(self) -> None:
        stats, warm, carry = self._stats, self._warm, self._carry
        width = self.content_size.width or 42
        lines: Parts = [("hedge ratio", "bold")]
        if stats is None or stats.beta is None:
            waiting = warm.message(short=True) if warm is not None else ""
            lines += ["\n", (waiting, "italic")]
        else:
            lines += _stats_lines(
                stats, self._bar_seconds, r2_inline=carry is not None, width=width
            )
        if carry is not None:
            for line in carry_lines(carry, self._now_ms, width):
                lines += ["\n", line]
        self.set(Content.assemble(*lines))


def _stats_lines(stats: PairStats, bar_seconds: int, *, r2_inline: bool, width: int) -> Parts:
    half = stats.half_life
    half_text = (
        formatting.DASH
        if half is None or not formatting.known(half)
        else f"{half:,.0f} bars ({formatting.duration(half * bar_seconds)})"
    )
    r2 = formatting.number(stats.r2, 2)
    beta, se = formatting.number(stats.beta), formatting.number(stats.beta_se)
    ols: Parts = ["OLS β     ", (beta, "bold"), f" ± {se}"]
    if r2_inline:
        ols.append(f"  R² {r2}")
        if len(f"OLS β     {beta} ± {se}  R² {r2}") > width:
            ols = ["OLS β ", (beta, "bold"), f" ± {se} R² {r2}"]
    else:
        ols.append(f"\nR²        {r2}")
    return [
        "\n",
        *ols,
        "\n",
        "Kalman β  ",
        (formatting.number(stats.kalman_beta), "bold"),
        "\n",
        f"half-life {half_text}\n",
        f"corr      {formatting.number(stats.corr, 2)} of log returns",
    ]


def countdown(ms: float) -> str:
    """``3h12m``, ``12m05s``, ``45s``: how long until a funding time."""
    seconds = max(0, int(ms // 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _bp(value: float | None, decimals: int = 2) -> str:
    return formatting.number(None if value is None else value * 1e4, decimals, signed=True)


def carry_lines(carry: Carry, now_ms: float, width: int) -> list[Content]:
    """The carry of the long spread, then each leg's funding rate (bp per funding interval),
    the time to its next funding and its mark-index premium, in forms that fit ``width``."""
    value = carry.carry_bp_day
    if carry.funding_a is None and carry.funding_b is None:
        head = Content.assemble("carry     ", ("no mark price yet", "italic"))
        return [head]
    amount = (formatting.number(value, 2, signed=True), "bold")
    heads = [
        Content.assemble("carry     ", amount, " bp/day long spread"),
        Content.assemble("carry ", amount, " bp/day (long)"),
    ]
    lines = [next((h for h in heads if h.cell_length <= width), heads[-1])]
    legs = (
        ("A", carry.funding_a, carry.interval_a_h, carry.next_funding_a, carry.premium_a),
        ("B", carry.funding_b, carry.interval_b_h, carry.next_funding_b, carry.premium_b),
    )
    for name, rate, hours, next_ms, premium in legs:
        when = formatting.DASH if next_ms is None else countdown(next_ms - now_ms)
        every = f"/{hours:g}h"
        forms = [
            Content.assemble(
                (name, "bold"),
                f" {_bp(rate)} bp{every}  in {when}  prem {_bp(premium)} bp",
            ),
            Content.assemble((name, "bold"), f" {_bp(rate)}bp{every} {when} prem {_bp(premium)}"),
            Content.assemble((name, "bold"), f" {_bp(rate)}bp {when} p{_bp(premium, 1)}"),
        ]
        lines.append(next((f for f in forms if f.cell_length <= width), forms[-1]))
    return lines
