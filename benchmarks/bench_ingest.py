"""Socket ingest: a fast exchange → the Binance client → the pipeline's bars, against a bare
``websockets`` receive loop on the same kind of socket, in the same run.

The server is a minimal RFC 6455 server in its own process (pinned to CPU 0) that sends
pre-built combined-stream aggTrade frames as fast as the socket takes them, so the client
(pinned to CPU 1) is the bottleneck, as it would be behind a real exchange. It answers REST with
404 (the client then skips its start-up checks). Three clients, interleaved run by run:

- **bare**: ``async for message in ws`` and a count, with the client's own connection options;
- **decode**: the same loop plus :func:`~pairs_tui.feed.schemas.ws.decode_frame` (a reference: what
  reading the frames costs before anything is done with them);
- **ours**: ``BinanceFeed`` → ``Pipeline`` (ids, clock, tick store, bars on every timeframe,
  analytics on every closed bar), counted by a task that polls the feed's message count, so
  that the measurement adds nothing per trade.

Rates are messages per second of wall time from the first message to the last, and per second
of the client's CPU time (less sensitive to other sessions on the box). Goal (issue 7): ours at
least 0.7 of the bare loop.

    python -m benchmarks.bench_ingest [--messages N] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import logging
import multiprocessing as mp
import os
import socket
import statistics
import struct
import time
from collections.abc import Callable

from websockets.asyncio.client import connect

from benchmarks.noise import probe
from pairs_tui.config import Settings
from pairs_tui.feed.binance import BinanceFeed
from pairs_tui.feed.schemas.ws import decode_frame
from pairs_tui.pipeline import Pipeline

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PAIR = ("BTCUSDT", "ETHUSDT")
CLIENT_OPTIONS: dict[str, object] = {
    "proxy": None,
    "compression": None,
    "max_size": 2**20,
    "max_queue": 256,
    "ping_interval": 20,
    "ping_timeout": 20,
}
"""The connection options ``BinanceFeed`` uses, so the loops differ only in what they do."""
Rate = tuple[float, float]
"""Messages per second of wall time, and per second of the client's CPU time."""


def frames(n: int) -> bytes:
    """``n`` aggTrade frames of both legs, as unmasked WebSocket text frames, then a close."""
    out = bytearray()
    t0 = 1_723_161_256_000
    for i in range(n):
        symbol, price, qty = (
            ("BTCUSDT", 61_800.3 + (i % 50) * 0.1, "0.006")
            if i % 2 == 0
            else ("ETHUSDT", 2_681.62 + (i % 40) * 0.01, "0.125")
        )
        t = t0 + i // 4
        payload = (
            f'{{"stream":"{symbol.lower()}@aggTrade","data":{{"e":"aggTrade","E":{t + 100},'
            f'"a":{5_000_000 + i // 2},"s":"{symbol}","p":"{price:.2f}","q":"{qty}",'
            f'"nq":"{qty}","f":{9_000_000 + i},"l":{9_000_000 + i},"T":{t},"m":false,"st":1}}}}'
        ).encode()
        length = len(payload)
        header = (
            bytes([0x81, length])
            if length < 126
            else bytes([0x81, 126]) + struct.pack("!H", length)
        )
        out += header + payload
    out += b"\x88\x02\x03\xe8"
    return bytes(out)


def serve(port_out: mp.connection.Connection, payload: bytes, runs: int) -> None:
    """The server process: one connection per run, plus 404s for REST requests."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {0})
    listener = socket.create_server(("127.0.0.1", 0))
    port_out.send(listener.getsockname()[1])
    served = 0
    while served < runs:
        conn, _ = listener.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk
        if b"upgrade: websocket" not in request.lower():
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            conn.close()
            continue
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        view = memoryview(payload)
        for start in range(0, len(view), 1 << 20):
            conn.sendall(view[start : start + (1 << 20)])
        with contextlib.suppress(OSError):
            conn.recv(1024)  # the client's close reply
        conn.close()
        served += 1


async def bare(url: str, n: int, decode: Callable[[str | bytes], object] | None = None) -> Rate:
    """A loop that only receives (and, with ``decode``, decodes each frame)."""
    count = 0
    started = cpu = 0.0
    async with connect(
        f"{url}/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade", **CLIENT_OPTIONS
    ) as ws:  # type: ignore[arg-type]
        async for message in ws:
            if count == 0:
                started, cpu = time.perf_counter(), time.process_time()
            if decode is not None:
                decode(message)
            count += 1
            if count == n:
                break
    return (n - 1) / (time.perf_counter() - started), (n - 1) / (time.process_time() - cpu)


async def ours(url: str, n: int) -> tuple[Rate, int]:
    """Messages per second through BinanceFeed into the Pipeline, and the bars it closed."""
    feed = BinanceFeed(PAIR, url=url, rest_url=url.replace("ws://", "http://"))
    pipeline = Pipeline(Settings(), feed, PAIR)
    task = asyncio.create_task(pipeline.run())

    async def count_at_least(target: int) -> tuple[int, float, float]:
        while (count := feed.status.messages) < target:
            await asyncio.sleep(0.005)
        return count, time.perf_counter(), time.process_time()

    first, started, cpu = await count_at_least(1)
    last, ended, cpu_end = await count_at_least(n)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    rates = (last - first) / (ended - started), (last - first) / (cpu_end - cpu)
    return rates, pipeline.snapshot().bar_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=400_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("pairs_tui").setLevel(logging.ERROR)  # the 404s of the REST checks
    n = args.messages
    print(f"noise probe before: {probe():.0f} ms")
    payload = frames(n)
    here, there = mp.Pipe()
    server = mp.Process(target=serve, args=(there, payload, 3 * args.repeats), daemon=True)
    server.start()
    url = f"ws://127.0.0.1:{here.recv()}"
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {1})
    rates: dict[str, list[Rate]] = {"bare": [], "decode": [], "ours": []}
    bars = 0
    for _ in range(args.repeats):  # interleaved: a slow phase of the host hits all alike
        rates["bare"].append(asyncio.run(bare(url, n)))
        rates["decode"].append(asyncio.run(bare(url, n, decode_frame)))
        rate, bars = asyncio.run(ours(url, n))
        rates["ours"].append(rate)
    server.join(timeout=10)
    labels = {
        "bare": "bare websockets receive loop (baseline)",
        "decode": "receive loop + decode_frame (reference)",
        "ours": "BinanceFeed -> Pipeline (bars, analytics)",
    }
    print(
        f"{n:,} aggTrade frames a run, {args.repeats} interleaved runs, client pinned to one core"
    )
    print(f"{'':<44}{'median msg/s':>14}{'best msg/s':>12}{'us/msg':>8}{'msg/CPU-s':>12}")
    for key, label in labels.items():
        wall = [w for w, _ in rates[key]]
        cpu = statistics.median(c for _, c in rates[key])
        med = statistics.median(wall)
        print(f"{label:<44}{med:>14,.0f}{max(wall):>12,.0f}{1e6 / med:>8.2f}{cpu:>12,.0f}")
    ratios = [o[0] / b[0] for o, b in zip(rates["ours"], rates["bare"], strict=True)]
    cpu_ratios = [o[1] / b[1] for o, b in zip(rates["ours"], rates["bare"], strict=True)]
    print(
        f"ratio ours / bare, per run (goal >= 0.7): median {statistics.median(ratios):.2f}, "
        f"best {max(ratios):.2f}; by CPU time {statistics.median(cpu_ratios):.2f}"
    )
    print(f"1s bars closed in the last run: {bars:,}")
    print(f"noise probe after: {probe():.0f} ms")


if __name__ == "__main__":
    main()
