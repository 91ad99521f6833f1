"""The app's pairs: the desk of a run, the pair the monitor shows, and switching it live.

:class:`DeskApp` is the part of the pairs-tui app that knows the data path (the run, its
pipelines and alert books); :class:`~pairs_tui.ui.app.PairsApp` adds the screens on top and
says how a pair is shown (:meth:`DeskApp.pair_shown`).
"""

from __future__ import annotations

from textual.app import App

from pairs_tui.alerts import AlertBook
from pairs_tui.config import Options
from pairs_tui.config.checks import symbol_problem
from pairs_tui.launcher import Run, add_pair, alert_book, drop_pair
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import TICK, Timeframe
from pairs_tui.snapshot import Snapshot
from pairs_tui.ui import view


class DeskApp(App[None]):
    """An app over one run's desk of pairs, one of them on the monitor.

    Args:
        options: What the command line and config asked for.
    """

    def __init__(self, options: Options) -> None:
        super().__init__()
        self.options = options
        self.running: Run | None = None
        """Every pair of the run on one source, once the source is open."""
        self.pipelines: dict[tuple[str, str], Pipeline] = {}
        """The pipeline of each pair on the desk."""
        self.books: dict[tuple[str, str], AlertBook] = {}
        """Each pair's alert rules, which the palette edits."""
        self.pair: tuple[str, str] = options.symbols
        """The pair the monitor shows."""
        self._empty = view.empty_snapshot(options)

    @property
    def pipeline(self) -> Pipeline | None:
        """The monitored pair's pipeline, once the source is open."""
        return self.pipelines.get(self.pair)

    @property
    def alerts(self) -> AlertBook | None:
        """The monitored pair's alert rules."""
        return self.books.get(self.pair)

    def snapshot(self) -> Snapshot:
        """The pipeline's latest snapshot, or an empty one before the source is open."""
        return self._empty if self.pipeline is None else self.pipeline.snapshot()

    def pair_shown(self, pair: tuple[str, str]) -> None:
        """The monitor moved to ``pair`` (the screens say how they show it)."""

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
        if self.show_pair(wanted):
            self.notify(f"{wanted[0]} / {wanted[1]}", title="pair")
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
        if self.running is run and not self.show_pair(pair):
            self._add_pair(pair)

    def _add_pair(self, pair: tuple[str, str]) -> None:
        """Put ``pair``, not on the desk yet, on it as the monitor showed the last one, move the
        monitor to it, and take the pair it showed off the desk unless the run watches it."""
        run = self.running
        assert run is not None
        old = self.pipeline
        shown = self.snapshot()
        default: Timeframe = "1s"
        bars = next((p.timeframe for p in run.pipelines if p.timeframe != TICK), default)
        book = alert_book(self.options, pair)
        pipeline = add_pair(run, pair, book)
        # The new pair sees what the old one showed (its warm start reads these).
        pipeline.set_timeframe(shown.timeframe)
        pipeline.set_window(shown.window)
        pipeline.set_analytics(price=shown.price, hedge=shown.hedge)
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
        self.pair_shown(pair)
        self.notify(f"{pair[0]} / {pair[1]}", title="pair")

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
            self.pair_shown(pair)
        return True


def pair_problem(pair: tuple[str, str]) -> str:
    """What is wrong with a pair of upper-case symbols (``""`` when nothing is)."""
    problem = next(filter(None, map(symbol_problem, pair)), "")
    if not problem and pair[0] == pair[1]:
        problem = f"{pair[0]}/{pair[1]}: the two legs must differ"
    return problem
