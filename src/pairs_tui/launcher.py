"""Options → the running source and pipeline: what the command line asked for, started.

The TUI, headless mode and the backtest all start here, so ``--demo``, ``--replay`` and live
mean the same thing everywhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pairs_tui.config import Options, Settings, UsageError
from pairs_tui.feed.source import TradeSource

if TYPE_CHECKING:
    from pairs_tui.alerts import AlertBook
    from pairs_tui.desk import Desk
    from pairs_tui.exchange.tape import Tape
    from pairs_tui.live import LiveStart
    from pairs_tui.pipeline import Pipeline
    from pairs_tui.record import Recorder
    from pairs_tui.sinks.delivery import AlertDelivery

log = logging.getLogger("pairs_tui.launcher")


async def check_symbols(options: Options) -> None:
    """Before a live run: the exchange must list every symbol (skipped when unreachable).

    Raises:
        UsageError: the exchange does not list a symbol; the message names it.
    """
    from pairs_tui.feed.errors import RestError, UnknownSymbolError
    from pairs_tui.feed.rest import BinanceRest
    from pairs_tui.feed.routes import rest_url_for

    rest = BinanceRest(rest_url_for(options.url, options.rest_url), timeout_s=5)
    try:
        await rest.check_symbols(dict.fromkeys(s for pair in options.pairs for s in pair))
    except UnknownSymbolError as exc:
        raise UsageError(str(exc)) from None
    except RestError as exc:
        log.warning("could not check the symbols with the exchange: %s", exc)
    finally:
        await rest.aclose()


@contextlib.asynccontextmanager
async def open_source(options: Options) -> AsyncIterator[TradeSource]:
    """Start whatever the options ask for and yield the trade source; stop it on exit.

    Raises:
        UsageError: a replay file that cannot be read, an unknown symbol.
    """
    if options.replay:
        from pairs_tui.feed.replay.files import ReplayError
        from pairs_tui.feed.replay.source import ReplaySource

        try:
            source = ReplaySource(options.replay, options.symbols, speed=options.speed)
        except ReplayError as exc:
            raise UsageError(str(exc)) from None
        yield source
        return

    if not options.demo:
        from pairs_tui.feed.routes import rest_url_for

        async with _live_feed(
            options, options.url, rest_url_for(options.url, options.rest_url)
        ) as feed:
            yield feed
        return

    from pairs_tui.exchange.server import DEMO_LEAD_IN_S, EmbeddedExchange

    exchange = EmbeddedExchange(
        demo_tape(options),
        speed=options.settings.demo.speed,
        rebase=True,
        loop=True,
        lead_in_s=DEMO_LEAD_IN_S,
        wait_for_subscriber=False,  # the market runs whether or not anyone watches
    )
    await exchange.start()
    try:
        log.info("demo exchange on %s", exchange.url)
        async with _live_feed(options, exchange.url, exchange.rest_url) as feed:
            yield feed
    finally:
        await exchange.stop()


@contextlib.asynccontextmanager
async def _live_feed(options: Options, url: str, rest_url: str) -> AsyncIterator[TradeSource]:
    """The WebSocket feed of every symbol of the run (with mark prices when carry is on);
    its REST client closed on exit."""
    from pairs_tui.feed.binance import BinanceFeed

    feed = BinanceFeed(
        dict.fromkeys(s for pair in options.pairs for s in pair),
        url=url,
        rest_url=rest_url,
        stream=options.stream,
        watchdog_s=options.settings.feed.watchdog_seconds,
        marks=options.settings.carry.enabled,
    )
    try:
        yield feed
    finally:
        await feed.rest.aclose()


@dataclass
class Run:
    """What a run is made of once its source is open."""

    options: Options
    """What the run does."""
    desk: Desk
    """Every pair on the one source."""
    pipelines: list[Pipeline]
    """Each pair's pipeline, in :attr:`Options.pairs` order (pairs added later are appended)."""
    live: LiveStart | None = None
    """How a pair on a live feed starts (warm start, funding); None for a replay."""
    delivery: AlertDelivery | None = None
    """Where every alert also goes."""
    recorder: Recorder | None = None
    """The ``--record`` writer; its :attr:`~pairs_tui.record.Recorder.waiting` is the count
    of trades held while the disk refuses them."""


