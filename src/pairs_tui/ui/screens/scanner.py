"""The scanner screen (``s``): every pair of a universe ranked by cointegration, sortable.

The scan is :func:`pairs_tui.scanner.run.run_scan`, handed in as a job: the screen runs it in a
worker on the app's loop (its CPU-heavy part runs in a thread, off the UI), shows its progress,
then the rows in a table of the ``pairs-tui scan`` columns. A click on a column header sorts by
that column (again: the other way); Enter dismisses the screen with the row's pair.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, ProgressBar, Static

from pairs_tui.config import Options
from pairs_tui.launcher import Run
from pairs_tui.scanner.run import ScanProgress, ScanReport, ScanRequest, Stage
from pairs_tui.ui.widgets.desk_footer import DeskFooter

ScanJob = Callable[[ScanProgress], Awaitable[ScanReport]]
"""Runs a scan, telling the progress it makes."""

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("rank", "#", "{}"),
    ("symbol_a", "y", "{}"),
    ("symbol_b", "x", "{}"),
    ("coint_p", "p", "{:.4f}"),
    ("coint_p_reverse", "p rev", "{:.4f}"),
    ("coint_t", "t", "{:.2f}"),
    ("coint_lags", "lags", "{}"),
    ("beta", "beta", "{:.3f}"),
    ("half_life", "half-life", "{:.1f}"),
    ("corr", "corr", "{:.2f}"),
    ("resid_z", "z", "{:+.2f}"),
    ("carry_bp_day", "carry bp/d", "{:+.2f}"),
    ("r2", "r2", "{:.3f}"),
    ("resid_sd", "sd", "{:.2e}"),
    ("bars", "bars", "{}"),
)
"""The table's columns: row key, heading, format."""

_STAGES: dict[Stage, str] = {
    "universe": "choosing the universe",
    "history": "history {done}/{total} requests",
    "pairs": "testing pairs {done}/{total}",
    "carry": "reading funding rates",
}


def cell(key: str, value: Any) -> Text:
    """One cell as shown: numbers right-aligned, ``-`` for a missing value."""
    fmt = next(f for k, _, f in COLUMNS if k == key)
    if value is None:
        return Text("-", justify="right")
    if key in ("symbol_a", "symbol_b"):
        return Text(fmt.format(value), justify="left")
    return Text(fmt.format(value), justify="right")


