"""Every format yields session B's trades as the envelopes do, where the content overlaps."""

from __future__ import annotations

import gzip
import logging
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import polars as pl
import pytest

from pairs_tui.feed.replay.load import load_trades
from pairs_tui.feed.replay.source import ReplaySource
from sources import BTC_CSV, CRYPTOFEED, ENVELOPES, ETH_CSV, PAIR

from .conftest import archive_csv, as_rows, write


def envelope_lines() -> list[bytes]:
    return gzip.decompress(ENVELOPES.read_bytes()).splitlines()


def test_envelopes_hold_session_b(session_b: pl.DataFrame) -> None:
    counts = dict(session_b.group_by("symbol").len().iter_rows())
    assert counts == {"BTCUSDT": 21_313, "ETHUSDT": 14_076}
    assert session_b["time"].is_sorted()
    btc = session_b.filter(pl.col("symbol") == "BTCUSDT")
    assert (btc["price"].min(), btc["price"].max()) == (61_590.3, 61_839.9)
    assert btc.row(0) == ("BTCUSDT", 1723161256322, 61800.3, 0.006, False, 5266583935)
    assert session_b.columns == ["symbol", "time", "price", "qty", "buyer_maker", "id"]


def test_vision_csvs_equal_the_envelopes(session_b: pl.DataFrame) -> None:
    assert load_trades([BTC_CSV, ETH_CSV], PAIR).equals(session_b)


def test_envelopes_and_csvs_together_keep_each_trade_once(session_b: pl.DataFrame) -> None:
    assert load_trades([ETH_CSV, ENVELOPES, BTC_CSV], PAIR).equals(session_b)


def test_headerless_archive_csv(session_b: pl.DataFrame, tmp_path: Path) -> None:
    files = [
        write(
            tmp_path / f"{s}-trades-2024-08-08.csv",
            archive_csv(session_b.filter(pl.col("symbol") == s), header=False),
        )
        for s in PAIR
    ]
    assert load_trades(files, PAIR).equals(session_b)


def test_zipped_archive_takes_the_symbol_from_the_member(
    session_b: pl.DataFrame, tmp_path: Path
) -> None:
    files = []
    for i, symbol in enumerate(PAIR):
        path = tmp_path / f"download-{i}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(
                f"{symbol}-trades-2024-08-08.csv",
                archive_csv(session_b.filter(pl.col("symbol") == symbol)),
            )
        files.append(path)
    assert load_trades(files, PAIR).equals(session_b)


@pytest.mark.parametrize("header", [True, False])
def test_aggtrades_csv(session_b: pl.DataFrame, tmp_path: Path, header: bool) -> None:
    files = []
    for symbol in PAIR:
        legs = session_b.filter(pl.col("symbol") == symbol).with_row_index("agg")
        body = legs.select(
            (pl.col("agg").cast(pl.Int64) + 7_000).alias("agg_trade_id"),
            "price",
            pl.col("qty").alias("quantity"),
            pl.col("id").alias("first_trade_id"),
            pl.col("id").alias("last_trade_id"),
            pl.col("time").alias("transact_time"),
            pl.col("buyer_maker").cast(pl.String).alias("is_buyer_maker"),
        ).write_csv(include_header=header)
        files.append(write(tmp_path / f"{symbol}-aggTrades-2024-08-08.csv", body, gz=True))
    trades = load_trades(files, PAIR)
    assert as_rows(trades, ids=False) == as_rows(session_b, ids=False)
    assert trades.filter(pl.col("symbol") == "BTCUSDT")["id"][0] == 7_000


def test_raw_stream_payloads(session_b: pl.DataFrame, tmp_path: Path) -> None:
    payloads = [msgspec.json.encode(msgspec.json.decode(line)["data"]) for line in envelope_lines()]
    path = write(tmp_path / "raw.ndjson", b"\n".join(payloads) + b"\n")
    assert load_trades([path], PAIR).equals(session_b)


def test_cryptofeed_prefixed_lines(session_b: pl.DataFrame, tmp_path: Path) -> None:
    lines = [b"1723161255.088176: " + line for line in envelope_lines()]
    path = write(tmp_path / "capture.txt", b"\n".join(lines), gz=True)
    assert load_trades([path], PAIR).equals(session_b)


def test_real_cryptofeed_capture_of_aggtrades() -> None:
    trades = load_trades([CRYPTOFEED], ("ctkusdt", "sushiusdt"))
    assert set(trades["symbol"]) == {"CTKUSDT", "SUSHIUSDT"}
    assert trades.height == 78  # the other 13 frames are AKROUSDT and KEEPUSDT
    assert trades["time"].is_sorted()
    first = trades.row(0)
    assert first == ("CTKUSDT", 1626992741421, 1.011, 10.0, False, 16599292)


