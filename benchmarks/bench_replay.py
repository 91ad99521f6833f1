"""Replay throughput: ``--replay FILE`` end to end against a bare msgspec decode of the same file.

Goals (issue 17, "replay at the speed of reading"): bars from an NDJSON recording at 0.8 of a
bare msgspec decode of the same file or better; ``--record`` Parquet at 10M trades/s or more;
memory bounded by the bars, not the file. Session B (the package's recording) is repeated,
shifted in time and id, to about a million trades, and written as:

- the combined-stream NDJSON, gzipped (as recorded) and plain;
- the same frames behind a cryptofeed receive-time prefix (the line-by-line reader's path);
- the gzipped NDJSON cut into 20 files that follow one another (hourly captures);
- Binance archive CSVs, one per symbol, gzipped;
- ``--record`` Parquet, partitioned by symbol and date, a file every 15 minutes as the recorder
  writes it, read as its size has it (whole up to ``parquet.WHOLE`` rows, in windows of time
  above), in windows (as one above ``parquet.WHOLE`` is) and in groups of files, twice (as one
  the windows cannot read is); and the same trades in a file a symbol a day, read in slices (as
  files bigger than ``parquet.GROUP`` rows whose times all meet are).

"replay → bars" is what a user waits for before analytics: ``ReplaySource(paths, pair)`` (open,
decompress, parse, check, merge) plus ``run()`` at full speed into a sink that builds the 1s bars
in bulk (:meth:`~pairs_tui.bars.BarBuilder.add_frame`, what the pipeline does); "trade by trade"
is the same into a sink that takes one :class:`~pairs_tui.records.Trade` at a time and builds the
bars with :meth:`~pairs_tui.bars.BarBuilder.add` (the path before issue 17). "bare" reads the
same bytes, gunzips them, splits lines and decodes each with one typed msgspec Struct
(``T, s, p, q, m``), the fastest per-line decode measured in the
research notes, keeping nothing. Variants run interleaved round-robin; median and best of the
repeats are printed, with the noise probe before and after.

    python -m benchmarks.bench_replay [--copies N] [--repeats R] [--no-before]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import cast

import msgspec
import polars as pl

from pairs_tui.bars import BarBuilder
from pairs_tui.feed.replay import parquet
from pairs_tui.feed.replay.load import load_trades
from pairs_tui.feed.replay.source import ReplaySource

# The replay's own line struct: the baseline decodes exactly the fields replay reads.
from pairs_tui.feed.schemas.ws import RecordedFrame
from pairs_tui.records import MarkPrice, PairBar, Trade

PAIR = ("BTCUSDT", "ETHUSDT")
SESSION = (
    Path(__file__).resolve().parent.parent
    / "src"
    / "pairs_tui"
    / "data"
    / "sessionB_btcusdt_ethusdt_trades.ndjson.gz"
)


class _Payload(msgspec.Struct, gc=False):
    """The research notes' fastest per-line decode: only ``T, s, p, q, m``."""

    T: int
    s: str
    p: float
    q: float
    m: bool


class _Envelope(msgspec.Struct, gc=False):
    data: _Payload


BARE = {
    "bare msgspec (T,s,p,q,m)": msgspec.json.Decoder(_Envelope, strict=False).decode,
    "bare msgspec (+ e, id, X)": msgspec.json.Decoder(RecordedFrame, strict=False).decode,
}
"""The baselines: a typed decode of every line, keeping nothing."""


class _Sink:
    """Builds the 1s bars one trade at a time (the live builder's per-trade path)."""

    def __init__(self) -> None:
        self.builder = BarBuilder(PAIR, 1_000)
        self.bars = 0

    def on_trade(self, trade: Trade) -> None:
        self.bars += len(self.builder.add(trade))

    def on_mark(self, mark: MarkPrice) -> None:
        pass

    def on_bar(self, bar: PairBar, timeframe_ms: int) -> None:
        pass

    def hold(self, symbol: str, from_time_ms: int) -> None:
        pass

    def release(self, symbol: str) -> None:
        pass


class _BulkSink(_Sink):
    """Builds the 1s bars a batch at a time, as the pipeline does at full speed."""

    def on_trade_frame(self, symbols: tuple[str, str], trades: pl.DataFrame) -> None:
        self.bars += len(self.builder.add_frame(trades))


def probe() -> float:
    """The fixed noise probe of the research notes: a 2M-iteration pure-Python loop, ms."""
    t0 = time.perf_counter()
    x = 0
    for i in range(2_000_000):
        x += i
    return (time.perf_counter() - t0) * 1e3


_PARTS = 20
"""Files the session is cut into for the many-files layout."""
_SEGMENT_MS = 15 * 60_000
"""The recorder's segment: a file a symbol every 15 minutes."""


