"""The main screen: every panel of the pair, drawn from one snapshot at a time."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets._footer import FooterKey

from pairs_tui.analytics import PairStats
from pairs_tui.snapshot import AlertEvent, Snapshot
from pairs_tui.ui import formatting, keys, plotting, view
from pairs_tui.ui.jobs import WindowTests
from pairs_tui.ui.widgets.alert_banner import AlertBanner
from pairs_tui.ui.widgets.alert_list import AlertList
from pairs_tui.ui.widgets.desk_footer import DeskFooter
from pairs_tui.ui.widgets.header_bar import HeaderBar
from pairs_tui.ui.widgets.hedge_panel import HedgePanel
from pairs_tui.ui.widgets.legs_panel import LegsPanel
from pairs_tui.ui.widgets.plot_panel import PlotPanel
from pairs_tui.ui.widgets.quote_panel import QuotePanel
from pairs_tui.ui.widgets.stationarity_panel import StationarityPanel
from pairs_tui.ui.widgets.status_line import StatusLine

Breakpoints = list[tuple[int, str]] | None


class MonitorFooter(DeskFooter):
    """The footer, whose less used keys give way below 100 columns (see
    :data:`~pairs_tui.ui.keys.NARROW_HIDDEN`)."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action in keys.NARROW_HIDDEN:
                widget.add_class("-optional")
            yield widget


