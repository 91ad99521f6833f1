"""The REST client against the embedded exchange, over a real loopback socket."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from pairs_tui.exchange.faults import Faults
from pairs_tui.exchange.server import EmbeddedExchange
from pairs_tui.exchange.tape import TradeTape
from pairs_tui.feed.rest import (
    MAX_AGG_TRADES_LIMIT,
    BinanceApiError,
    BinanceRest,
    RestError,
    RestUnreachable,
    UnknownSymbolError,
)
from pairs_tui.feed.schemas.rest import SymbolInfo
from pairs_tui.records import Trade


@pytest.fixture
async def published(packaged_tape: TradeTape) -> AsyncIterator[EmbeddedExchange]:
    """An exchange that has published the whole packaged tape, with nobody subscribed: every
    trade is in its history only."""
    async with EmbeddedExchange(packaged_tape, speed=0, wait_for_subscriber=False) as ex:
        await ex.wait_until(ex.finished.is_set)
        yield ex


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, so no one else takes it, not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


async def test_exchange_info_lists_every_symbol_with_its_increments(
    exchange: EmbeddedExchange,
) -> None:
    info = await BinanceRest(exchange.rest_url).exchange_info()
    assert info == {
        "BTCUSDT": SymbolInfo("BTCUSDT", "TRADING", 0.1, 0.001),
        "ETHUSDT": SymbolInfo("ETHUSDT", "TRADING", 0.01, 0.001),
    }
    assert exchange.requests == ["/fapi/v1/exchangeInfo"]


async def test_check_symbols_names_the_unknown_one(exchange: EmbeddedExchange) -> None:
    rest = BinanceRest(exchange.rest_url)
    assert list(await rest.check_symbols(["ethusdt", "BtcUsdt"])) == ["ETHUSDT", "BTCUSDT"]
    with pytest.raises(UnknownSymbolError) as unknown:
        await rest.check_symbols(["btcusdt", "dogeusdx"])
    assert unknown.value.symbol == "DOGEUSDX"
    assert str(unknown.value) == (
        "unknown symbol DOGEUSDX: the exchange does not list it (it lists 2 symbols)"
    )


async def test_server_time_is_the_exchange_clock(
    published: EmbeddedExchange, packaged_tape: TradeTape
) -> None:
    # At speed 0 the clock is the time of the last trade published: the tape's end.
    assert await BinanceRest(published.rest_url).server_time_ms() == packaged_tape.end_ms


async def test_agg_trades_pages_through_the_history_exactly(
    published: EmbeddedExchange,
) -> None:
    rest = BinanceRest(published.rest_url)
    history = published.history("BTCUSDT")
    assert len(history) > 3 * MAX_AGG_TRADES_LIMIT  # several full pages and a short one
    rows = []
    cursor = history[0].id
    while True:
        page = await rest.agg_trades("btcusdt", cursor)
        rows.extend(page)
        if len(page) < MAX_AGG_TRADES_LIMIT:
            break
        cursor = page[-1].id + 1
    assert [r.id for r in rows] == [t.id for t in history]
    spec = published.tape.specs["BTCUSDT"]
    for row, t in zip(rows, history, strict=True):
        assert row.to_trade("BTCUSDT") == Trade(
            "BTCUSDT",
            t.time,
            float(f"{t.price:.{spec.price_decimals}f}"),
            float(f"{t.qty:.{spec.qty_decimals}f}"),
            t.buyer_maker,
            t.id,
        )
        assert (row.first_trade_id, row.last_trade_id) == (t.first_trade_id, t.last_trade_id)
    pages = [r for r in published.requests if r.startswith("/fapi/v1/aggTrades?")]
    assert len(pages) == len(history) // MAX_AGG_TRADES_LIMIT + 1
    assert pages[0] == f"/fapi/v1/aggTrades?symbol=BTCUSDT&fromId={history[0].id}&limit=1000"


async def test_a_small_limit_and_a_start_past_the_end(published: EmbeddedExchange) -> None:
    rest = BinanceRest(published.rest_url)
    history = published.history("ETHUSDT")
    rows = await rest.agg_trades("ETHUSDT", history[10].id, limit=3)
    assert [r.id for r in rows] == [t.id for t in history[10:13]]
    assert await rest.agg_trades("ETHUSDT", history[-1].id + 1) == []  # caught up
    for limit in (0, MAX_AGG_TRADES_LIMIT + 1):
        with pytest.raises(ValueError, match="limit must be 1 to 1000"):
            await rest.agg_trades("ETHUSDT", 1, limit=limit)


async def test_an_unknown_symbol_is_binance_error_1121(exchange: EmbeddedExchange) -> None:
    with pytest.raises(UnknownSymbolError, match="XYZUSDT") as unknown:
        await BinanceRest(exchange.rest_url).agg_trades("xyzusdt", 1)
    cause = unknown.value.__cause__
    assert isinstance(cause, BinanceApiError)
    assert (cause.status, cause.code, cause.msg) == (400, -1121, "Invalid symbol.")


async def test_a_503_is_a_rest_error_with_binance_code(packaged_tape: TradeTape) -> None:
    async with EmbeddedExchange(packaged_tape, faults=Faults(rest_unavailable=True)) as ex:
        with pytest.raises(RestError) as failed:
            await BinanceRest(ex.rest_url).agg_trades("BTCUSDT", 1)
    error = failed.value
    assert isinstance(error, BinanceApiError) and not isinstance(error, UnknownSymbolError)
    assert (error.status, error.code) == (503, -1001)
    assert str(error) == "HTTP 503, Binance error -1001: Service unavailable."


async def test_a_refused_port_is_unreachable(closed_port: int) -> None:
    rest = BinanceRest(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(RestUnreachable, match=f"127.0.0.1:{closed_port}/fapi/v1/time"):
        await rest.server_time_ms()


async def test_a_server_that_never_answers_is_unreachable_after_the_timeout(
    silent_port: int,
) -> None:
    rest = BinanceRest(f"http://127.0.0.1:{silent_port}", timeout_s=0.2)
    with pytest.raises(RestUnreachable, match="/fapi/v1/exchangeInfo"):
        await rest.exchange_info()
