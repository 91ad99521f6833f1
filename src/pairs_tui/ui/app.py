"""The Textual app: runs the pipeline as a worker and draws its latest snapshot on timers.

The data path stays outside Textual. One asyncio worker runs ``open_source`` → pipeline; the
app reads ``pipeline.snapshot()`` on two timers — numbers at ``ui.refresh_hz`` (at most 10 Hz),
plots at ``ui.plot_hz`` and only when a bar has closed — inside ``batch_update()``. Slow work
(stationarity tests, backtests, exports: :mod:`pairs_tui.ui.jobs`) runs in thread workers that
return their result; one ``Worker.StateChanged`` handler shows it, or says what went wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path
from typing import ClassVar

from rich.console import Console
from textual import on
from textual.app import App, InvalidThemeError, SystemCommand
from textual.binding import BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from pairs_tui.alerts import AlertBook
from pairs_tui.backtest.session import SessionBacktest, export_backtest
from pairs_tui.config import Options, UsageError
from pairs_tui.config.checks import symbol_problem
from pairs_tui.export import ExportFormat, take_session, write_session
from pairs_tui.feed.source import TradeSource
from pairs_tui.launcher import Run, add_pair, alert_book, build_desk, drop_pair, open_source
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import TICK, TIMEFRAMES, HedgeMethod, PriceMode, Timeframe
from pairs_tui.sinks.delivery import AlertDelivery, build_delivery, check_delivered
from pairs_tui.snapshot import Snapshot
from pairs_tui.ui import jobs, keys, view
from pairs_tui.ui.commands import AlertCommands, PairCommands
from pairs_tui.ui.screens.backtest import BacktestScreen
from pairs_tui.ui.screens.help import HelpScreen
from pairs_tui.ui.screens.monitor import MonitorScreen
from pairs_tui.ui.screens.scanner import ScannerScreen, scan_job
from pairs_tui.ui.screens.watchlist import WatchlistScreen
from pairs_tui.ui.terminal import terminal_writer

log = logging.getLogger("pairs_tui.ui")

SourceFactory = Callable[[Options], AbstractAsyncContextManager[TradeSource]]
"""Opens the trade source for a session (``open_source`` unless a test injects one)."""

WINDOW_STEP = 1.25
"""``+`` and ``-`` multiply or divide the window by this."""
WINDOW_PRESETS = (100, 300, 600, 1000, 3000)
"""Windows the palette offers directly."""
HEDGES: dict[str, HedgeMethod] = {
    "OLS": "ols",
    "OLS no intercept": "ols0",
    "Huber": "huber",
    "Kalman": "kalman",
}
"""The palette's ``Hedge:`` commands and the methods they switch to."""
HEDGE_HELP = {
    "ols": "Least squares with an intercept (the default)",
    "ols0": "Least squares through the origin: no alpha",
    "huber": "Robust regression: outliers weigh less",
    "kalman": "The Kalman filter's dynamic beta",
}
PRICES: dict[str, PriceMode] = {"log": "log", "raw": "raw"}
"""The palette's ``Prices:`` commands."""
PRICE_HELP = {
    "log": "Regress log prices: the spread in basis points",
    "raw": "Regress prices as quoted: the spread in price units",
}
EXPORTS = ("export", "backtest-export")
"""The worker groups that write files: the session's export and the backtest's."""
MAX_REFRESH_HZ = 10.0
COUNTERS_HZ = 2.0
"""How often the header and status line redraw while the feed's state stays the same."""
MAX_PLOT_HZ = 4.0
SCAN_TOPS = (20, 50, 100)
"""Universes the palette offers the scanner, by 24 h quote volume."""


