"""Windowed sums of two legs, O(1) per bar, in float64, anchored and periodically recomputed.

The window holds the last ``W`` bars. For each bar it keeps the analysis prices ``x``, ``y`` (log
or raw), the raw closes ``a``, ``b`` and the log returns of both legs, and it keeps running sums
of them from which every rolling statistic is derived:

* levels: Σx, Σy, Σx², Σy², Σxy over the window;
* lagged cross-products over the ``W - 1`` neighbouring pairs in the window: Σx₋x, Σx₋y, Σy₋x,
  Σy₋y (``x₋`` is the bar before): with the levels they give the AR(1) co-moments of the in-sample
  residuals of *any* hedge ratio, which is what makes an exact O(1) half-life possible;
* raw closes: Σa, Σa², Σb, Σb² (the per-leg mean and standard deviation in price units);
* returns: Σr, Σr², Σr_a·r_b over the last ``W`` log returns.

Running sums of raw log prices lose digits: ``Σx² - (Σx)²/W`` cancels about eight of them when
``x ≈ 8`` moves by ``1e-4``. So levels are summed as offsets from an anchor (the window mean at
the last exact recomputation), and every ``W`` bars (at least every 256) the sums are recomputed
from the kept values with a fresh anchor, so that add/remove rounding never accumulates.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

MIN_RECOMPUTE_EVERY = 256
"""Bars between exact recomputations for small windows (large windows use ``W``)."""


class WindowSums:
    """Running sums over the last ``window`` bars of a pair, with flat-leg detection.

    Args:
        window: Bars in the window (at least 3).
        log_prices: Whether ``x``, ``y`` are log prices (else the raw closes).

    Raises:
        ValueError: If ``window`` is below 3.
    """

    # Slots: the per-bar path reads and writes about forty of these.
    __slots__ = (
        "as_", "bs", "ka", "kb", "kx", "ky", "last_ln_a", "last_ln_b", "log_prices", "lxx",
        "lxy", "lyx", "lyy", "ras", "rbs", "recompute_every", "run_a", "run_b", "sa", "saa",
        "sb", "sbb", "since_recompute", "sra", "sraa", "srab", "srb", "srbb", "sx", "sxx", "sxy",
        "sy", "syy", "window", "xs", "ys",
    )  # fmt: skip

    def __init__(self, window: int, log_prices: bool) -> None:
        if window < 3:
            raise ValueError(f"window must be at least 3 bars, got {window}")
        self.window = window
        """Bars in the window."""
        self.log_prices = log_prices
        """Whether ``x``, ``y`` are ``ln b``, ``ln a`` (else ``b``, ``a``)."""
        self.recompute_every = max(window, MIN_RECOMPUTE_EVERY)
        """Bars between exact recomputations of every sum from the kept values."""
        self.reset()

    def reset(self) -> None:
        """Forget every bar."""
        self.xs: deque[float] = deque()
        """Analysis price of the hedge leg B (``ln b`` or ``b``), oldest first."""
        self.ys: deque[float] = deque()
        """Analysis price of the target leg A, oldest first."""
        self.as_: deque[float] = deque()
        """Raw close of leg A, oldest first."""
        self.bs: deque[float] = deque()
        """Raw close of leg B, oldest first."""
        self.ras: deque[float] = deque()
        """Log returns of leg A, the last ``window`` of them."""
        self.rbs: deque[float] = deque()
        """Log returns of leg B, the last ``window`` of them."""
        self.last_ln_a: float | None = None
        self.last_ln_b: float | None = None
        self.run_a = 0
        """How many of the latest closes of A are equal to the last one."""
        self.run_b = 0
        """How many of the latest closes of B are equal to the last one."""
        self.since_recompute = 0
        # Anchors: the levels are summed as offsets from these.
        self.kx = self.ky = self.ka = self.kb = 0.0
        self.sx = self.sy = self.sxx = self.syy = self.sxy = 0.0
        self.lxx = self.lxy = self.lyx = self.lyy = 0.0
        self.sa = self.saa = self.sb = self.sbb = 0.0
        self.sra = self.srb = self.sraa = self.srbb = self.srab = 0.0

    def __len__(self) -> int:
        return len(self.xs)

    @property
    def full(self) -> bool:
        """Whether the window holds ``window`` bars."""
        return len(self.xs) == self.window

    @property
    def flat_a(self) -> bool:
        """Leg A has the same close on every bar of the window."""
        return self.run_a >= self.window

    @property
    def flat_b(self) -> bool:
        """Leg B has the same close on every bar of the window."""
        return self.run_b >= self.window

    def push(self, a: float, b: float) -> None:
        """Add the next bar's closes, dropping the oldest bar once the window is full.

        Args:
            a: Close of leg A (the target), positive and finite.
            b: Close of leg B (the hedge leg), positive and finite.
        """
        ln_a = math.log(a)
        ln_b = math.log(b)
        if self.log_prices:
            x, y = ln_b, ln_a
        else:
            x, y = b, a
        xs, ys = self.xs, self.ys
        if xs:
            self.run_a = self.run_a + 1 if a == self.as_[-1] else 1
            self.run_b = self.run_b + 1 if b == self.bs[-1] else 1
            # Same expression as np.diff(np.log(close)), so returns match a batch computation.
            ra = ln_a - self.last_ln_a  # type: ignore[operator]
            rb = ln_b - self.last_ln_b  # type: ignore[operator]
            self.ras.append(ra)
            self.rbs.append(rb)
            self.sra += ra
            self.srb += rb
            self.sraa += ra * ra
            self.srbb += rb * rb
            self.srab += ra * rb
            if len(self.ras) > self.window:
                oa = self.ras.popleft()
                ob = self.rbs.popleft()
                self.sra -= oa
                self.srb -= ob
                self.sraa -= oa * oa
                self.srbb -= ob * ob
                self.srab -= oa * ob
        else:
            self.run_a = self.run_b = 1
            # Anchor on the first bar until the first recomputation: summing raw log prices
            # from zero would lose seven or eight digits of Σ(x - x̄)² right away.
            self.kx, self.ky, self.ka, self.kb = x, y, a, b
        self.last_ln_a = ln_a
        self.last_ln_b = ln_b

        kx, ky = self.kx, self.ky
        xa = x - kx
        ya = y - ky
        if xs:
            px = xs[-1] - kx
            py = ys[-1] - ky
            self.lxx += px * xa
            self.lxy += px * ya
            self.lyx += py * xa
            self.lyy += py * ya
        xs.append(x)
        ys.append(y)
        self.as_.append(a)
        self.bs.append(b)
        self.sx += xa
        self.sy += ya
        self.sxx += xa * xa
        self.syy += ya * ya
        self.sxy += xa * ya
        da = a - self.ka
        db = b - self.kb
        self.sa += da
        self.sb += db
        self.saa += da * da
        self.sbb += db * db

        if len(xs) > self.window:
            ox = xs.popleft() - kx
            oy = ys.popleft() - ky
            nx = xs[0] - kx
            ny = ys[0] - ky
            self.lxx -= ox * nx
            self.lxy -= ox * ny
            self.lyx -= oy * nx
            self.lyy -= oy * ny
            self.sx -= ox
            self.sy -= oy
            self.sxx -= ox * ox
            self.syy -= oy * oy
            self.sxy -= ox * oy
            da = self.as_.popleft() - self.ka
            db = self.bs.popleft() - self.kb
            self.sa -= da
            self.sb -= db
            self.saa -= da * da
            self.sbb -= db * db

        self.since_recompute += 1
        if self.since_recompute >= self.recompute_every:
            self.recompute()

    def load(self, closes_a: list[float], closes_b: list[float]) -> None:
        """Replace the state with the given closes (oldest first) and recompute exactly.

        Equivalent to :meth:`reset` then :meth:`push` of each pair, in O(n) numpy work instead
        of n Python steps. Only the last ``window + 1`` closes matter.

        Args:
            closes_a: Closes of leg A, positive and finite.
            closes_b: Closes of leg B, same length.
        """
        self.reset()
        keep = self.window + 1
        closes_a = closes_a[-keep:]
        closes_b = closes_b[-keep:]
        if not closes_a:
            return
        a = np.asarray(closes_a, dtype=np.float64)
        b = np.asarray(closes_b, dtype=np.float64)
        ln_a = np.log(a)
        ln_b = np.log(b)
        self.run_a = _trailing_run(a)
        self.run_b = _trailing_run(b)
        self.ras.extend(np.diff(ln_a).tolist()[-self.window :])
        self.rbs.extend(np.diff(ln_b).tolist()[-self.window :])
        self.last_ln_a = float(ln_a[-1])
        self.last_ln_b = float(ln_b[-1])
        x, y = (ln_b, ln_a) if self.log_prices else (b, a)
        self.xs.extend(x[-self.window :].tolist())
        self.ys.extend(y[-self.window :].tolist())
        self.as_.extend(a[-self.window :].tolist())
        self.bs.extend(b[-self.window :].tolist())
        self.recompute()

    def recompute(self) -> None:
        """Recompute every sum from the kept values, re-anchored on the window means."""
        self.since_recompute = 0
        n = len(self.xs)
        if n == 0:
            return
        x = np.fromiter(self.xs, np.float64, n)
        y = np.fromiter(self.ys, np.float64, n)
        a = np.fromiter(self.as_, np.float64, n)
        b = np.fromiter(self.bs, np.float64, n)
        self.kx = kx = float(x.mean())
        self.ky = ky = float(y.mean())
        self.ka = ka = float(a.mean())
        self.kb = kb = float(b.mean())
        xa = x - kx
        ya = y - ky
        self.sx = float(xa.sum())
        self.sy = float(ya.sum())
        self.sxx = float(xa @ xa)
        self.syy = float(ya @ ya)
        self.sxy = float(xa @ ya)
        self.lxx = float(xa[:-1] @ xa[1:])
        self.lxy = float(xa[:-1] @ ya[1:])
        self.lyx = float(ya[:-1] @ xa[1:])
        self.lyy = float(ya[:-1] @ ya[1:])
        da = a - ka
        db = b - kb
        self.sa = float(da.sum())
        self.sb = float(db.sum())
        self.saa = float(da @ da)
        self.sbb = float(db @ db)
        m = len(self.ras)
        if m:
            ra = np.fromiter(self.ras, np.float64, m)
            rb = np.fromiter(self.rbs, np.float64, m)
            self.sra = float(ra.sum())
            self.srb = float(rb.sum())
            self.sraa = float(ra @ ra)
            self.srbb = float(rb @ rb)
            self.srab = float(ra @ rb)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The window's analysis prices ``(y, x)`` as new float64 arrays, oldest first."""
        n = len(self.xs)
        return np.fromiter(self.ys, np.float64, n), np.fromiter(self.xs, np.float64, n)


def _trailing_run(values: np.ndarray) -> int:
    """How many of the last values equal the last one."""
    differs = np.flatnonzero(values != values[-1])
    return len(values) if differs.size == 0 else len(values) - 1 - int(differs[-1])