def make_inputs(folder: Path, copies: int) -> dict[str, list[Path]]:
    """Session B repeated ``copies`` times back to back, in every layout measured."""
    lines = gzip.decompress(SESSION.read_bytes()).splitlines()
    frames = [msgspec.json.decode(line) for line in lines]
    start = min(f["data"]["T"] for f in frames)
    span = max(f["data"]["T"] for f in frames) - start + 1_000
    out: list[bytes] = []
    for k in range(copies):
        for frame in frames:
            data = dict(frame["data"])
            data["T"] += k * span
            data["E"] += k * span
            data["t"] += k * 100_000
            out.append(msgspec.json.encode({"stream": frame["stream"], "data": data}))
    body = b"\n".join(out) + b"\n"
    inputs: dict[str, list[Path]] = {}
    plain = folder / "session.ndjson"
    plain.write_bytes(body)
    packed = folder / "session.ndjson.gz"
    packed.write_bytes(gzip.compress(body, compresslevel=6))
    prefixed = folder / "capture.txt"
    prefixed.write_bytes(b"\n".join(b"1723161255.088176: " + line for line in out) + b"\n")
    inputs["NDJSON.gz (as recorded)"] = [packed]
    inputs["NDJSON plain"] = [plain]
    inputs["cryptofeed prefix (line by line)"] = [prefixed]
    # The same session cut into files that follow one another, as hourly captures are.
    parts = []
    for i in range(_PARTS):
        parts.append(folder / f"part-{i:02}.ndjson.gz")
        piece = out[i * len(out) // _PARTS : (i + 1) * len(out) // _PARTS]
        parts[-1].write_bytes(gzip.compress(b"\n".join(piece) + b"\n", compresslevel=6))
    inputs[f"NDJSON.gz in {_PARTS} files"] = parts
    trades = load_trades([plain], PAIR)
    csvs = []
    for symbol in PAIR:
        path = folder / f"{symbol}-trades-2024-08-08.csv.gz"
        path.write_bytes(
            gzip.compress(
                trades.filter(pl.col("symbol") == symbol)
                .select(
                    "id",
                    "price",
                    "qty",
                    (pl.col("price") * pl.col("qty")).alias("quote_qty"),
                    "time",
                    pl.col("buyer_maker").cast(pl.String).alias("is_buyer_maker"),
                )
                .write_csv()
                .encode(),
                compresslevel=6,
            )
        )
        csvs.append(path)
    inputs["archive CSV.gz x2"] = csvs
    dated = trades.with_columns(
        pl.from_epoch("time", "ms").dt.date().alias("date"),
        (pl.col("time") // _SEGMENT_MS).alias("slot"),
    )
    # As the recorder writes it: a file a symbol every 15 minutes, named by its first trade;
    # and the same trades in a file a symbol a day.
    for keys in (("symbol", "date", "slot"), ("symbol", "date")):
        root = folder / ("rec" if len(keys) == 3 else "daily")
        for (symbol, date, *_), part in dated.group_by(*keys, maintain_order=True):
            leaf = root / f"symbol={symbol}" / f"date={date}"
            leaf.mkdir(parents=True, exist_ok=True)
            name = f"{part['time'][0]}-3fa94c1e.parquet" if len(keys) == 3 else "part-0.parquet"
            part.select("time", "price", "qty", "buyer_maker", "id").write_parquet(leaf / name)
    inputs["Parquet (--record)"] = [folder / "rec"]
    inputs[WINDOWS] = [folder / "rec"]
    inputs[GROUPS] = [folder / "rec"]
    inputs[DAILY] = [folder / "daily"]
    return inputs


def bare(paths: list[Path], decode: Callable[[bytes], object]) -> int:
    """Read, gunzip, split and decode every line with a typed Struct; keep nothing."""
    n = 0
    for path in paths:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        prefixed = data.startswith(b"1")  # the cryptofeed capture: "<receive time>: <frame>"
        for line in data.splitlines():
            decode(line[line.index(b"{") :] if prefixed else line)
            n += 1
    return n


WINDOWS = "Parquet (--record), in windows"
"""The same recording, read a window of time at a time, as one above ``parquet.WHOLE`` rows is."""
GROUPS = "Parquet (--record), in groups"
"""The same recording, read a group of files at a time, twice, as one above ``parquet.WHOLE``
rows that the windows cannot read is."""
DAILY = "Parquet, a file a day, in slices"
"""The same trades in a file a symbol a day, each file bigger than ``parquet.GROUP`` rows and
read in slices of ``parquet.BLOCK``, as one above ``parquet.WHOLE`` rows whose files all meet in
time is."""
FORCED = {WINDOWS: -1, GROUPS: 0, DAILY: 0}
"""``parquet.WHOLE`` for the inputs read as a bigger recording is: -1 for one row fewer than
the recording holds (files whose times meet are still read together, up to ``WHOLE``), 0 for
none (so no files are read together either)."""


def replay(
    paths: list[Path], sink: type[_Sink] = _BulkSink, *, whole: int | None = None
) -> tuple[int, float]:
    """Open and run a full-speed replay into bars; returns (trades, seconds spent opening).
    ``whole`` stands for ``parquet.WHOLE`` (-1: one row fewer than the recording holds)."""
    kept = parquet.WHOLE
    if whole is not None:
        parquet.WHOLE = _rows(paths) - 1 if whole < 0 else whole
    try:
        t0 = time.perf_counter()
        source = ReplaySource(paths, PAIR)
        opened = time.perf_counter() - t0
        asyncio.run(source.run(sink()))
    finally:
        parquet.WHOLE = kept
    return source.status.messages, opened


def _rows(paths: list[Path]) -> int:
    """The rows of a Parquet recording."""
    return int(
        pl.scan_parquet([p / "**" / "*.parquet" for p in paths]).select(pl.len()).collect().item()
    )


PEAK = """
import asyncio, sys
from benchmarks.bench_replay import PAIR, _BulkSink
from pairs_tui.feed.replay import parquet
from pairs_tui.feed.replay.source import ReplaySource
def hwm():
    with open("/proc/self/status") as status:
        return next(int(x.split()[1]) for x in status if x.startswith("VmHWM"))
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # the peak so far is the parent's, inherited through fork: reset it
before = hwm()
paths = sys.argv[1:]
if paths[0] == "--whole":
    parquet.WHOLE, paths = int(paths[1]), paths[2:]
sink = _BulkSink()
asyncio.run(ReplaySource(paths, PAIR).run(sink))
print(before, hwm(), sink.bars)
"""


def peak_rss(paths: list[Path], *, whole: int | None = None) -> tuple[float, float, int]:
    """Peak RSS of a fresh process replaying ``paths`` into bars: (MB after imports, MB peak,
    bars); ``whole`` as for :func:`replay`."""
    forced = [] if whole is None else ["--whole", str(_rows(paths) - 1 if whole < 0 else whole)]
    out = subprocess.run(
        [sys.executable, "-c", PEAK, *forced, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout.split()
    return int(out[0]) / 1024, int(out[1]) / 1024, int(out[2])


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--copies", type=int, default=30, help="session B repeats (30: ~1.06M)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--no-before", dest="before", action="store_false", help="skip the trade-by-trade path"
    )
    args = parser.parse_args()
    print(f"noise probe before: {probe():.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp), args.copies)
        lines = [k for k in inputs if "NDJSON" in k or "cryptofeed" in k]
        times: dict[tuple[str, str], list[float]] = {}
        opens: dict[str, list[float]] = {k: [] for k in inputs}
        trades = 0
        for _ in range(args.repeats):  # interleaved: a slow phase of the host hits all alike
            for name, paths in inputs.items():
                if name in lines:
                    for base, decode in BARE.items():
                        seconds, _ = timed(partial(bare, paths, decode))
                        times.setdefault((base, name), []).append(seconds)
                seconds, result = timed(partial(replay, paths, whole=FORCED.get(name)))
                trades, opened = cast(tuple[int, float], result)
                times.setdefault(("replay", name), []).append(seconds)
                opens[name].append(opened)
                if args.before and name not in FORCED:
                    seconds, _ = timed(partial(replay, paths, _Sink))
                    times.setdefault(("trade by trade", name), []).append(seconds)
        print(f"{trades:,} trades, {args.repeats} interleaved repeats; trades/s, median (best)")
        print(f"{'input':<34} {'variant':<28} {'trades/s':>18} {'opening':>8}")
        for (variant, name), spent in times.items():
            med = statistics.median(spent)
            share = f"{statistics.median(opens[name]) / med:.0%}" if variant == "replay" else ""
            rate = f"{trades / med / 1e6:.2f} M ({trades / min(spent) / 1e6:.2f} M)"
            print(f"{name:<34} {variant:<28} {rate:>18} {share:>8}")
        print("\n'replay' is replay -> 1s bars in bulk; 'trade by trade' the path before it")
        print("\nreplay / bare decode of the same file (median of the per-repeat ratios):")
        first = lines[0]
        for name in inputs:
            against = name if name in lines else first
            cells = []
            for base in BARE:
                ratios = [
                    b / r for b, r in zip(times[base, against], times["replay", name], strict=True)
                ]
                cells.append(f"{statistics.median(ratios):.2f} vs {base[13:]}")
            note = "" if name in lines else f"  (bare of {first}: the same trades)"
            print(f"  {name:<34} {'   '.join(cells)}{note}")
        print("\npeak RSS of a fresh process replaying into bars (MB): after imports, peak")
        for name, paths in inputs.items():
            size = sum(
                f.stat().st_size for p in paths for f in ([p] if p.is_file() else p.rglob("*"))
            )
            start, peak, bars = peak_rss(paths, whole=FORCED.get(name))
            size_mb = size / 2**20
            print(f"  {name:<34} {start:6.0f} {peak:6.0f}   ({bars:,} bars; {size_mb:,.0f} MB)")
    print(f"noise probe after: {probe():.0f} ms")


if __name__ == "__main__":
    main()