class PairsApp(App[None]):
    """``pairs-tui A B``: the pair on one screen, all day, over SSH.

    Args:
        options: What the command line and config asked for.
        source_factory: Opens the trade source; ``open_source`` by default.
    """

    TITLE = "pairs-tui"
    COMMANDS = App.COMMANDS | {AlertCommands, PairCommands}
    BINDINGS: ClassVar[list[BindingType]] = keys.BINDINGS

    paused: reactive[bool] = reactive(False, init=False)
    """The display is frozen; the pipeline keeps running underneath."""

    def __init__(self, options: Options, *, source_factory: SourceFactory | None = None) -> None:
        super().__init__()
        self.options = options
        self.settings = options.settings
        self._source_factory = source_factory or open_source
        self.running: Run | None = None
        """Every pair of the run on one source, once the source is open."""
        self.pipelines: dict[tuple[str, str], Pipeline] = {}
        """The pipeline of each pair on the desk."""
        self.books: dict[tuple[str, str], AlertBook] = {}
        """Each pair's alert rules, which the palette edits."""
        self.pair: tuple[str, str] = options.symbols
        """The pair the monitor shows."""
        self.delivery: AlertDelivery | None = None
        """Delivers every pair's alerts to the ``[[alerts.sinks]]``; desktop notifications go
        through the driver, between frames."""
        self.stopped: str | None = None
        """Why the feed stopped, when it stopped on an error."""
        self.usage_error: str | None = None
        """A bad argument found while opening the source: the app exits with code 2."""
        self.exports: list[Path] = []
        """Files written by exports this session."""
        self._shown_version: tuple[int, int, int, int, int] = (0, -1, -1, 0, 0)
        self._state: tuple[object, ...] = ()
        self._counters_at = 0.0
        self._bar: tuple[object, ...] = ()
        self._plotted: tuple[object, ...] = ()
        self._frozen: Snapshot | None = None
        self._empty = view.empty_snapshot(options)

    def get_default_screen(self) -> Screen[None]:
        return MonitorScreen(self.options.symbols, entry_z=self.settings.analytics.entry_z)

    @property
    def monitor(self) -> MonitorScreen:
        """The main screen (at the bottom of the stack)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, MonitorScreen)
        return screen

    def on_mount(self) -> None:
        self.set_keymap(self.settings.keys)
        try:
            self.theme = self.settings.ui.theme
        except InvalidThemeError:  # keep the default, and say so
            self.notify(f"unknown theme {self.settings.ui.theme!r}", severity="warning")
        numbers = min(MAX_REFRESH_HZ, self.settings.ui.refresh_hz)
        plots = min(MAX_PLOT_HZ, self.settings.ui.plot_hz)
        self.set_interval(1 / numbers, self.refresh_numbers, name="numbers")
        self.set_interval(1 / plots, self.refresh_plots, name="plots")
        if self.options.duration:
            self.set_timer(self.options.duration, self.exit, name="duration")
        # The first frame first: opening the source (the demo builds its market and starts an
        # exchange) is a few hundred ms on the event loop that the screen need not wait for.
        drawn = asyncio.Event()
        self.call_after_refresh(drawn.set)
        self.run_worker(self._run_feed(drawn), name="feed", group="feed", exit_on_error=False)
        self.call_after_refresh(self.refresh_now)

    # -- the data path -----------------------------------------------------------------------

    @property
    def pipeline(self) -> Pipeline | None:
        """The monitored pair's pipeline, once the source is open."""
        return self.pipelines.get(self.pair)

    @property
    def alerts(self) -> AlertBook | None:
        """The monitored pair's alert rules."""
        return self.books.get(self.pair)

    async def _run_feed(self, drawn: asyncio.Event) -> None:
        """Open the source, once the first frame is drawn, and run every pair until the source
        ends or the app exits."""
        await drawn.wait()
        try:
            async with self._source_factory(self.options) as source:
                self.books = {pair: alert_book(self.options, pair) for pair in self.options.pairs}
                sinks = self.settings.alerts.sinks
                self.delivery = build_delivery(sinks, terminal=terminal_writer(self))
                if self.delivery is not None:  # for as long as the app runs: see on_unmount
                    self.run_worker(self.delivery.run(), name="alert sinks", group="alerts")
                self.running = build_desk(self.options, source, self.books, delivery=self.delivery)
                self.pipelines = {p.symbols: p for p in self.running.pipelines}
                await self.running.desk.run()
        except UsageError as exc:
            self.usage_error = str(exc)
            self.exit(return_code=2)
            return
        except Exception as exc:
            log.exception("the feed stopped")
            self.stopped = f"{type(exc).__name__}: {exc}"
            self.monitor.show_error(f"feed stopped: {self.stopped}")
        self.refresh_numbers(force=not self.paused)
        self.refresh_plots(force=not self.paused)

    async def on_unmount(self) -> None:
        # Textual cancels the workers without waiting for them: the queued alerts get their
        # grace here, while the driver can still write desktop notifications.
        if self.delivery is not None:
            await self.delivery.close()

    def snapshot(self) -> Snapshot:
        """The pipeline's latest snapshot, or an empty one before the source is open."""
        return self._empty if self.pipeline is None else self.pipeline.snapshot()

    def shown_snapshot(self) -> Snapshot:
        """What the screen shows: the latest snapshot, or the one frozen by pause."""
        return self._frozen if self._frozen is not None else self.snapshot()

    def refresh_numbers(self, *, force: bool = False) -> None:
        """Redraw the numbers that changed (the numbers timer).

        Prices redraw on every tick; the header and status line when the feed's state changes
        and otherwise at most :data:`COUNTERS_HZ` (a latency redrawn ten times a second is
        unreadable and costs bytes); statistics, sparklines and alerts when a bar closes.
        """
        if self.return_code is not None or self._covered():
            return  # exiting (the widgets may be gone), or out of sight
        # Pause freezes what the market did (prices, statistics, plots), not what the feed is
        # doing: the header and the status line always read the live snapshot.
        live = self.snapshot()
        snap = self.shown_snapshot()
        undelivered = 0 if self.delivery is None else self.delivery.stats.undelivered
        recorder = None if self.running is None else self.running.recorder
        unrecorded = recorder.waiting if recorder is not None and recorder.failing else 0
        version = (id(self.pipeline), live.version, snap.version, undelivered, unrecorded)
        if version == self._shown_version and not force:
            return
        self._shown_version = version
        now = time.monotonic()
        state = (
            self.paused,
            self.stopped,
            live.feed.state,
            live.history,
            live.finished,
            live.timeframe,
            live.window,
            id(self.pipeline),
            undelivered,
            unrecorded,
        )
        bar = (state, snap.bar_count, len(snap.alerts), snap.alerts[-1:])
        frozen = self.paused and not force
        with self.batch_update():
            if not frozen:
                self.monitor.show_quotes(snap)
            if force or state != self._state or now - self._counters_at >= 1 / COUNTERS_HZ:
                self._state, self._counters_at = state, now
                self.monitor.show_counters(
                    live,
                    paused=self.paused,
                    stopped=self.stopped,
                    undelivered=undelivered,
                    unrecorded=unrecorded,
                    offline_hint=not (self.options.demo or self.options.replay),
                )
                self.monitor.show_carry(live, time.time() * 1000.0)
            if not frozen and (force or bar != self._bar):
                self._bar = bar
                self.monitor.show_bar(snap)

    def refresh_plots(self, *, force: bool = False) -> None:
        """Redraw the plots if a bar closed or the view changed (the plot timer)."""
        if self.return_code is not None or self._covered():
            return
        snap = self.shown_snapshot()
        key = (snap.timeframe, snap.window, snap.bar_count, snap.finished, id(self.pipeline))
        if not force and (self.paused or key == self._plotted):
            return
        self._plotted = key
        with self.batch_update():
            self.monitor.show_plots(snap)

    def _covered(self) -> bool:
        """A full screen (the watchlist) hides the monitor: drawing it would be wasted."""
        return any(not screen.is_modal for screen in self.screen_stack[1:])

    def refresh_now(self) -> None:
        """Redraw everything at once (after a key changed the view)."""
        if self.paused:
            self._frozen = self.snapshot()
        self.refresh_numbers(force=True)
        self.refresh_plots(force=True)

    def watch_paused(self, paused: bool) -> None:
        self._frozen = self.snapshot() if paused else None
        self.refresh_numbers(force=True)
        self.refresh_plots(force=True)

    # -- keys ----------------------------------------------------------------------------------

    def action_timeframe(self, timeframe: Timeframe) -> None:
        """Show bars of ``timeframe`` (1s, 1m, 5m), or one row per trade (tick)."""
        # Bars: every pair of the desk, as the watchlist compares pairs on one timeframe. Ticks:
        # the monitored pair only, as a row per trade costs per trade (and a switch rebuilds
        # the rows from every trade kept).
        shown = [self.pipeline] if timeframe == TICK else self.pipelines.values()
        for pipeline in shown:
            if pipeline is not None:
                pipeline.set_timeframe(timeframe)
        self.refresh_now()

    def action_window(self, direction: int) -> None:
        """Widen (``direction`` > 0) or narrow the analytics window by :data:`WINDOW_STEP`."""
        window = self.snapshot().window
        target = round(window * WINDOW_STEP) if direction > 0 else round(window / WINDOW_STEP)
        self.set_window(target)

    def set_window(self, window: int) -> None:
        """Set the analytics window, bounded to what the bar history holds."""
        if self.pipeline is None:
            return
        bounded = max(20, min(int(window), self.settings.bars.history))
        live = None if self.running is None else self.running.live
        for pipeline in self.pipelines.values():  # every pair of the desk, as the timeframe
            pipeline.set_window(bounded)
            if live is not None:  # a wider window needs older bars: from history, off screen
                self.run_worker(live.widen(pipeline), group="history", exit_on_error=False)
        self.refresh_now()

    # -- the pair ------------------------------------------------------------------------------

    def switch_pair(self, pair: tuple[str, str]) -> None:
        """Show ``pair`` on the monitor, keeping the timeframe, window, hedge and prices.

        On a live feed the pair joins the running connection (its symbols subscribed, once the
        exchange has confirmed it lists them) and starts from history; the pair it replaces
        leaves it, unless the run watches it (a watchlist). A pair already on the desk is shown
        at once. A bad or unknown symbol, or a replay (which holds its own pair only), is said
        in a notification and the monitor stays as it was.

        Args:
            pair: Target and hedge symbols, any case.
        """
        wanted = (pair[0].strip().upper(), pair[1].strip().upper())
        problem = pair_problem(wanted)
        if problem:
            self.notify(problem, title="pair", severity="error", timeout=8)
            return
        if wanted == self.pair:
            self.notify(f"{wanted[0]}/{wanted[1]} is on the monitor already", title="pair")
            return
        run = self.running
        if run is None:
            self.notify("the feed is not open yet: try again in a moment", severity="warning")
            return
        if any(p.symbols == wanted for p in run.pipelines):
            self._show_pair(wanted)
            return
        if run.live is None:
            self.notify(
                f"{wanted[0]}/{wanted[1]}: a replay holds only its own pair; "
                f"run pairs-tui {wanted[0]} {wanted[1]} to watch it",
                title="pair",
                severity="warning",
                timeout=8,
            )
            return
        self.run_worker(
            self._checked_switch(wanted),
            name="pair",
            group="pair",
            exclusive=True,
            exit_on_error=False,
        )

    async def _checked_switch(self, pair: tuple[str, str]) -> None:
        """Ask the exchange whether it lists both symbols, then switch (or say why not)."""
        from pairs_tui.feed.errors import RestError, UnknownSymbolError

        run = self.running
        assert run is not None and run.live is not None
        try:
            await run.live.feed.rest.check_symbols(pair)
        except UnknownSymbolError as exc:
            self.notify(f"{exc}; the monitor is unchanged", title="pair", severity="error")
            return
        except RestError as exc:
            self.notify(
                f"could not check {pair[0]}/{pair[1]} with the exchange ({exc}); "
                "the monitor is unchanged",
                title="pair",
                severity="error",
                timeout=8,
            )
            return
        if self.running is run and self.pair != pair:
            self._show_pair(pair)

    def _show_pair(self, pair: tuple[str, str]) -> None:
        """Put ``pair`` on the desk if it is not there, move the monitor to it, and take the
        pair it showed off the desk unless the run watches it."""
        run = self.running
        assert run is not None
        old = self.pipeline
        shown = self.snapshot()
        known = any(p.symbols == pair for p in run.pipelines)
        default: Timeframe = "1s"
        bars = next((p.timeframe for p in run.pipelines if p.timeframe != TICK), default)
        book = self.books.get(pair) or alert_book(self.options, pair)
        pipeline = add_pair(run, pair, book)
        if not known:  # a new pair sees what the old one showed (its warm start reads these)
            pipeline.set_timeframe(shown.timeframe)
            pipeline.set_window(shown.window)
            pipeline.set_analytics(price=shown.price, hedge=shown.hedge)
        elif shown.timeframe == TICK:  # ticks follow the monitor
            pipeline.set_timeframe(TICK)
        self.books[pair] = book
        self.pipelines[pair] = pipeline
        self.pair = pair
        watched = self.options.pairs if len(self.options.pairs) > 1 else ()
        if old is not None and old.symbols not in watched and old.symbols != pair:
            drop_pair(run, old)
            self.pipelines.pop(old.symbols, None)
            self.books.pop(old.symbols, None)
        elif old is not None and old.timeframe == TICK:  # a watched pair goes back to bars
            old.set_timeframe(bars)
        self.monitor.show_pair(pair)
        self.refresh_now()
        self.notify(f"{pair[0]} / {pair[1]}", title="pair")

    def set_analytics(
        self, *, price: PriceMode | None = None, hedge: HedgeMethod | None = None
    ) -> None:
        """Switch the price mode or the hedge method live: the bars held are analysed again,
        so the screen shows what a run started with that setting would show."""
        if self.pipeline is None:
            self.notify("the feed is not open yet: try again in a moment", severity="warning")
            return
        self.pipeline.set_analytics(price=price, hedge=hedge)
        self.refresh_now()
        snap = self.snapshot()
        self.notify(view.model_text(snap), title="analytics")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The legs panel is the monitor's: other screens neither list v nor take it.
        if action == "legs":
            return isinstance(self.screen, MonitorScreen)
        return super().check_action(action, parameters)

    def action_legs(self) -> None:
        """Show or hide each leg's statistics and volume under its price."""
        self.monitor.toggle_legs()
        self._bar = ()  # drawn on the next refresh, with what the other panels show
        self.call_after_refresh(self.refresh_now)

    def action_pause(self) -> None:
        """Freeze or unfreeze the display."""
        self.paused = not self.paused

    def action_watchlist(self) -> None:
        """Every pair of the desk on one screen; Enter there shows a pair on the monitor."""
        if isinstance(self.screen, WatchlistScreen):
            return
        screen = WatchlistScreen(
            lambda: self.pipelines,
            monitored=self.pair,
            entry_z=self.settings.analytics.entry_z,
            refresh_hz=min(MAX_REFRESH_HZ, self.settings.ui.refresh_hz),
        )
        self.push_screen(screen, callback=self._watchlist_closed)

    def _watchlist_closed(self, pair: tuple[str, str] | None) -> None:
        if pair is not None:
            self.show_pair(pair)
        self.refresh_now()  # the monitor was not drawn while the watchlist covered it

    def show_pair(self, pair: tuple[str, str]) -> bool:
        """Show ``pair``, a pair on the desk, on the monitor (its pipeline runs already).

        Returns:
            False when the pair is not on the desk (nothing changes).
        """
        if pair not in self.pipelines:
            return False
        if pair != self.pair:
            old, new = self.pipeline, self.pipelines[pair]
            if old is not None and old.timeframe == TICK:  # ticks follow the monitor
                bars = new.timeframe
                new.set_timeframe(TICK)
                old.set_timeframe(bars)
            self.pair = pair
            self.monitor.show_pair(pair)
            self.refresh_now()
        return True

    def action_help(self) -> None:
        """Show every key, as remapped."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.monitor.active_bindings, self.palette_groups()))

    def action_stationarity(self) -> None:
        """Run ADF and cointegration on the current window, off the UI thread."""
        pipeline = self.pipeline
        data = None if pipeline is None else pipeline.window_data()
        snap = self.snapshot()
        if data is None:
            warm = view.warm_up(snap)
            self.monitor.stationarity_failed(
                f"needs a full window — {warm.message()}",
                f"needs a full window — {warm.message(short=True)}",
                warm.message(short=True),
            )
            return
        until = snap.latest.bar.ts if snap.latest is not None else 0
        self.monitor.stationarity_running(len(data.residuals), snap.timeframe)
        self._start(
            partial(
                jobs.stationarity,
                data,
                timeframe=snap.timeframe,
                window=snap.window,
                until_ms=until,
            ),
            "stationarity",
        )

    def action_backtest(self) -> None:
        """Backtest the z-score signal on the active timeframe's bars; show it in a modal."""
        if isinstance(self.screen, BacktestScreen):
            return
        if self.pipeline is None:
            self.notify("nothing to backtest yet: the feed is not open", severity="warning")
            return
        self.push_screen(BacktestScreen(jobs.take_backtest(self.pipeline), self.settings))

    def action_scan(self, top: int | None = None) -> None:
        """Open the scanner on the ``[scan]`` universe (or the ``top`` symbols by volume);
        Enter there switches the pair."""
        if isinstance(self.screen, ScannerScreen):
            return
        job, title = scan_job(self.options, self.running, top=top)
        self.push_screen(ScannerScreen(job, title), callback=self._scanned)

    def _scanned(self, pair: tuple[str, str] | None) -> None:
        if pair is not None and pair != self.pair:
            self.switch_pair(pair)

    def action_export(self, fmt: ExportFormat = "parquet") -> None:
        """Write ticks, bars and analytics of the session to the export folder."""
        if self.pipeline is None:
            self.notify("nothing to export yet", severity="warning")
            return
        frames = take_session(self.pipeline)
        self.notify(f"exporting {fmt}…", timeout=2)
        self._start(partial(write_session, frames, self._export_folder(), fmt), "export")

    @on(BacktestScreen.RunAsked)
    def _run_backtest(self, message: BacktestScreen.RunAsked) -> None:
        self._start(partial(jobs.backtest, message.request, self.settings), "backtest")

    @on(BacktestScreen.ExportAsked)
    def _export_backtest(self, message: BacktestScreen.ExportAsked) -> None:
        job = partial(export_backtest, message.session, self._export_folder())
        self._start(job, "backtest-export")

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """The palette's Screenshot: an SVG of the screen into the export folder (Textual's
        default, the working directory or ``~/Downloads``, may not exist); the notification
        says where it went."""
        folder = Path(path).expanduser() if path else self._export_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.notify(f"screenshot not saved: {folder}: {exc}", severity="error", timeout=8)
            return None
        return super().deliver_screenshot(filename, str(folder.resolve()), time_format)

    def _export_folder(self) -> Path:
        return Path(self.settings.export.folder).expanduser()

    # -- slow work ---------------------------------------------------------------------------

    def _start(self, job: Callable[[], object], group: str) -> None:
        """Run ``job`` in a thread worker; a newer one of the same group replaces it."""
        self.run_worker(
            job, name=group, group=group, thread=True, exclusive=True, exit_on_error=False
        )

    @on(Worker.StateChanged)
    def _job_changed(self, event: Worker.StateChanged) -> None:
        """Where every worker of the app ends: a result is shown, an error is said."""
        worker = event.worker
        if event.state == WorkerState.SUCCESS:
            self._job_done(worker.group, worker.result)
        elif event.state == WorkerState.ERROR and worker.error is not None:
            self._job_failed(worker.group, worker.error)

    def _job_done(self, group: str, result: object) -> None:
        match result:
            case jobs.WindowTests():
                self.monitor.stationarity_done(result)
                if self.pipeline is not None and self.alerts is not None:  # the adf_p rules
                    fired = self.alerts.on_stationarity(result.adf_pvalue, result.until_ms)
                    self.pipeline.add_alerts(fired)
                    self.refresh_numbers()
            case SessionBacktest():
                screen = self._backtest_screen()
                if screen is not None:  # else it was closed before the backtest finished
                    screen.show(result)
            case list() if group in EXPORTS:
                self.exports.extend(result)
                self.notify(jobs.describe_export(result), title="export", timeout=8)

    def _job_failed(self, group: str, error: BaseException) -> None:
        screen = self._backtest_screen()
        if group == "backtest" and isinstance(error, ValueError):
            # Levels in the config that do not make a strategy: the user's to fix, not a bug.
            if screen is not None:
                screen.failed(f"check [analytics] in config.toml: {error}")
            return
        log.error("%s failed", group, exc_info=error)
        if group == "stationarity":
            self.monitor.stationarity_failed(jobs.why(error))
        elif group == "backtest" and screen is not None:
            screen.failed(jobs.why(error))
        elif group == "pair":
            self.notify(f"pair switch failed: {jobs.why(error)}", severity="error", timeout=8)
        elif group in EXPORTS:
            self.notify(f"export failed: {jobs.why(error)}", severity="error", timeout=8)

    def _backtest_screen(self) -> BacktestScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, BacktestScreen)), None)

    # -- the command palette ---------------------------------------------------------------

    def palette_groups(self) -> list[str]:
        """Every group of palette commands (``Export``, ``Alerts``…), for the help screen."""
        titles = [command.title for command in self.get_system_commands(self.screen)]
        groups = dict.fromkeys(t.split(":")[0] for t in titles if ":" in t)
        groups.update(dict.fromkeys(("Pair", "Alerts")))  # the typed commands' providers
        return list(groups)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Export: Parquet",
            "Ticks, bars and analytics as Parquet files",
            partial(self.action_export, "parquet"),
        )
        yield SystemCommand(
            "Export: CSV",
            "Ticks, bars and analytics as CSV files",
            partial(self.action_export, "csv"),
        )
        for name in TIMEFRAMES:
            yield SystemCommand(
                f"Timeframe: {name}", f"Show {name} bars", partial(self.action_timeframe, name)
            )
        yield SystemCommand(
            "Timeframe: tick",
            "One row per trade of either leg (noisy: the Epps effect)",
            partial(self.action_timeframe, TICK),
        )
        yield SystemCommand(
            "Window: wider", "Widen the window by 25%", partial(self.action_window, 1)
        )
        yield SystemCommand(
            "Window: narrower", "Narrow the window by 20%", partial(self.action_window, -1)
        )
        for bars in WINDOW_PRESETS:
            yield SystemCommand(
                f"Window: {bars} bars",
                f"Analytics over the last {bars} bars",
                partial(self.set_window, bars),
            )
        for title, hedge in HEDGES.items():
            yield SystemCommand(
                f"Hedge: {title}", HEDGE_HELP[hedge], partial(self.set_analytics, hedge=hedge)
            )
        for title, price in PRICES.items():
            yield SystemCommand(
                f"Prices: {title}", PRICE_HELP[price], partial(self.set_analytics, price=price)
            )
        yield SystemCommand(
            "Run: ADF and cointegration",
            "Test the current window for stationarity, off the UI thread",
            self.action_stationarity,
        )
        yield SystemCommand(
            "Run: backtest on this session",
            "Trade the z-score signal over the "
            "active timeframe's bars with the config's levels and fees",
            self.action_backtest,
        )
        yield SystemCommand(
            "Display: leg statistics and volume",
            "Show or hide each leg's mean, sd, last return, volatility and volume (v)",
            self.action_legs,
        )
        yield SystemCommand(
            "Run: scan for cointegrated pairs",
            "Rank every pair of the [scan] universe (config.toml); Enter picks one",
            self.action_scan,
        )
        for top in SCAN_TOPS:
            yield SystemCommand(
                f"Run: scan the top {top} by volume",
                f"Rank every pair of the {top} USDT perpetuals with most 24 h quote volume",
                partial(self.action_scan, top),
            )
        yield SystemCommand(
            "Display: pause or resume", "Freeze the screen; data keeps flowing", self.action_pause
        )
        yield SystemCommand("Help: keys", "Every key and what it does", self.action_help)
        for theme in sorted(self.available_themes):
            yield SystemCommand(
                f"Theme: {theme}",
                f"Switch to the {theme} theme",
                partial(setattr, self, "theme", theme),
            )


