"""Reading a universe's closes from the history store, locally or through fsspec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pairs_tui.scanner import scan
from pairs_tui.scanner.engine import scan_store
from pairs_tui.scanner.store import read_closes, timeframe_ms
from scanner.store_fixture import ms, write_symbol

MINUTE = 60_000
START = ms("2024-08-08T22:00")
GRID = START + MINUTE * np.arange(240)  # 22:00 to 01:59 the next day: two date partitions


def closes_of(seed: int, n: int = 240) -> np.ndarray:
    return 100.0 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0.0, 1e-3, n)))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A: every bar, plus an older day. B: listed at 23:00. C: bar 100 missing (no trade)."""
    a, b, c = closes_of(1), closes_of(2), closes_of(3)
    write_symbol(tmp_path, "AUSDT", "1m", GRID, a)
    older = GRID[0] - 86_400_000 + MINUTE * np.arange(10)
    write_symbol(tmp_path, "AUSDT", "1m", older, closes_of(4, 10))
    write_symbol(tmp_path, "BUSDT", "1m", GRID[60:], b[60:])
    keep = np.arange(240) != 100
    write_symbol(tmp_path, "CUSDT", "1m", GRID[keep], c[keep])
    return tmp_path


def test_the_last_bars_of_every_symbol_on_one_grid(store: Path) -> None:
    prices = read_closes(store, ["AUSDT", "BUSDT", "CUSDT"], "1m", 200)
    assert prices.symbols == ("AUSDT", "BUSDT", "CUSDT") and prices.timeframe == "1m"
    assert prices.ts.tolist() == GRID[40:].tolist()
    a, b, c = closes_of(1), closes_of(2), closes_of(3)
    assert prices.closes[:, 0].tolist() == a[40:].tolist()
    assert np.isnan(prices.closes[:20, 1]).all()  # B lists at bar 60 = row 20
    assert prices.closes[20:, 1].tolist() == b[60:].tolist()
    # C's missing bar 100 (row 60) repeats the previous close, as a bar without trades does.
    expected_c = c[40:].copy()
    expected_c[60] = c[99]
    assert prices.closes[:, 2].tolist() == expected_c.tolist()


def test_end_bounds_the_grid(store: Path) -> None:
    end = int(GRID[150])
    prices = read_closes(store, ["AUSDT", "BUSDT"], "1m", 100, end=end)
    assert prices.ts.tolist() == GRID[50:150].tolist()
    assert prices.closes[:, 0].tolist() == closes_of(1)[50:150].tolist()


def test_only_the_partitions_that_can_hold_the_bars_are_opened(store: Path) -> None:
    # The older day of A is not needed for the last 200 bars: a broken file there is not read.
    broken = next((store / "symbol=AUSDT" / "timeframe=1m").glob("date=2024-08-07"))
    (broken / "part-0.parquet").write_bytes(b"not parquet")
    prices = read_closes(store, ["AUSDT"], "1m", 200)
    assert len(prices.ts) == 200
    with pytest.raises(ValueError, match=r"cannot read .*date=2024-08-07.part-0\.parquet"):
        read_closes(store, ["AUSDT"], "1m", 3_000)


def test_a_universe_with_no_bars_is_an_error_naming_it(store: Path) -> None:
    with pytest.raises(ValueError, match=r"no 5m bars of AUSDT, BUSDT in the history store at"):
        read_closes(store, ["AUSDT", "BUSDT"], "5m", 10)


def test_a_symbol_missing_from_the_store_is_all_nan_and_its_pairs_left_out(store: Path) -> None:
    result = scan_store(store, ["AUSDT", "BUSDT", "ZZZUSDT"], "1m", 200, min_bars=30)
    assert [(x.symbol_a, x.symbol_b, x.reason) for x in result.left_out] == [
        ("AUSDT", "ZZZUSDT", "too few bars"),
        ("BUSDT", "ZZZUSDT", "too few bars"),
    ]
    assert len(result.rows) == 1 and result.rows[0].bars == 180


def test_scan_store_equals_scanning_what_it_read(store: Path) -> None:
    symbols = ["AUSDT", "BUSDT", "CUSDT"]
    prices = read_closes(store, symbols, "1m", 200)
    assert scan_store(store, symbols, "1m", 200, price="raw") == scan(prices, price="raw")


def test_an_fsspec_url_reads_the_same_store(store: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    for path in store.rglob("*.parquet"):
        target = "/store/" + path.relative_to(store).as_posix()
        memory.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        memory.pipe(target, path.read_bytes())
    symbols = ["AUSDT", "BUSDT", "CUSDT"]
    local = read_closes(store, symbols, "1m", 200)
    remote = read_closes("memory://store", symbols, "1m", 200)
    assert remote.ts.tolist() == local.ts.tolist()
    np.testing.assert_array_equal(remote.closes, local.closes)


def test_a_url_without_fsspec_names_the_extra(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "fsspec", None)
    with pytest.raises(ImportError, match=r'pip install "pairs-tui\[cluster\]"'):
        read_closes("s3://bucket/history", ["AUSDT"], "1m", 10)


@pytest.mark.parametrize(("text", "length"), [("1s", 1_000), ("5m", 300_000), ("1h", 3_600_000)])
def test_timeframes(text: str, length: int) -> None:
    assert timeframe_ms(text) == length


def test_a_bad_timeframe_is_refused() -> None:
    with pytest.raises(ValueError, match="timeframe '1x' is not a count and a unit"):
        timeframe_ms("1x")