def test_tick_ndjson_with_iso_and_epoch_times(session_b: pl.DataFrame, tmp_path: Path) -> None:
    lines = []
    for symbol, time, price, qty, maker, _ in session_b.iter_rows():
        when: str | int = time
        if symbol == "BTCUSDT":  # ISO strings for one leg, epoch ms numbers for the other
            when = datetime.fromtimestamp(time / 1000, UTC).isoformat(timespec="milliseconds")
            when = when.replace("+00:00", "Z")
        lines.append(
            msgspec.json.encode(
                {
                    "symbol": symbol.lower(),
                    "ts": when,
                    "price": price,
                    "size": qty,
                    "side": "sell" if maker else "buy",
                }
            )
        )
    path = write(tmp_path / "ticks.jsonl", b"\n".join(lines))
    trades = load_trades([path], PAIR)
    assert as_rows(trades, ids=False) == as_rows(session_b, ids=False)
    assert set(trades["id"]) == {-1}


def test_parquet_recording_partitioned_by_symbol_and_date(
    session_b: pl.DataFrame, tmp_path: Path
) -> None:
    dated = session_b.with_columns(
        pl.from_epoch("time", "ms").dt.date().cast(pl.String).alias("date")
    )
    for (symbol, date), part in dated.group_by("symbol", "date"):
        folder = tmp_path / "rec" / f"symbol={symbol}" / f"date={date}"
        folder.mkdir(parents=True)
        part.select("time", "price", "qty", "buyer_maker", "id").write_parquet(
            folder / "part-0.parquet"
        )
    assert len(list((tmp_path / "rec").rglob("*.parquet"))) == 3  # ETHUSDT crosses midnight
    assert load_trades([tmp_path / "rec"], PAIR).equals(session_b)