class ScreenFailed(Exception):
    """The screen stopped on an unhandled error; its traceback is in the log."""


def pair_problem(pair: tuple[str, str]) -> str:
    """What is wrong with a pair of upper-case symbols (``""`` when nothing is)."""
    problem = next(filter(None, map(symbol_problem, pair)), "")
    if not problem and pair[0] == pair[1]:
        problem = f"{pair[0]}/{pair[1]}: the two legs must differ"
    return problem


def make_app(options: Options, *, source_factory: SourceFactory | None = None) -> PairsApp:
    """The app for a session; the CLI and the tests build it the same way."""
    return PairsApp(options, source_factory=source_factory)


def run_app(options: Options) -> None:
    """Run the TUI until the user quits, ``--duration`` passes or the source fails to open.

    Raises:
        UsageError: The source could not be opened because of a bad argument.
        ScreenFailed: An unhandled error stopped the screen (the traceback is in the log).
    """
    app = make_app(options)
    # Textual prints an unhandled error's traceback on the terminal once the screen is gone:
    # it goes to the log instead, and the run ends with one line and exit code 1.
    report = io.StringIO()
    app.error_console = Console(file=report, width=120, color_system=None, highlight=False)
    with contextlib.suppress(KeyboardInterrupt):
        app.run()
    if app.usage_error:
        raise UsageError(app.usage_error)
    if app.return_code:
        log.error("the screen stopped on an error:\n%s", report.getvalue().rstrip())
        raise ScreenFailed("the screen stopped on an error of its own")
    check_delivered(app.delivery)
