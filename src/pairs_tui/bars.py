"""Trades in, final bars out: one regular grid shared by both legs.

Buckets are ``[t, t + tf)`` by trade time, labelled by their start ``t``. A bucket with no trade
repeats the leg's previous close with volume 0; nothing is ever filled backwards. A bucket is
final once both legs have traded past its end, or once the exchange clock is past its end plus a
grace; a trade for a bucket that is already final is counted as late and kept out of every bar.

1-second bars are built from trades; 1-minute and 5-minute bars are folded from the final
1-second bars (:class:`BarAggregator`), which is the same arithmetic on the same trades and keeps
one hot path per trade instead of three.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable

import numpy as np
import polars as pl

from pairs_tui.buckets import TRADE_COLUMNS, Bucket, FoldedLeg, Hold, summed_in_order, trades_of
from pairs_tui.records import Bar, PairBar, Trade

try:
    from pairs_tui import _runs
except ImportError:  # built without a C compiler: numpy folds a batch's buckets
    _fold_leg: Callable[..., int] | None = None
else:
    _fold_leg = _runs.fold_leg


class BarBuilder:
    """Builds final bars of both legs of a pair on one grid.

    Args:
        symbols: The two legs, target first, upper case.
        timeframe_ms: Bucket length in milliseconds.
        grace_ms: How long past a bucket's end the exchange clock must be before the bucket
            is final without both legs having traded past it.
        hold_timeout_ms: How long a hold (a backfill in flight) may delay finalisation.
        hold_clock: The clock, in ms, that times holds out; by default the exchange clock
            given to :meth:`hold` and :meth:`advance`. A backfill's duration is a matter of
            the local network, so a live pipeline passes the local monotonic clock: with an
            exchange replaying faster than real time, ten exchange seconds may be a tenth of a
            real one.
    """

    def __init__(
        self,
        symbols: tuple[str, str],
        timeframe_ms: int = 1_000,
        *,
        grace_ms: int = 250,
        hold_timeout_ms: int = 10_000,
        hold_clock: Callable[[], float] | None = None,
    ) -> None:
        self.symbols = symbols
        self.timeframe_ms = timeframe_ms
        self.grace_ms = grace_ms
        self.hold_timeout_ms = hold_timeout_ms
        self._hold_clock = hold_clock
        self.late = 0
        """Trades that arrived after their bucket was final."""
        self.late_by_symbol = [0, 0]
        self._leg = {symbols[0]: 0, symbols[1]: 1}
        self._open: tuple[dict[int, Bucket], dict[int, Bucket]] = ({}, {})
        self._newest: list[Bucket | None] = [None, None]
        """Each leg's open bucket with the latest start, or None: where nearly every trade goes.
        Every open bucket starts at or after ``_next``, so a trade in it is never late."""
        self._last_close: list[float | None] = [None, None]
        self._seen: list[int] = [-1, -1]
        """Latest trade time per leg."""
        self._next: int | None = None
        """Start of the next bucket to finalise; None before the first trade."""
        self._emitted = False
        self._holds: dict[str, Hold] = {}
        """What bars wait for, by name (a symbol's backfill, the warm start)."""

    def add(self, trade: Trade) -> list[PairBar]:
        """Take one trade; return the bars it made final, oldest first."""
        leg = self._leg.get(trade.symbol)
        if leg is None:
            return []
        return self.add_to(leg, trade)

    def add_to(self, leg: int, trade: Trade) -> list[PairBar]:
        """:meth:`add` for a caller that knows the trade's leg (0 for the target, 1 for the
        hedge): the pipeline, which has looked it up already."""
        t = trade.time
        newest = self._newest[leg]
        if newest is not None and newest.start <= t < newest.end:
            # Nearly every trade: the leg's newest bucket, open and at hand, and the trade after
            # its last by (time, id). Bucket.add inline: a call per trade costs.
            last = newest.last
            if t > (last_t := last.time) or (t == last_t and trade.id >= last.id):
                price = trade.price
                if price > newest.high:
                    newest.high = price
                elif price < newest.low:
                    newest.low = price
                newest.last = trade
                newest.volume += trade.qty
                newest.trades += 1
            else:
                newest.add(trade)
        elif not self._file(leg, trade):
            return []
        if t > self._seen[leg]:
            self._seen[leg] = t
            seen_a, seen_b = self._seen
            both = seen_a if seen_a < seen_b else seen_b
            if both >= self._next + self.timeframe_ms:  # type: ignore[operator]
                return self._finalise_before(both)
        return []

    def _file(self, leg: int, trade: Trade) -> bool:
        """Put a trade outside its leg's newest bucket into its own; False when it is late."""
        tf = self.timeframe_ms
        t = trade.time
        start = t - t % tf
        nxt = self._next
        if nxt is None or (start < nxt and not self._emitted):
            self._next = start
        elif start < nxt:
            self.late += 1
            self.late_by_symbol[leg] += 1
            return False
        buckets = self._open[leg]
        bucket = buckets.get(start)
        if bucket is not None:
            bucket.add(trade)
            return True
        buckets[start] = bucket = Bucket(start, start + tf, trade)
        newest = self._newest[leg]
        if newest is None or start > newest.start:
            self._newest[leg] = bucket
        return True

    def add_many(self, trades: Iterable[Trade]) -> list[PairBar]:
        """Take trades in arrival order; return every bar they made final."""
        out: list[PairBar] = []
        for trade in trades:
            out.extend(self.add(trade))
        return out

    def add_frame(self, trades: pl.DataFrame) -> list[PairBar]:
        """Take a batch of trades at once; return every bar they made final.

        The same bars, late count and state as :meth:`add` on each row in order, computed
        over whole columns when the batch is in trade order (a replay's is): times never
        decreasing, each leg's ids not decreasing within a millisecond, nothing before what
        the builder has seen, and no hold. Any other batch goes through :meth:`add` row by row.

        Args:
            trades: Columns :data:`TRADE_COLUMNS`, in arrival order.
        """
        if not trades.height:
            return []
        cols = [trades[c].to_numpy() for c in TRADE_COLUMNS]
        legs, times, ids = cols[0], cols[1], cols[5]
        rows = (np.flatnonzero(legs == 0), np.flatnonzero(legs == 1))
        leg_times = (times[rows[0]], times[rows[1]])
        if self._holds or not self._in_order(rows, times, leg_times, ids):
            return self.add_many(trades_of(trades, self.symbols))
        tf = self.timeframe_ms
        first = int(times[0]) - int(times[0]) % tf
        if self._next is None:
            self._next = first
        elif first < self._next:
            return self.add_many(trades_of(trades, self.symbols))  # late trades: counted one by one
        done = [self._fold_leg(leg, rows[leg], leg_times[leg], cols) for leg in (0, 1)]
        for leg, folded in enumerate(done):
            if folded.seen > self._seen[leg]:
                self._seen[leg] = folded.seen
        both = min(self._seen)
        if both < self._next + tf:
            self._keep_open(done, None)
            return []
        limit = both - both % tf
        out = self._bars_until(limit, done)
        self._keep_open(done, limit)
        self._next = limit
        self._emitted = True
        return out

    def _in_order(
        self,
        rows: tuple[np.ndarray, np.ndarray],
        times: np.ndarray,
        leg_times: tuple[np.ndarray, np.ndarray],
        ids: np.ndarray,
    ) -> bool:
        """Whether a batch can be taken over whole columns (see :meth:`add_frame`)."""
        if times.size > 1 and bool((times[1:] < times[:-1]).any()):
            return False
        for leg, mine in enumerate(rows):
            t, i = leg_times[leg], ids[mine]
            if not t.size:
                continue
            if t.size > 1 and bool(((t[1:] == t[:-1]) & (i[1:] < i[:-1])).any()):
                return False
            if int(t[0]) < self._seen[leg]:
                return False
            newest = self._newest[leg]
            if newest is not None:
                last = newest.last
                if int(t[0]) == last.time and int(i[0]) < last.id:
                    return False
            elif any(self._open[leg]):
                return False  # open buckets but none at hand: a state add() left; keep to add()
        return True

    def _fold_leg(
        self, leg: int, mine: np.ndarray, times: np.ndarray, cols: list[np.ndarray]
    ) -> FoldedLeg:
        """One leg's buckets of a batch (its rows ``mine``, at ``times``), merged with the
        buckets the leg has open."""
        prices, qtys = cols[2], cols[3]
        buckets = self._open[leg]
        old = sorted(buckets)
        folded = FoldedLeg(self.symbols[leg], self.timeframe_ms)
        if not mine.size:
            folded.keys = old
            folded.bars = [buckets[k].bar() for k in old]
            folded.held = [buckets[k] for k in old]
            return folded
        tf = self.timeframe_ms
        start = int(times[0]) - int(times[0]) % tf
        newest = self._newest[leg]
        carried = newest if newest is not None and newest.start == start else None
        folds = (
            _folded(mine, times, prices[mine], qtys[mine], tf, carried)
            if _fold_leg is None
            else _folded_in_c(cols, leg, tf, start, int(times[-1]), carried)
        )
        starts, first_rows, last_rows, high, low, volume, count = folds
        keys = starts.tolist()
        bars = list(
            map(
                Bar,
                prices[first_rows].tolist(),
                high.tolist(),
                low.tolist(),
                prices[last_rows].tolist(),
                volume.tolist(),
                count.tolist(),
            )
        )
        if carried is not None:
            head = bars[0]
            bars[0] = Bar(
                carried.first.price,
                max(head.high, carried.high),
                min(head.low, carried.low),
                head.close,
                head.volume,
                head.trades + carried.trades,
            )
        stay = [k for k in old if k < keys[0]]  # opened before, no trade of theirs here
        folded.seen = int(times[-1])
        folded.keys = [*stay, *keys]
        folded.bars = [*(buckets[k].bar() for k in stay), *bars]
        folded.held = [buckets[k] for k in stay]
        folded.batch = (len(stay), keys, first_rows, last_rows, cols, carried)
        return folded

    def _bars_until(self, limit: int, done: list[FoldedLeg]) -> list[PairBar]:
        """The bars of ``[_next, limit)``, both legs, flat where a leg did not trade."""
        nxt = self._next
        assert nxt is not None
        tf = self.timeframe_ms
        columns: list[list[Bar | None]] = []
        for leg, folded in enumerate(done):
            keys, bars = folded.keys, folded.bars
            close = self._last_close[leg]
            # Every bucket from _next on is open or in the batch, so keys[:end] are all in
            # [_next, limit); as many as the grid has means the leg traded in each.
            end = bisect_left(keys, limit)
            if end == (limit - nxt) // tf:
                column: list[Bar | None] = list(bars[:end])
                if end:
                    close = bars[end - 1].close
            else:
                column = []
                ts = nxt
                for key, bar in zip(keys[:end], bars[:end], strict=True):
                    if key > ts:  # silent buckets: flat at the close before them
                        column += [None if close is None else Bar.flat(close)] * ((key - ts) // tf)
                    column.append(bar)
                    close = bar.close
                    ts = key + tf
                if limit > ts:
                    column += [None if close is None else Bar.flat(close)] * ((limit - ts) // tf)
            self._last_close[leg] = close
            columns.append(column)
        return list(map(PairBar, range(nxt, limit, tf), columns[0], columns[1]))

    def _keep_open(self, done: list[FoldedLeg], limit: int | None) -> None:
        """Leave every bucket at or after ``limit`` open, as :meth:`add` would have."""
        for leg, folded in enumerate(done):
            buckets = self._open[leg]
            buckets.clear()
            newest = None
            for j, k in enumerate(folded.keys):
                if limit is None or k >= limit:
                    buckets[k] = newest = folded.bucket(j)
            self._newest[leg] = newest

    def advance(self, exchange_now_ms: float) -> list[PairBar]:
        """Finalise every bucket whose end plus the grace the exchange clock has passed."""
        if self._next is None:
            return []
        self._expire_holds(exchange_now_ms)
        return self._finalise_before(int(exchange_now_ms) - self.grace_ms)

    def flush(self) -> list[PairBar]:
        """End of input: finalise every bucket up to the last trade seen."""
        self._holds.clear()
        last = max(self._seen)
        if self._next is None or last < 0:
            return []
        return self._finalise_before(last - last % self.timeframe_ms + self.timeframe_ms)

    def hold(
        self,
        symbol: str,
        from_time_ms: int,
        exchange_now_ms: float | None = None,
        *,
        timeout_ms: int | None = None,
    ) -> None:
        """Make bars ending after ``from_time_ms`` wait, e.g. while missing trades are fetched.

        Args:
            symbol: What is awaited (a symbol's backfill, or any name for other waits).
            from_time_ms: Bars ending after this wait.
            exchange_now_ms: The clock now (ignored with a hold clock).
            timeout_ms: How long the hold may last; ``hold_timeout_ms`` by default.
        """
        if self._hold_clock is not None:
            exchange_now_ms = self._hold_clock()
        started = None if exchange_now_ms is None else int(exchange_now_ms)
        self._holds[symbol] = Hold(from_time_ms, started, timeout_ms or self.hold_timeout_ms)

    def release(self, symbol: str) -> list[PairBar]:
        """End a hold; return the bars both legs have traded past, which waited for it."""
        self._holds.pop(symbol, None)
        if self._next is None:
            return []
        return self._finalise_before(min(self._seen))

    def renew_holds(self, exchange_now_ms: float) -> None:
        """Restart every hold's timeout.

        For a source that cannot deliver right now (it is reconnecting): the wait for its
        backfill starts when it can fetch again, so an outage longer than the timeout does not
        finalise bars that the backfill after it would fill.
        """
        if self._hold_clock is not None:
            exchange_now_ms = self._hold_clock()
        for hold in self._holds.values():
            hold.started = int(exchange_now_ms)

    def start_at(self, start_ms: int, close_a: float | None, close_b: float | None) -> int:
        """Continue bars that history made final up to ``start_ms`` (the warm start).

        Bars from ``start_ms`` on come from trades; a bucket without trades repeats the
        history's last closes. Trades held before ``start_ms`` are dropped: history has them.

        Args:
            start_ms: The first bucket to build, on this builder's grid.
            close_a: Leg A's last close in history, or None.
            close_b: Leg B's last close in history, or None.

        Returns:
            How many held trades were before ``start_ms`` and dropped.
        """
        dropped = 0
        for leg, buckets in enumerate(self._open):
            for start in [s for s in buckets if s < start_ms]:
                bucket = buckets.pop(start)
                dropped += bucket.trades
                if bucket is self._newest[leg]:
                    self._newest[leg] = None
        for leg, close in enumerate((close_a, close_b)):
            if close is not None:
                self._last_close[leg] = close
        self._next = start_ms
        self._emitted = True
        return dropped

    def _expire_holds(self, exchange_now_ms: float) -> None:
        if self._hold_clock is not None:
            exchange_now_ms = self._hold_clock()
        for symbol, hold in list(self._holds.items()):
            if hold.started is None:
                hold.started = int(exchange_now_ms)
            elif exchange_now_ms - hold.started > hold.timeout_ms:
                del self._holds[symbol]

    def _finalise_before(self, limit_ms: int) -> list[PairBar]:
        """Finalise buckets whose end is at or before ``limit_ms``."""
        nxt = self._next
        assert nxt is not None
        tf = self.timeframe_ms
        if self._holds:
            hold_from = min(hold.from_ms for hold in self._holds.values())
            held_limit = hold_from - hold_from % tf
            limit_ms = min(limit_ms, held_limit)
        out: list[PairBar] = []
        open_a, open_b = self._open
        while nxt + tf <= limit_ms:
            out.append(
                PairBar(
                    nxt,
                    self._close_leg(0, open_a.pop(nxt, None)),
                    self._close_leg(1, open_b.pop(nxt, None)),
                )
            )
            nxt += tf
            if not open_a and not open_b and nxt + tf <= limit_ms:
                # A long silence: nothing is open, so the buckets up to the limit are all flat.
                out.extend(self._flat_until(nxt, limit_ms))
                nxt = out[-1].ts + tf
        self._next = nxt
        if out:
            self._emitted = True
        return out

    def _flat_until(self, start: int, limit_ms: int) -> list[PairBar]:
        tf = self.timeframe_ms
        a, b = self._last_close
        bar_a = None if a is None else Bar.flat(a)
        bar_b = None if b is None else Bar.flat(b)
        return [PairBar(ts, bar_a, bar_b) for ts in range(start, limit_ms - tf + 1, tf)]

    def _close_leg(self, leg: int, bucket: Bucket | None) -> Bar | None:
        if bucket is not None:
            if bucket is self._newest[leg]:
                self._newest[leg] = None
            self._last_close[leg] = bucket.close
            return bucket.bar()
        last = self._last_close[leg]
        return None if last is None else Bar.flat(last)


class _Fold:
    """One leg's longer bar being folded from its sub-bars."""

    __slots__ = ("close", "high", "low", "open", "trades", "volume")

    def __init__(self) -> None:
        self.open: float | None = None
        """Open of the first sub-bar that traded; None while none has."""
        self.high = self.low = 0.0
        self.volume = 0.0
        self.trades = 0
        self.close: float | None = None
        """Close of the latest sub-bar; None before the leg's first trade."""

    def add(self, sub: Bar) -> None:
        if sub.trades:
            if self.open is None:
                self.open, self.high, self.low = sub.open, sub.high, sub.low
            else:
                self.high = max(self.high, sub.high)
                self.low = min(self.low, sub.low)
            self.volume += sub.volume
            self.trades += sub.trades
        self.close = sub.close

    def bar(self) -> Bar | None:
        if self.close is None:
            return None
        if self.open is None:
            return Bar.flat(self.close)
        return Bar(self.open, self.high, self.low, self.close, self.volume, self.trades)


class BarAggregator:
    """Folds final bars of a shorter timeframe into final bars of a longer one.

    Bars of the shorter timeframe must arrive in order and without holes, as
    :class:`BarBuilder` emits them. A leg's open, high and low come from the sub-bars that
    traded; a bucket where the leg did not trade at all is flat at the previous close.

    Args:
        timeframe_ms: Length of the output buckets; a multiple of the input's.
        sub_timeframe_ms: Length of the input buckets.
    """

    def __init__(self, timeframe_ms: int, sub_timeframe_ms: int = 1_000) -> None:
        if timeframe_ms % sub_timeframe_ms:
            raise ValueError(f"{timeframe_ms} ms is not a multiple of {sub_timeframe_ms} ms")
        self.timeframe_ms = timeframe_ms
        self.sub_timeframe_ms = sub_timeframe_ms
        self._start: int | None = None
        self._legs = (_Fold(), _Fold())

    def add(self, bar: PairBar) -> PairBar | None:
        """Take one final sub-bar; return the longer bar it completes, if any."""
        tf = self.timeframe_ms
        start = bar.ts - bar.ts % tf
        if self._start is None:
            self._start = start
        for fold, sub in zip(self._legs, (bar.a, bar.b), strict=True):
            if sub is not None:
                fold.add(sub)
        if bar.ts + self.sub_timeframe_ms < start + tf:
            return None
        return self._close(start)

    def flush(self) -> PairBar | None:
        """End of input: close the bucket in progress, if any bar went into it."""
        start = self._start
        if start is None or all(fold.close is None for fold in self._legs):
            return None
        return self._close(start)

    def _close(self, start: int) -> PairBar:
        a, b = self._legs
        out = PairBar(start, a.bar(), b.bar())
        self._legs = (_Fold(), _Fold())
        self._start = start + self.timeframe_ms
        return out


def _folded_in_c(
    cols: list[np.ndarray], leg: int, tf: int, start: int, last_time: int, carried: Bucket | None
) -> tuple[np.ndarray, ...]:
    """:func:`_folded` in one pass over the batch (:func:`pairs_tui._runs.fold_leg`), for the
    leg's trades from the bucket at ``start`` to ``last_time``."""
    assert _fold_leg is not None
    room = (last_time - start) // tf + 1  # at most a bucket a timeframe
    starts, first, last, count = (np.empty(room, np.int64) for _ in range(4))
    high, low, volume = np.empty((3, room))
    n = _fold_leg(
        np.ascontiguousarray(cols[0], np.uint8),
        np.ascontiguousarray(cols[1], np.int64),
        np.ascontiguousarray(cols[2], np.float64),
        np.ascontiguousarray(cols[3], np.float64),
        leg,
        tf,
        math.nan if carried is None else carried.volume,
        starts,
        first,
        last,
        high,
        low,
        volume,
        count,
    )
    return tuple(column[:n] for column in (starts, first, last, high, low, volume, count))


def _folded(
    mine: np.ndarray,
    times: np.ndarray,
    prices: np.ndarray,
    qtys: np.ndarray,
    tf: int,
    carried: Bucket | None,
) -> tuple[np.ndarray, ...]:
    """One leg's buckets of a batch, with numpy where :func:`pairs_tui._runs.fold_leg` could
    not be built: each bucket's start, first and last row in the batch, high, low, volume (from
    the volume of the open bucket ``carried`` that the first continues) and trades.

    Args:
        mine: The leg's rows in the batch.
        times: Their times; ``prices`` and ``qtys`` theirs too.
    """
    starts = times - times % tf
    if carried is not None:
        qtys = np.concatenate(([carried.volume], qtys))  # the volume so far, then in order
    extra = 0 if carried is None else 1
    edges = np.flatnonzero(starts[1:] != starts[:-1]) + 1
    first = np.concatenate(([0], edges))
    last = np.concatenate((edges, [starts.size])) - 1
    return (
        starts[first],
        mine[first],
        mine[last],
        np.maximum.reduceat(prices, first),
        np.minimum.reduceat(prices, first),
        summed_in_order(qtys, np.append(edges + extra, qtys.size)),
        last - first + 1,
    )
