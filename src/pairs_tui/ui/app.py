"""The Textual app: runs the pipeline as a worker and draws its latest snapshot on timers.

The data path stays outside Textual. One asyncio worker runs ``open_source`` → pipeline; the
app reads ``pipeline.snapshot()`` on two timers — numbers at ``ui.refresh_hz`` (at most 10 Hz),
plots at ``ui.plot_hz`` and only when a bar has closed — inside ``batch_update()``. Slow work
(stationarity tests, backtests, exports: :mod:`pairs_tui.ui.jobs`) runs in thread workers that
return their result; one ``Worker.StateChanged`` handler shows it, or says what went wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, InvalidThemeError, SystemCommand
from textual.binding import BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from pairs_tui.backtest.session import SessionBacktest, export_backtest
from pairs_tui.config import Options, UsageError
from pairs_tui.export import ExportFormat, take_session, write_session
from pairs_tui.feed.source import TradeSource
from pairs_tui.launcher import alert_book, build_desk, open_source
from pairs_tui.records import TICK, HedgeMethod, PriceMode, Timeframe
from pairs_tui.sinks.delivery import AlertDelivery, build_delivery
from pairs_tui.snapshot import Snapshot
from pairs_tui.ui import jobs, keys, palette, view
from pairs_tui.ui.commands import AlertCommands, PairCommands
from pairs_tui.ui.desk_app import DeskApp
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
EXPORTS = ("export", "backtest-export")
"""The worker groups that write files: the session's export and the backtest's."""
MAX_REFRESH_HZ = 10.0
COUNTERS_HZ = 2.0
"""How often the header and status line redraw while the feed's state stays the same."""
MAX_PLOT_HZ = 4.0


class PairsApp(DeskApp):
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
        super().__init__(options)
        self.settings = options.settings
        self._source_factory = source_factory or open_source
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
        # Called inside push and pop, before the next frame: the monitor's first frame back is new.
        self.screen_change_signal.subscribe(self, self._screen_changed, immediate=True)
        if self.options.duration:
            self.set_timer(self.options.duration, self.exit, name="duration")
        # The first frame first: opening the source (the demo builds its market and starts an
        # exchange) is a few hundred ms on the event loop that the screen need not wait for.
        drawn = asyncio.Event()
        self.call_after_refresh(drawn.set)
        self.run_worker(self._run_feed(drawn), name="feed", group="feed", exit_on_error=False)
        self.call_after_refresh(self.refresh_now)

    # -- the data path -----------------------------------------------------------------------

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

    def shown_snapshot(self) -> Snapshot:
        """What the screen shows: the latest snapshot, or the one frozen by pause."""
        return self._frozen if self._frozen is not None else self.snapshot()

    def refresh_numbers(self, *, force: bool = False) -> None:
        """Redraw the numbers that changed (the numbers timer).

        Prices redraw on every tick; the header and status line when the feed's state changes
        and otherwise at most :data:`COUNTERS_HZ` (a latency redrawn ten times a second is
        unreadable and costs bytes); statistics, sparklines and alerts when a bar closes.
        """
        if self.return_code is not None or not self.screen_stack or self._covered():
            return  # exiting (the widgets may be gone, the screens too), or out of sight
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
                self.monitor.header.show(live, paused=self.paused, stopped=self.stopped)
                self.monitor.status.show(
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
        """A full screen (the watchlist, the scanner) hides the monitor: drawing it would be
        wasted. The monitor is drawn again as soon as it is on top (:meth:`_screen_changed`)."""
        return any(not screen.is_modal for screen in self.screen_stack[1:])

    def _screen_changed(self, screen: Screen[object]) -> None:
        """Draw the monitor at once when it is on top again: nothing drew it while a full screen
        covered it, and the timers would only at their next tick (a plot up to ``1 / plot_hz``
        later). A paused display stays frozen."""
        if screen is self.screen_stack[0] and self.return_code is None:
            self.refresh_numbers(force=True)
            self.refresh_plots(force=True)

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

    def pair_shown(self, pair: tuple[str, str]) -> None:
        """The monitor moved to ``pair``: show it."""
        self.monitor.show_pair(pair)
        self.refresh_now()

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
        yield from palette.fixed_commands(self)
        for theme in sorted(self.available_themes):
            yield SystemCommand(
                f"Theme: {theme}",
                f"Switch to the {theme} theme",
                partial(setattr, self, "theme", theme),
            )