def sort_key(key: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    """Rows by ``key``, a missing value last."""
    return lambda record: (record[key] is None, record[key] if record[key] is not None else 0)


class ScannerScreen(Screen[tuple[str, str] | None]):
    """Every pair of the universe, ranked; Enter picks one, escape goes back.

    Args:
        job: Runs the scan (:func:`~pairs_tui.scanner.run.run_scan` with its arguments bound).
        title: What is scanned, e.g. ``"top 20 USDT perpetuals · 1m · 1440 bars"``.
    """

    DEFAULT_CSS = """
    ScannerScreen {
        & > Vertical { height: 1fr; }
        & #scan-title { height: 1; padding: 0 1; text-style: bold; color: $accent; }
        & #scan-status { height: 1; padding: 0 1; color: $text-muted; }
        & ProgressBar { padding: 0 1; height: 1; }
        & DataTable { height: 1fr; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "back", id="scanner_back"),
        Binding("enter", "pick", "watch pair", id="scanner_pick", show=True),
    ]

    def __init__(self, job: ScanJob, title: str) -> None:
        super().__init__()
        self._job = job
        self._title = title
        self.report: ScanReport | None = None
        """The finished scan, once it is in."""
        self.records: list[dict[str, Any]] = []
        """The rows, in the order shown."""
        self._sorted_by: tuple[str, bool] = ("rank", False)
        self._ui_thread = threading.get_ident()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Scanner · {self._title}", id="scan-title")
            yield ProgressBar(total=None, show_eta=False, id="scan-progress")
            yield Static("starting…", id="scan-status")
            table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
            for key, heading, _ in COLUMNS:
                table.add_column(heading, key=key)
            yield table
        yield DeskFooter()

    def on_mount(self) -> None:
        self._ui_thread = threading.get_ident()
        self.query_one(DataTable).focus()
        self._scan()

    @work(group="scan", exclusive=True, exit_on_error=False)
    async def _scan(self) -> None:
        try:
            report = await self._job(self._progress_from_any_thread)
        except Exception as exc:  # the screen says so; the app keeps running
            self.failed(f"{type(exc).__name__}: {exc}")
            self.log.error("scan failed", exc)
            return
        self.show(report)

    def _progress_from_any_thread(self, stage: Stage, done: int, total: int) -> None:
        if threading.get_ident() == self._ui_thread:
            self.progress(stage, done, total)
        else:
            self.app.call_from_thread(self.progress, stage, done, total)

    def progress(self, stage: Stage, done: int, total: int) -> None:
        """Show how far the scan is."""
        bar = self.query_one(ProgressBar)
        if stage in ("history", "pairs") and total > 0:
            bar.update(total=total, progress=done)
        else:
            bar.update(total=None)
        self.query_one("#scan-status", Static).update(_STAGES[stage].format(done=done, total=total))

    def show(self, report: ScanReport) -> None:
        """Fill the table with the scan's rows, best first."""
        self.report = report
        self.records = report.records()
        bar = self.query_one(ProgressBar)
        bar.update(total=1, progress=1)
        result = report.result
        status = f"{len(result.rows)} pairs ranked of {result.pairs}"
        left = report.left_out_summary()
        status += f" · {left}" if left else ""
        status += " · Enter watches a pair · click a heading to sort"
        self.query_one("#scan-status", Static).update(status)
        self._fill()

    def failed(self, message: str) -> None:
        """Say why there are no rows."""
        self.query_one(ProgressBar).update(total=1, progress=0)
        self.query_one("#scan-status", Static).update(Text(f"scan failed: {message}", "red"))

    def _fill(self) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        table.clear()
        for record in self.records:
            table.add_row(
                *(cell(key, record[key]) for key, _, _ in COLUMNS),
                key=f"{record['symbol_a']}/{record['symbol_b']}",
            )

    @on(DataTable.HeaderSelected)
    def _sort(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        column, reverse = self._sorted_by
        reverse = not reverse if key == column else False
        self._sorted_by = (key, reverse)
        self.records.sort(key=sort_key(key), reverse=reverse)
        self._fill()

    @on(DataTable.RowSelected)
    def _picked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_pick()

    def action_pick(self) -> None:
        """Dismiss with the highlighted row's pair (target, hedge)."""
        table: DataTable[Text] = self.query_one(DataTable)
        if not self.records or table.cursor_row < 0:
            return
        record = self.records[table.cursor_row]
        self.dismiss((record["symbol_a"], record["symbol_b"]))

    def action_close(self) -> None:
        """Back to the monitor, no pair picked."""
        self.dismiss(None)


def scan_job(
    options: Options, running: Run | None, *, top: int | None = None
) -> tuple[ScanJob, str]:
    """The scan the ``s`` key runs, from ``[scan]``, and its title.

    On a live feed (Binance or the demo's exchange) the scan shares the feed's REST client (one
    request-weight budget) and the warm start's store (the demo's is a throwaway one); otherwise
    it asks the exchange of ``--url``/``--rest-url`` and fills the configured store.

    Args:
        options: The run's options.
        running: The run, once its source is open.
        top: Scan the ``top`` USDT perpetuals by volume instead of ``[scan]``'s universe.

    Returns:
        The job, and what it scans in a few words.
    """
    from pairs_tui.feed.rest import BinanceRest
    from pairs_tui.feed.routes import rest_url_for
    from pairs_tui.history import History, HistoryStore, history_root
    from pairs_tui.scanner.run import run_scan

    settings = options.settings
    conf = settings.scan
    request = ScanRequest(
        symbols=() if top is not None else tuple(conf.symbols),
        top=conf.top if top is None else top,
        timeframe=conf.timeframe,
        bars=conf.bars,
        engine=conf.engine,
        scheduler=conf.scheduler or None,
        price=settings.analytics.price,
        carry=settings.carry.enabled,
    )
    live = None if running is None else running.live
    warm = None if live is None else live.warm
    fetcher = None if warm is None else warm.history
    store = fetcher.store if isinstance(fetcher, History) else None

    async def job(progress: ScanProgress) -> ScanReport:
        nonlocal store
        if live is not None:
            rest = live.feed.rest
            own = None
        else:
            rest = own = BinanceRest(rest_url_for(options.url, options.rest_url))
        if store is None:
            # The demo's market is made up: its bars never join the real store.
            root = tempfile.mkdtemp(prefix="pairs-tui-demo-history-") if options.demo else None
            store = HistoryStore(root or history_root(settings.history.folder))
        try:
            return await run_scan(rest, store, request, progress=progress)
        finally:
            if own is not None:
                await own.aclose()

    universe = " ".join(request.symbols) if request.symbols else f"top {request.top} by volume"
    return job, f"{universe} · {request.timeframe} · {request.bars} bars"
