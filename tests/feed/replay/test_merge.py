"""Merging files: one order that depends on the trades alone, each trade once, others noted."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import msgspec
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairs_tui.feed.replay.load import _in_order, load_trades
from pairs_tui.feed.replay.source import ReplaySource
from sources import BTC_CSV, CRYPTOFEED, ENVELOPES, ETH_CSV, PAIR

from .conftest import archive_csv, write

BASE_MS = 1723161256000

trade_rows = st.tuples(
    st.sampled_from(PAIR),
    st.integers(0, 6),  # few distinct times, so ties across files and legs are common
    st.sampled_from([100.0, 100.5, 101.25]),
    st.sampled_from([0.5, 1.0, 2.0]),
    st.booleans(),
)


def envelope(symbol: str, time: int, price: float, qty: float, maker: bool, ident: int) -> bytes:
    return msgspec.json.encode(
        {
            "stream": f"{symbol.lower()}@trade",
            "data": {
                "e": "trade",
                "E": time,
                "T": time,
                "s": symbol,
                "t": ident,
                "p": str(price),
                "q": str(qty),
                "X": "MARKET",
                "m": maker,
            },
        }
    )


def tick(symbol: str, time: int, price: float, qty: float, maker: bool, _: int) -> bytes:
    return msgspec.json.encode(
        {
            "symbol": symbol.lower(),
            "ts": time,
            "price": price,
            "size": qty,
            "side": "sell" if maker else "buy",
        }
    )


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_merged_sequence_does_not_depend_on_file_order(data: st.DataObject) -> None:
    rows = data.draw(st.lists(trade_rows, min_size=2, max_size=40))
    rows += [("BTCUSDT", 3, 100.0, 1.0, False), ("ETHUSDT", 3, 100.0, 1.0, True)]
    # Ids per symbol in drawn order, so they are not in time order within a file.
    counters = dict.fromkeys(PAIR, 0)
    trades = []
    for symbol, offset, price, qty, maker in rows:
        counters[symbol] += 1
        trades.append((symbol, BASE_MS + offset, price, qty, maker, counters[symbol]))
    n_files = data.draw(st.integers(1, 4))
    owner = data.draw(
        st.lists(st.integers(0, n_files - 1), min_size=len(trades), max_size=len(trades))
    )
    kinds = data.draw(
        st.lists(st.sampled_from(["envelopes", "ticks", "csv"]), min_size=n_files, max_size=n_files)
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = []
        for k in range(n_files):
            mine = [t for t, o in zip(trades, owner, strict=True) if o == k]
            if kinds[k] == "csv":  # archive CSVs hold one symbol each
                for symbol in PAIR:
                    leg = pl.DataFrame(
                        [t for t in mine if t[0] == symbol],
                        orient="row",
                        schema=["symbol", "time", "price", "qty", "buyer_maker", "id"],
                    )
                    if leg.height:
                        paths.append(
                            write(
                                folder / f"{symbol}-trades-{k}.csv",
                                archive_csv(leg, header=k % 2 == 0),
                            )
                        )
            elif mine:
                encode = envelope if kinds[k] == "envelopes" else tick
                paths.append(
                    write(
                        folder / f"{kinds[k]}-{k}.ndjson",
                        b"\n".join(encode(*t) for t in mine),
                        gz=k % 2 == 1,
                    )
                )
        framed = [p for p in paths if p.name.startswith("envelopes")]
        overlap: bool = data.draw(st.booleans())
        if framed and overlap:
            copy = folder / "copy.ndjson"  # an overlapping file: the same trades again
            copy.write_bytes(framed[0].read_bytes())
            paths.append(copy)
        shuffled = data.draw(st.permutations(paths))
        merged = load_trades(paths, PAIR)
        assert load_trades(shuffled, PAIR).equals(merged)
    assert merged.height == len(trades)
    assert merged["time"].is_sorted()
    key = merged.select("time", pl.col("symbol") != PAIR[0], "id").rows()
    assert key == sorted(key, key=lambda r: (r[0], r[1]))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 2),  # file
            st.integers(0, 1),  # leg
            st.sampled_from([0, 1, 2, 5, -(2**62), 2**62]),  # time: ties, and past the fast key
            st.integers(-1, 3),  # id
        ),
        max_size=30,
    )
)
def test_the_merge_order_is_time_leg_id_file_row(
    rows: list[tuple[int, int, int, int]],
) -> None:
    # Rows in file order, as the merge concatenates them; the fast sort relies on that.
    merged = pl.DataFrame(
        sorted(rows, key=lambda r: r[0]),
        schema={"file": pl.UInt32, "leg": pl.UInt8, "time": pl.Int64, "id": pl.Int64},
        orient="row",
    ).with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("file").alias("row"))
    expected = merged.sort("time", "leg", "id", "file", "row")
    table, order = _in_order(merged)
    assert (table if order is None else table[order]).equals(expected)


def test_equal_times_put_the_target_leg_first_then_ids(tmp_path: Path) -> None:
    eth = write(tmp_path / "ETHUSDT-trades.csv", "5,50,1,50,1723161256000,true\n")
    btc = write(
        tmp_path / "BTCUSDT-trades.csv",
        "9,100,1,100,1723161256000,true\n8,100,1,100,1723161256000,true\n",
    )
    assert load_trades([eth, btc], PAIR)["id"].to_list() == [8, 9, 5]
    assert load_trades([eth, btc], ("ETHUSDT", "BTCUSDT"))["id"].to_list() == [5, 8, 9]


def test_overlapping_files_keep_each_trade_once(
    session_b: pl.DataFrame, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    early = session_b.filter(pl.col("time") < 1723161400000)
    late = session_b.filter(pl.col("time") >= 1723161300000)
    files = [
        write(tmp_path / f"{s}-trades-{n}.csv", archive_csv(part.filter(pl.col("symbol") == s)))
        for n, part in (("a", early), ("b", late))
        for s in PAIR
    ]
    caplog.set_level(logging.WARNING, "pairs_tui.feed.replay")
    source = ReplaySource(files, PAIR)
    assert source.size == 35_389
    overlap = session_b.filter(pl.col("time").is_between(1723161300000, 1723161399999)).height
    assert f"dropped {overlap:,} trades found twice" in caplog.text


def test_a_trade_recorded_twice_in_one_recording_is_replayed_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rec.parquet"
    pl.DataFrame(
        {
            "symbol": ["BTCUSDT", "BTCUSDT", "ETHUSDT", "BTCUSDT", "BTCUSDT"],
            "time": [BASE_MS, BASE_MS + 1, BASE_MS + 1, BASE_MS + 1, BASE_MS + 2],
            "price": [100.0, 100.5, 50.0, 100.5, 101.0],
            "qty": [1.0] * 5,
            "buyer_maker": [True] * 5,
            "id": [1, 2, 2, 2, 3],
        }
    ).write_parquet(path)
    caplog.set_level(logging.WARNING, "pairs_tui.feed.replay")
    merged = load_trades([path], PAIR)
    assert merged.select("symbol", "id").rows() == [
        ("BTCUSDT", 1),
        ("BTCUSDT", 2),
        ("ETHUSDT", 2),
        ("BTCUSDT", 3),
    ]
    ReplaySource([path], PAIR)
    assert "dropped 1 trades found twice" in caplog.text


def test_other_symbols_are_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "pairs_tui.feed.replay")
    source = ReplaySource([CRYPTOFEED], ("CTKUSDT", "SUSHIUSDT"))
    notes = [r.getMessage() for r in caplog.records if "other symbols" in r.getMessage()]
    assert notes == ["replay: skipped 13 rows of other symbols (AKROUSDT 8, KEEPUSDT 5)"]
    assert source.size == 78
    assert source.status.malformed == 0


def test_a_file_named_twice_is_read_once() -> None:
    assert load_trades([ENVELOPES, ENVELOPES], PAIR).height == 35_389


def test_aggregate_id_gaps_are_counted(tmp_path: Path) -> None:
    btc = write(
        tmp_path / "BTCUSDT-aggTrades.csv",
        "1,100,1,1,1,1723161256000,true\n2,100,1,2,2,1723161256001,true\n"
        "5,100,1,5,5,1723161256002,true\n",
    )
    eth = write(tmp_path / "ETHUSDT-aggTrades.csv", "7,50,1,7,7,1723161256000,true\n")
    assert ReplaySource([btc, eth], PAIR).status.gaps == 2


def test_vision_csvs_and_envelopes_in_any_order(session_b: pl.DataFrame) -> None:
    for paths in ([BTC_CSV, ETH_CSV], [ETH_CSV, BTC_CSV], [ENVELOPES, ETH_CSV]):
        assert load_trades(paths, PAIR).equals(session_b)