def test_parquet_recording_of_more_symbols_counts_the_others(
    session_b: pl.DataFrame, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    third = (
        session_b.filter(pl.col("symbol") == "ETHUSDT")
        .head(7)
        .with_columns(symbol=pl.lit("XRPUSDT"))
    )
    for symbol, part in pl.concat([session_b, third]).group_by("symbol"):
        folder = tmp_path / "rec" / f"symbol={symbol[0]}"
        folder.mkdir(parents=True)
        part.drop("symbol").write_parquet(folder / "part-0.parquet")
    caplog.set_level(logging.WARNING, "pairs_tui.feed.replay")
    source = ReplaySource([tmp_path / "rec"], PAIR)
    assert source.size == session_b.height
    assert "skipped 7 rows of other symbols (XRPUSDT 7)" in caplog.text
    assert load_trades([tmp_path / "rec"], PAIR).equals(session_b)


def test_parquet_file_with_a_symbol_column(session_b: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "session.bin"  # the content, not the name, says Parquet
    session_b.sample(fraction=1.0, shuffle=True, seed=1).write_parquet(path)
    assert load_trades([path], PAIR).equals(session_b)


def test_gzip_is_recognised_by_content_not_name(session_b: pl.DataFrame, tmp_path: Path) -> None:
    btc = write(
        tmp_path / "BTCUSDT-trades.txt",
        archive_csv(session_b.filter(pl.col("symbol") == "BTCUSDT")),
        gz=True,
    )
    eth = write(
        tmp_path / "ETHUSDT-trades.csv.gz",
        archive_csv(session_b.filter(pl.col("symbol") == "ETHUSDT")),
    )
    assert load_trades([btc, eth], PAIR).equals(session_b)


def test_microsecond_timestamps_become_milliseconds(tmp_path: Path) -> None:
    btc = write(
        tmp_path / "BTCUSDT-trades-2025-01-02.csv",
        "1,61800.3,0.5,30900.15,1735776000123456,true\n"
        "2,61800.4,0.1,6180.04,1735776000124999,False\n",
    )
    eth = write(
        tmp_path / "ETHUSDT-trades-2025-01-02.csv", "9,3300.5,1,3300.5,1735776000124,false\n"
    )
    trades = load_trades([btc, eth], PAIR)
    assert trades["time"].to_list() == [1735776000123, 1735776000124, 1735776000124]
    assert trades["buyer_maker"].to_list() == [True, False, False]


def test_unsorted_ids_are_replayed_in_order(tmp_path: Path) -> None:
    # Monthly archives interleave id sequences; the replay is in trade-time and id order.
    btc = write(
        tmp_path / "BTCUSDT-trades-2024-08.csv",
        "id,price,qty,quote_qty,time,is_buyer_maker\n"
        "12,100.2,1,100.2,1723161256002,true\n"
        "10,100.0,1,100.0,1723161256000,true\n"
        "13,100.3,1,100.3,1723161256002,true\n"
        "11,100.1,1,100.1,1723161256000,false\n",
    )
    eth = write(
        tmp_path / "ETHUSDT-trades-2024-08.csv",
        "id,price,qty,quote_qty,time,is_buyer_maker\n5,50.0,1,50.0,1723161256001,true\n",
    )
    trades = load_trades([btc, eth], PAIR)
    assert trades["id"].to_list() == [10, 11, 5, 12, 13]


def test_trade_stream_keeps_only_market_trades_with_a_size(tmp_path: Path) -> None:
    frame = (
        '{{"stream":"{s}@trade","data":{{"e":"trade","E":{t},"T":{t},"s":"{S}","t":{i},'
        '"p":"{p}","q":"{q}","X":"{x}","m":true,"nq":"1","st":1}}}}'
    )
    lines = [
        frame.format(s="btcusdt", S="BTCUSDT", t=1723161256000, i=1, p="100.0", q="1", x="MARKET"),
        frame.format(
            s="btcusdt", S="BTCUSDT", t=1723161256001, i=2, p="3.7", q="2", x="INSURANCE_FUND"
        ),
        frame.format(s="btcusdt", S="BTCUSDT", t=1723161256002, i=3, p="0", q="0", x="NA"),
        frame.format(s="btcusdt", S="BTCUSDT", t=1723161256003, i=4, p="100.0", q="0", x="MARKET"),
        frame.format(s="ethusdt", S="ETHUSDT", t=1723161256004, i=9, p="50.0", q="1", x="ADL"),
        frame.format(s="ethusdt", S="ETHUSDT", t=1723161256005, i=10, p="50.5", q="1", x="MARKET"),
        frame.format(
            s="ethusdt", S="ETHUSDT", t=1723161256006, i=11, p="50.5", q="1", x="MARKET"
        ).replace(',"X":"MARKET"', ""),  # no X: not known to be market
        '{"result":null,"id":1}',
    ]
    trades = load_trades([write(tmp_path / "frames.ndjson", "\n".join(lines))], PAIR)
    assert trades["id"].to_list() == [1, 10]


def test_aggtrade_frames_with_new_keys(tmp_path: Path) -> None:
    # 2026 frames carry nq and st; unknown keys are ignored.
    lines = [
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1791331200150,"a":26129,'
        '"s":"BTCUSDT","p":"98123.40","q":"0.022","nq":"0.022","f":100,"l":101,'
        '"T":1791331200000,"m":false,"st":1}}',
        '{"stream":"ethusdt@aggTrade","data":{"e":"aggTrade","E":1791331200160,"a":7,'
        '"s":"ETHUSDT","p":"3300.10","q":"1.5","nq":"1.0","f":5,"l":5,'
        '"T":1791331200010,"m":true,"st":1,"ps":"ETHUSDT"}}',
    ]
    trades = load_trades([write(tmp_path / "agg.ndjson", "\n".join(lines))], PAIR)
    assert trades.rows() == [
        ("BTCUSDT", 1791331200000, 98123.4, 0.022, False, 26129),
        ("ETHUSDT", 1791331200010, 3300.1, 1.5, True, 7),
    ]


def test_csv_with_named_columns_and_a_symbol_column(
    session_b: pl.DataFrame, tmp_path: Path
) -> None:
    # The layout of session B's normalised CSV: receive time first, trade type last.
    body = session_b.select(
        (pl.col("time") * 1_000_000).alias("recv_ns"),
        (pl.col("symbol").str.to_lowercase() + "@trade").alias("stream"),
        "symbol",
        pl.col("id").alias("trade_id"),
        pl.col("time").alias("event_time_ms"),
        pl.col("time").alias("trade_time_ms"),
        "price",
        "qty",
        pl.col("buyer_maker").alias("is_buyer_maker"),
        pl.lit("MARKET").alias("trade_type"),
    ).write_csv()
    path = write(tmp_path / "session_trades_normalized.csv", body, gz=True)
    assert load_trades([path], PAIR).equals(session_b)


def test_spot_style_capitalised_booleans_without_header(tmp_path: Path) -> None:
    btc = write(
        tmp_path / "BTCUSDT-aggTrades-2024-08-08.csv",
        "1,61800.3,0.5,10,11,1723161256000,True\n2,61800.4,0.5,12,12,1723161256001,False\n",
    )
    eth = write(
        tmp_path / "ETHUSDT-aggTrades-2024-08-08.csv", "3,2680.5,1.0,20,20,1723161256000,True\n"
    )
    trades = load_trades([btc, eth], PAIR)
    assert trades.rows() == [
        ("BTCUSDT", 1723161256000, 61800.3, 0.5, True, 1),
        ("ETHUSDT", 1723161256000, 2680.5, 1.0, True, 3),
        ("BTCUSDT", 1723161256001, 61800.4, 0.5, False, 2),
    ]


def test_csv_after_blank_lines(tmp_path: Path) -> None:
    btc = write(
        tmp_path / "BTCUSDT-trades.csv",
        "\n\nid,price,qty,quote_qty,time,is_buyer_maker\n"
        "1,100,1,100,1723161256000,true\n\n2,100,1,100,1723161256001,true\n",
    )
    eth = write(tmp_path / "ETHUSDT-trades.csv", "\n9,50,1,50,1723161256000,false\n")
    assert load_trades([btc, eth], PAIR)["id"].to_list() == [1, 9, 2]
