"""Socket ingest: a fast exchange → the Binance client → the pipeline's bars, against a bare
``websockets`` receive loop on the same kind of socket, in the same run.

The server is a minimal RFC 6455 server in its own process that sends pre-built combined-stream
aggTrade frames as fast as the socket takes them, so the client is the bottleneck, as it would
be behind a real exchange. It answers REST with 404 (the client then skips its start-up checks).
Runs are interleaved: bare, ours, bare, ours, ...

Goal (issue 7): ours at least 0.7 of the bare loop.

    python -m benchmarks.bench_ingest [--messages N] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import multiprocessing as mp
import os
import socket
import statistics
import struct
import time

from websockets.asyncio.client import connect

from pairs_tui.config import Settings
from pairs_tui.feed.binance import BinanceFeed
from pairs_tui.pipeline import Pipeline

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PAIR = ("BTCUSDT", "ETHUSDT")


def frames(n: int) -> bytes:
    """``n`` aggTrade frames of both legs, as unmasked WebSocket text frames, then a close."""
    out = bytearray()
    t0 = 1_723_161_256_000
    for i in range(n):
        symbol, price, qty = ("BTCUSDT", 61_800.3 + (i % 50) * 0.1, "0.006") if i % 2 == 0 \
            else ("ETHUSDT", 2_681.62 + (i % 40) * 0.01, "0.125")
        t = t0 + i // 4
        payload = (
            f'{{"stream":"{symbol.lower()}@aggTrade","data":{{"e":"aggTrade","E":{t + 100},'
            f'"a":{5_000_000 + i // 2},"s":"{symbol}","p":"{price:.2f}","q":"{qty}",'
            f'"nq":"{qty}","f":{9_000_000 + i},"l":{9_000_000 + i},"T":{t},"m":false,"st":1}}}}'
        ).encode()
        length = len(payload)
        header = bytes([0x81, length]) if length < 126 else bytes([0x81, 126]) + struct.pack(
            "!H", length)
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
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            conn.close()
            continue
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key"))
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        view = memoryview(payload)
        for start in range(0, len(view), 1 << 20):
            conn.sendall(view[start:start + (1 << 20)])
        with contextlib.suppress(OSError):
            conn.recv(1024)  # the client's close reply
        conn.close()
        served += 1


async def bare(url: str, n: int) -> float:
    """Messages per second of a loop that only receives."""
    count = 0
    started = 0.0
    async with connect(f"{url}/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade",
                       proxy=None, ping_interval=None, max_size=2**20) as ws:
        async for _ in ws:
            if count == 0:
                started = time.perf_counter()
            count += 1
            if count == n:
                break
    return (n - 1) / (time.perf_counter() - started)


async def ours(url: str, n: int) -> tuple[float, int]:
    """Messages per second through BinanceFeed into the Pipeline (bars, analytics, ticks)."""
    feed = BinanceFeed(PAIR, url=url, rest_url=url.replace("ws://", "http://"))
    pipeline = Pipeline(Settings(), feed, PAIR)
    done = asyncio.Event()
    marks = {"first": 0.0}

    def watch(trade: object) -> None:
        if pipeline._messages == 1:
            marks["first"] = time.perf_counter()
        if pipeline._messages >= n:
            done.set()

    pipeline.add_trade_listener(watch)
    task = asyncio.create_task(pipeline.run())
    await done.wait()
    elapsed = time.perf_counter() - marks["first"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return (n - 1) / elapsed, pipeline.snapshot().bar_count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=400_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    payload = frames(args.messages)
    here, there = mp.Pipe()
    server = mp.Process(target=serve, args=(there, payload, 2 * args.repeats), daemon=True)
    server.start()
    url = f"ws://127.0.0.1:{here.recv()}"
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {1})
    bare_rates, our_rates = [], []
    bars = 0
    for _ in range(args.repeats):
        bare_rates.append(asyncio.run(bare(url, args.messages)))
        rate, bars = asyncio.run(ours(url, args.messages))
        our_rates.append(rate)
    server.join(timeout=10)
    b, o = statistics.median(bare_rates), statistics.median(our_rates)
    print(f"{args.messages:,} aggTrade frames a run, {args.repeats} interleaved runs, "
          f"client pinned to one core")
    print(f"{'':<44}{'median msg/s':>14}{'best msg/s':>14}{'us/msg':>9}")
    print(f"{'bare websockets receive loop (baseline)':<44}{b:>14,.0f}{max(bare_rates):>14,.0f}"
          f"{1e6 / b:>9.2f}")
    print(f"{'BinanceFeed -> Pipeline (bars, analytics)':<44}{o:>14,.0f}{max(our_rates):>14,.0f}"
          f"{1e6 / o:>9.2f}")
    print(f"{'ratio to the bare loop (goal >= 0.7)':<44}{o / b:>14.2f}")
    print(f"{'1s bars closed in the last run':<44}{bars:>14,}")


if __name__ == "__main__":
    main()