class MonitorScreen(Screen[None]):
    """The pair at a glance: prices, z-score and spread plots, hedge ratio, tests, alerts.

    The screen never reads the feed: the app hands it a snapshot on its timers, numbers
    through :meth:`show_numbers` and plots through :meth:`show_plots`.

    Args:
        symbols: The pair, target leg first.
        entry_z: Where the entry bands are drawn on the z-score plot.
    """

    BINDINGS = keys.MONITOR_BINDINGS

    # Annotated as Screen annotates them (not as ClassVar), so the override type-checks.
    HORIZONTAL_BREAKPOINTS: Breakpoints = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS: Breakpoints = [  # noqa: RUF012
        (0, "-short"),
        (30, "-medium"),
        (40, "-tall"),
    ]

    DEFAULT_CSS = """
    MonitorScreen {
        layout: vertical;
        & #quotes { height: 1; }
        & #zscore { height: 1fr; min-height: 5; }
        & #middle { height: 8; }
        & AlertList { height: 1; }
        &.-medium #middle { height: 9; }
        &.-medium AlertList { display: block; height: 2; }
        &.-tall #middle { height: 12; }
        &.-tall AlertList { display: block; height: 5; }
        &.-narrow HedgePanel { width: 36; }
        &.-narrow FooterKey.-optional { display: none; }
    }
    """

    def __init__(self, symbols: tuple[str, str], *, entry_z: float) -> None:
        super().__init__()
        self.symbols = symbols
        self.entry_z = entry_z
        """Where the entry bands are drawn."""
        self._newest_alert: AlertEvent | None = None
        # Built here, not in compose, so a snapshot that arrives before they are mounted
        # still has somewhere to go.
        self.header = HeaderBar()
        self.leg_a = QuotePanel(symbols[0], id="leg-a")
        self.leg_b = QuotePanel(symbols[1], id="leg-b")
        self.legs = LegsPanel(id="legs")
        self.zscore = PlotPanel("z-score", id="zscore")
        self.spread = PlotPanel("spread", id="spread")
        self.hedge = HedgePanel()
        self.stationarity = StationarityPanel()
        self.banner = AlertBanner()
        self.alert_list = AlertList()
        self.status = StatusLine()

    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal(id="quotes"):
            yield self.leg_a
            yield self.leg_b
        yield self.legs
        yield self.zscore
        with Horizontal(id="middle"):
            yield self.spread
            yield self.hedge
        yield self.stationarity
        yield self.banner
        yield self.alert_list
        yield self.status
        yield MonitorFooter()

    def toggle_legs(self) -> bool:
        """Show or hide each leg's statistics and volume; returns whether they are shown."""
        return self.legs.toggle()

    def show_pair(self, symbols: tuple[str, str]) -> None:
        """The monitor moved to another pair: what was said of the last one goes."""
        self.symbols = symbols
        self.leg_a.symbol, self.leg_b.symbol = symbols
        self._newest_alert = None
        self.stationarity.clear()
        self.banner.clear()

    # -- numbers, up to 10 times a second ----------------------------------------------------

    def show_quotes(self, snapshot: Snapshot) -> None:
        """Redraw both legs' last prices (every numbers tick)."""
        self.leg_a.show(snapshot.quotes[0])
        self.leg_b.show(snapshot.quotes[1])

    def show_carry(self, snapshot: Snapshot, now_ms: float) -> None:
        """Redraw each leg's funding, its countdown and the spread's carry (twice a second)."""
        self.hedge.show_carry(snapshot.carry, now_ms)

    def show_bar(self, snapshot: Snapshot) -> None:
        """Redraw what changes when a bar closes: statistics, sparklines, alerts."""
        closes = view.columns(snapshot, ("close_a", "close_b"), 200)
        self.leg_a.show_closes(closes["close_a"])
        self.leg_b.show_closes(closes["close_b"])
        stats = view.latest_stats(snapshot)
        warm = view.warm_up(snapshot)
        self.zscore.show_value(self._zscore_text(stats, warm))
        scale, unit = view.spread_scale(snapshot)
        spread = None if stats is None or stats.spread is None else stats.spread * scale
        self.spread.show_value(
            Content.assemble(
                (formatting.number(spread, 2 if unit else 4, signed=True), "bold"),
                f" {unit}" if unit and spread is not None else "",
            )
        )
        seconds = formatting.TIMEFRAME_SECONDS.get(snapshot.timeframe, 1)
        self.hedge.show(stats, warm, bar_seconds=seconds)
        if self.legs.shown:
            volumes = view.columns(snapshot, ("volume_a", "volume_b"), view.VOLUME_SPAN)
            self.legs.show(stats, volumes)
        self._show_alerts(snapshot)

    def _zscore_text(self, stats: PairStats | None, warm: view.WarmUp) -> Content:
        z = None if stats is None else stats.zscore
        if z is None:
            return Content.styled(formatting.DASH, "$text-muted")
        tone = "bold $warning" if abs(z) >= self.entry_z else "bold"
        return Content.assemble(
            (formatting.number(z, 2, signed=True), tone),
            (f"   entry ±{self.entry_z:g}", "$text-muted"),
        )

    def _show_alerts(self, snapshot: Snapshot) -> None:
        events = snapshot.alerts
        # The list holds the last alerts.keep events: once full its length stays put, so a new
        # alert is told by the newest event, not by the count.
        newest = events[-1] if events else None
        if newest is not None and newest is not self._newest_alert:
            self._newest_alert = newest
            when = f"{formatting.clock(view.alert_time(newest))}  "
            self.banner.alert(when + view.alert_text(newest))
            if self.app.is_headless is False and newest.bell:
                self.app.bell()
        self.alert_list.show(events)

    def show_error(self, text: str) -> None:
        """Flash a failure in the banner."""
        self.banner.alert(text, error=True)

    # -- plots, 2 to 4 times a second, only when a bar closed ---------------------------------

    def show_plots(self, snapshot: Snapshot) -> None:
        """Redraw the z-score and spread plots over the latest bars."""
        data = view.columns(snapshot, ("ts", "zscore", "spread"), view.plot_span(snapshot))
        seconds = formatting.TIMEFRAME_SECONDS.get(snapshot.timeframe, 1) < 60
        warm = view.warm_up(snapshot)
        scale, _ = view.spread_scale(snapshot)
        z = plotting.Series(
            data["ts"], data["zscore"], bands=(self.entry_z, -self.entry_z), seconds_labels=seconds
        )
        spread = plotting.Series(data["ts"], data["spread"] * scale, seconds_labels=seconds)
        self.zscore.show_plot(z, self._empty(warm, "the z-score", z))
        self.spread.show_plot(spread, self._empty(warm, "the spread", spread))

    @staticmethod
    def _empty(warm: view.WarmUp, what: str, series: plotting.Series) -> str:
        if not warm.warm:
            return warm.message(what)
        return f"no {what} on this window: a leg did not move"

    # -- the stationarity panel ----------------------------------------------------------------

    def stationarity_running(self, bars: int, timeframe: str) -> None:
        """The tests started."""
        self.stationarity.running(bars, timeframe)

    def stationarity_failed(self, why: str, *shorter: str) -> None:
        """The tests could not run (``shorter`` forms of why, for narrow screens)."""
        self.stationarity.failed(why, *shorter)

    def stationarity_done(self, result: WindowTests) -> None:
        """The tests finished."""
        self.stationarity.show(result)
