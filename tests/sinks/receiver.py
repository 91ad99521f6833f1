"""A local HTTP server for the sink tests (records every request, answers as told or never),
and the alerts they send."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pairs_tui.snapshot import AlertEvent


@dataclass
class Request:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes


@dataclass
class Receiver:
    """An HTTP/1.1 server on loopback that records requests.

    Attributes:
        statuses: Status of each answer in turn; the last one repeats. None never answers.
    """

    statuses: list[int | None] = field(default_factory=lambda: [200])
    requests: list[Request] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        self._released.set()  # requests left hanging end now
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_for(self, count: int) -> list[Request]:
        """Wait until ``count`` requests have arrived; return them all."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)
        return list(self.requests)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                index = len(self.requests)
                async with self._changed:
                    self.requests.append(Request(method, path, headers, body))
                    self._changed.notify_all()
                status = self.statuses[min(index, len(self.statuses) - 1)]
                if status is None:
                    await self._released.wait()
                    return
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


def event(n: int, *, value: float = 2.5, op: str = ">", metric: str = "zscore") -> AlertEvent:
    """The ``n``-th alert of a test, told apart by its time and value."""
    return AlertEvent(
        time=1_723_161_256_000 + n * 1000,
        rule="z above 2",
        metric=metric,
        op=op,
        threshold=2.0,
        value=value + n,
        message=f'zscore {value + n:.4g} crossed above 2 (rule "z above 2")',
    )