def build_desk(
    options: Options,
    source: TradeSource,
    books: Mapping[tuple[str, str], AlertBook] | None = None,
    *,
    delivery: AlertDelivery | None = None,
) -> Run:
    """Every pair of the run on one desk, with what the options attach to them.

    Headless mode, the TUI and the backtest all build here, so all get:

    - one :class:`~pairs_tui.pipeline.Pipeline` per pair of :attr:`Options.pairs`, each with
      its alert book (``books[pair]``, or a new :func:`alert_book`; the palette edits the ones
      the TUI passes in);
    - with ``delivery`` (:func:`~pairs_tui.sinks.delivery.build_delivery` of
      ``[[alerts.sinks]]``), every event of every pair's book queued for the sinks. The caller
      runs the service for as long as alerts can fire (headless: the desk's run; the TUI: the
      app, since on-demand tests fire alerts after a replay ends) and closes it;
    - with ``--record DIR``, one :class:`~pairs_tui.record.Recorder` of every symbol, which
      runs alongside the desk and has written its last trade when the desk's run returns,
      however it ends (end of replay, ``--duration``, Ctrl-C, cancellation).

    Args:
        options: What the run does.
        source: The open trade source.
        books: Alert books by pair; a pair without one gets a new book.
        delivery: Where every alert also goes (one service for every pair).

    A pair on a live feed also starts from history (the warm start) and with its legs' funding
    (:class:`~pairs_tui.live.LiveStart`).

    Returns:
        The run: the desk, not yet running, and its pipelines.

    Raises:
        UsageError: the ``--record`` folder cannot be created.
    """
    from pairs_tui.desk import Desk
    from pairs_tui.feed.source import LiveSource

    live = None
    if isinstance(source, LiveSource):
        from pairs_tui.live import LiveStart

        live = LiveStart(options, source)
    books = books or {}
    run = Run(options, Desk(source), [], live, delivery)
    for pair in options.pairs:
        add_pair(run, pair, books.get(pair))
    desk = run.desk
    if options.record is not None:
        from pairs_tui.record import Recorder

        try:
            options.record.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--record {options.record}: cannot create it ({exc})") from None
        recorder = Recorder(options.record, desk.symbols(), fallback=state_dir() / "unrecorded")
        run.recorder = recorder
        desk.add_trade_listener(recorder.on_trade)
        desk.add_companion(recorder.run)
        log.info("recording trades to %s", options.record)
    return run


def add_pair(run: Run, pair: tuple[str, str], book: AlertBook | None = None) -> Pipeline:
    """Put a pair on the desk, also while it runs (the palette's ``Pair:``, the scanner's Enter).

    On a live feed its symbols are subscribed on the running connection (if new) and it starts
    from history, keeping the run's timeframe and window.

    Args:
        run: The run.
        pair: The pair, target first, upper case.
        book: Its alert rules; None makes them from the settings.

    Returns:
        The pair's pipeline (the one already on the desk, if the pair is there).
    """
    for pipeline in run.pipelines:
        if pipeline.symbols == pair:
            return pipeline
    book = book or alert_book(run.options, pair)
    if run.delivery is not None:
        book.add_listener(run.delivery.notify)
    pipeline = build_pipeline(run.options, run.desk.source, pair, alerts=book)
    if run.live is not None:
        run.live.attach(pipeline)
    run.desk.add(pipeline)
    run.pipelines.append(pipeline)
    return pipeline


def drop_pair(run: Run, pipeline: Pipeline) -> None:
    """Take a pair off the desk; symbols no other pair trades are unsubscribed."""
    run.desk.remove(pipeline)
    run.pipelines.remove(pipeline)


def build_pipeline(
    options: Options,
    source: TradeSource,
    pair: tuple[str, str] | None = None,
    *,
    alerts: AlertBook | None = None,
) -> Pipeline:
    """One pair's pipeline, as the options and the settings make it.

    Args:
        options: What the run does (timeframe, window, carry).
        source: The open trade source.
        pair: The pair; the monitored one (:attr:`Options.symbols`) by default.
        alerts: The alert book to evaluate; None builds one from the settings.

    Returns:
        The pipeline, not yet on a desk.
    """
    from pairs_tui.pipeline import Pipeline

    pair = pair or options.symbols
    return Pipeline(
        options.settings,
        source,
        pair,
        timeframe=options.timeframe,
        window=options.window,
        alerts=alerts if alerts is not None else alert_book(options, pair),
        carry=options.settings.carry.enabled and not options.replay,
    )


def alert_book(options: Options, pair: tuple[str, str] | None = None) -> AlertBook:
    """The configured alert rules of one pair (the monitored one by default), appending to the
    alert log (see :func:`alert_log_path`)."""
    from pairs_tui.alerts import AlertBook

    settings = options.settings
    return AlertBook(
        settings.alerts.rules,
        alert_log_path(settings),
        pair=pair or options.symbols,
        keep=settings.alerts.keep,
    )


def alert_log_path(settings: Settings) -> Path | None:
    """The alert log: ``alerts.log`` of the settings, under :func:`state_dir` unless absolute
    (never the current folder unasked); None when the setting is empty."""
    if not settings.alerts.log:
        return None
    path = Path(settings.alerts.log).expanduser()
    return path if path.is_absolute() else state_dir() / path


def demo_tape(options: Options) -> Tape:
    """The demo's market, with hours of past: the simulated universe (the default), or the
    shipped recording for its own pair, looped and re-based at every seam."""
    from pairs_tui.exchange.market import demo_tape as market

    demo = options.settings.demo
    symbols = [s for pair in options.pairs for s in pair]
    return market(demo.source, symbols, seed=demo.seed)


def state_dir() -> Path:
    """Where the log file lives: ``$XDG_STATE_HOME/pairs-tui`` (``~/.local/state`` default)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pairs-tui"
