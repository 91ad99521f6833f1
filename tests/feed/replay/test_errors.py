"""Bad input is a ReplayError with one line naming the file (and line); never a traceback."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import polars as pl
import pytest

from pairs_tui.feed.replay.files import ReplayError
from pairs_tui.feed.replay.load import load_trades
from pairs_tui.feed.replay.source import ReplaySource
from sources import BTC_CSV, CRYPTOFEED, ENVELOPES, ETH_CSV, PAIR

from .conftest import write

FRAME = (
    '{{"stream":"{s}@aggTrade","data":{{"e":"aggTrade","E":{t},"a":{a},"s":"{S}",'
    '"p":"100.5","q":"1","f":1,"l":1,"T":{t},"m":false}}}}'
)


def frames(n: int) -> list[str]:
    """``n`` valid aggTrade frames alternating between the pair's legs."""
    return [
        FRAME.format(s=PAIR[i % 2].lower(), S=PAIR[i % 2], t=1723161256000 + i, a=i)
        for i in range(n)
    ]


def refused(paths: list[Path], symbols: tuple[str, str] = PAIR) -> ReplayError:
    with pytest.raises(ReplayError) as caught:
        ReplaySource(paths, symbols)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return caught.value


def test_missing_file(tmp_path: Path) -> None:
    error = refused([tmp_path / "nope.ndjson"])
    assert str(error) == f"{tmp_path / 'nope.ndjson'}: no such file"


@pytest.mark.parametrize("content", [b"", gzip.compress(b""), gzip.compress(b"\n\n  \n")])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "empty.ndjson.gz", content)
    error = refused([path])
    assert str(error).startswith(f"{path}: the file is empty")


def test_truncated_gzip_says_how_far_it_got(tmp_path: Path) -> None:
    whole = ENVELOPES.read_bytes()
    path = write(tmp_path / "cut.ndjson.gz", whole[: len(whole) // 2])
    error = refused([path])
    assert str(error).startswith(f"{path}: truncated gzip: the data stop after ")
    assert "complete lines" in str(error)


def test_corrupt_gzip(tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(b'{"a":1}\n' * 1000))
    whole[-6] ^= 0xFF  # the CRC no longer matches
    path = write(tmp_path / "bad.gz", bytes(whole))
    assert str(refused([path])).startswith(f"{path}: corrupt gzip data")


def test_unknown_format_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", "\nhello world\nsecond line\n")
    error = refused([path])
    assert str(error).startswith(f"{path} line 2: not a known trade file ('hello world')")
    assert "expected Binance combined-stream NDJSON" in str(error)
    assert error.line == 2


def test_json_that_is_no_trade_format(tmp_path: Path) -> None:
    path = write(tmp_path / "other.json", '{"foo": 1}\n{"foo": 2}\n')
    assert str(refused([path])).startswith(f"{path} line 1: not a known trade file")


def test_binary_file(tmp_path: Path) -> None:
    path = write(tmp_path / "image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert str(refused([path])).startswith(f"{path} line 1: binary data")


def test_zstd_file_asks_for_decompression(tmp_path: Path) -> None:
    path = write(tmp_path / "trades.ndjson.zst", b"\x28\xb5\x2f\xfd" + b"\x00" * 20)
    assert "compressed with zstd" in str(refused([path]))


def test_csv_with_missing_columns_names_line_1_and_the_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path / "BTCUSDT-trades-2024-08-08.csv",
        "id,price,quote_qty,timestamp\n1,100,100,1723161256000\n",
    )
    error = refused([path, ETH_CSV])
    assert str(error).startswith(f"{path} line 1: missing columns qty, is_buyer_maker")
    assert "expected id,price,qty,quote_qty,time,is_buyer_maker" in str(error)


def test_bar_csv_with_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "BTCUSDT-1m.csv", "ts,open,high,close\n1723161240000,1,2,1.5\n")
    assert str(refused([path])).startswith(f"{path} line 1: missing columns low, volume")


def test_headerless_csv_of_unknown_layout(tmp_path: Path) -> None:
    path = write(tmp_path / "BTCUSDT-x.csv", "1,2,3\n4,5,6\n")
    assert str(refused([path])).startswith(f"{path} line 1: 3 fields and no header")


def test_one_malformed_line_is_counted_and_skipped(tmp_path: Path) -> None:
    lines = frames(100)
    lines[41] = lines[41][:60]  # cut mid-frame
    path = write(tmp_path / "frames.ndjson", "\n".join(lines))
    source = ReplaySource([path], PAIR)
    assert source.status.malformed == 1
    assert source.size == 99


def test_too_many_malformed_lines_name_the_first(tmp_path: Path) -> None:
    lines = frames(100)
    for i in (10, 20, 30):
        lines[i] = lines[i].replace('"q":"1",', "")  # valid JSON, but no quantity
    path = write(tmp_path / "frames.ndjson", "\n".join(lines))
    error = refused([path])
    assert str(error).startswith(
        f"{path} line 11: not a trade frame: Object missing required field `q`"
    )
    assert "3 of 100 lines malformed" in str(error)
    assert error.line == 11


def test_every_line_malformed(tmp_path: Path) -> None:
    path = write(tmp_path / "frames.ndjson", '{"stream":"x","data":{"e":"aggTrade"}}\n' * 5)
    error = refused([path])
    assert str(error).startswith(f"{path} line 1: ")
    assert "every line malformed" in str(error)


def test_other_streams_frames_are_not_malformed(tmp_path: Path) -> None:
    depth = (
        '{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT",'
        '"U":1,"u":2,"pu":0,"b":[["1","2"]],"a":[]}}'
    )
    path = write(tmp_path / "frames.ndjson", "\n".join([depth] * 50 + frames(10)))
    source = ReplaySource([path], PAIR)
    assert (source.status.malformed, source.size) == (0, 10)


def test_malformed_csv_rows_are_counted_and_skipped(tmp_path: Path) -> None:
    rows = [f"{i},100.{i},1,100,{1723161256000 + i},true" for i in range(1, 101)]
    rows[49] = "50,abc,1,100,1723161256049,true"
    path = write(tmp_path / "BTCUSDT-trades.csv", "\n".join(rows))
    eth = write(tmp_path / "ETHUSDT-trades.csv", "1,50,1,50,1723161256000,false\n")
    source = ReplaySource([path, eth], PAIR)
    assert (source.status.malformed, source.size) == (1, 100)


def test_ragged_csv_rows_name_the_line(tmp_path: Path) -> None:
    rows = [f"{i},100,1,100,{1723161256000 + i},true" for i in range(1, 11)]
    rows[3] += ",extra"
    rows[6] = "7,100,1"
    path = write(tmp_path / "BTCUSDT-trades.csv", "\n".join(rows))
    error = refused([path, ETH_CSV])
    assert str(error).startswith(f"{path} line 4: expected 6 fields")
    assert "2 of 10 lines malformed" in str(error)


def test_file_without_the_pair_names_what_it_holds() -> None:
    error = refused([CRYPTOFEED, ENVELOPES])
    assert str(error) == (
        f"{CRYPTOFEED}: holds no trades of BTCUSDT or ETHUSDT (it holds "
        "SUSHIUSDT 40, CTKUSDT 38, AKROUSDT 8, KEEPUSDT 5)"
    )


def test_a_missing_leg_is_an_error() -> None:
    error = refused([BTC_CSV])
    assert str(error) == f"{BTC_CSV}: no data for ETHUSDT; the pair needs both legs"


def test_no_symbol_in_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "trades.csv", "1,100,1,100,1723161256000,true\n")
    error = refused([path, ETH_CSV])
    assert str(error).startswith(f"{path}: cannot tell the symbol from the file name")


def test_two_symbols_in_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "btcusdt_ethusdt.csv", "1,100,1,100,1723161256000,true\n")
    assert "names several symbols (BTCUSDT, ETHUSDT)" in str(refused([path]))


def test_zip_with_two_members(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("BTCUSDT-trades-2024-08-08.csv", "1,1,1,1,1,true\n")
        archive.writestr("BTCUSDT-trades-2024-08-09.csv", "2,1,1,1,2,true\n")
    path = write(tmp_path / "two.zip", buffer.getvalue())
    assert "the zip archive holds 2 files" in str(refused([path]))


def test_truncated_zip(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("BTCUSDT-trades-2024-08-08.csv", "1,1,1,1,1,true\n" * 1000)
    path = write(tmp_path / "cut.zip", buffer.getvalue()[:200])
    assert str(refused([path])).startswith(f"{path}: corrupt or truncated zip archive")


def test_individual_and_aggregate_trades_of_one_symbol(tmp_path: Path) -> None:
    agg = write(
        tmp_path / "BTCUSDT-aggTrades-2024-08-08.csv", "1,61800.3,0.5,10,11,1723161256000,true\n"
    )
    error = refused([BTC_CSV, ETH_CSV, agg])
    assert str(error) == (
        f"BTCUSDT comes as individual trades ({BTC_CSV}) and as aggregate "
        f"trades ({agg}); replay one kind per symbol"
    )


def test_two_files_disagree_on_a_trade(tmp_path: Path) -> None:
    first = write(tmp_path / "BTCUSDT-trades-1.csv", "7,100,1,100,1723161256000,true\n")
    second = write(tmp_path / "BTCUSDT-trades-2.csv", "7,101,1,101,1723161256000,true\n")
    eth = write(tmp_path / "ETHUSDT-trades.csv", "1,50,1,50,1723161256000,false\n")
    error = refused([first, second, eth])
    assert str(error) == (
        f"{first} and {second} disagree on BTCUSDT trade 7 (time, price, size or side differ)"
    )


def test_one_recording_with_two_different_trades_under_one_id(tmp_path: Path) -> None:
    path = tmp_path / "rec.parquet"
    pl.DataFrame(
        {
            "symbol": ["BTCUSDT", "ETHUSDT", "BTCUSDT"],
            "time": [1723161256000] * 3,
            "price": [100.0, 50.0, 100.5],
            "qty": [1.0] * 3,
            "buyer_maker": [True] * 3,
            "id": [7, 7, 7],
        }
    ).write_parquet(path)
    assert str(refused([path])) == (
        f"{path} disagree on BTCUSDT trade 7 (time, price, size or side differ)"
    )


def test_bars_and_trades_cannot_be_mixed(tmp_path: Path) -> None:
    bars = write(
        tmp_path / "BTCUSDT-1m.csv",
        "ts,open,high,low,close,volume\n1723161240000,1,2,1,1.5,3\n1723161300000,1.5,2,1,1.5,3\n",
    )
    assert "cannot replay bar files" in str(refused([bars, ETH_CSV]))


def test_parquet_without_the_needed_columns(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT.parquet"
    pl.DataFrame({"time": [1], "price": [1.0]}).write_parquet(path)
    assert str(refused([path, ETH_CSV])).startswith(
        f"{path}: the Parquet data have no columns qty, buyer_maker"
    )


def test_directory_without_parquet(tmp_path: Path) -> None:
    assert "a directory without .parquet files" in str(refused([tmp_path]))


@pytest.mark.parametrize("speed", [-1.0, float("nan"), float("inf")])
def test_bad_speed(speed: float) -> None:
    with pytest.raises(ReplayError, match="--speed must be a number >= 0"):
        ReplaySource([ENVELOPES], PAIR, speed=speed)


def test_load_trades_refuses_bars(tmp_path: Path) -> None:
    files = [
        write(
            tmp_path / f"{s}-1m.csv",
            "ts,open,high,low,close,volume\n"
            "1723161240000,1,2,1,1.5,3\n1723161300000,1.5,2,1,1.5,3\n",
        )
        for s in PAIR
    ]
    with pytest.raises(ReplayError, match="bar files hold no trades"):
        load_trades(files, PAIR)


def test_two_files_disagree_on_a_trades_time(tmp_path: Path) -> None:
    first = write(
        tmp_path / "BTCUSDT-trades-1.csv",
        "6,100,1,100,1723161256000,true\n7,100,1,100,1723161256001,true\n",
    )
    second = write(
        tmp_path / "BTCUSDT-trades-2.csv",
        "7,100,1,100,1723161256005,true\n8,100,1,100,1723161256006,true\n",
    )
    eth = write(tmp_path / "ETHUSDT-trades.csv", "1,50,1,50,1723161256000,false\n")
    error = refused([second, eth, first])
    assert str(error) == (
        f"{first} and {second} disagree on BTCUSDT trade 7 (time, price, size or side differ)"
    )


def test_line_numbers_hold_across_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pairs_tui.feed.replay import ndjson

    monkeypatch.setattr(ndjson, "_BLOCK", 300)  # a block every two or three lines
    lines = frames(60)
    for i in (17, 33, 34):
        lines[i] = "{not json"
    path = write(tmp_path / "frames.ndjson", "\n".join(lines) + "\n")
    error = refused([path])
    assert error.line == 18
    assert "3 of 60 lines malformed" in str(error)
    good = frames(60)
    lines[33], lines[34] = good[33], good[34]
    write(path, "\n".join(lines))
    source = ReplaySource([path], PAIR)
    assert (source.status.malformed, source.size) == (1, 59)


BIG = ("\n".join(frames(30_000)) + "\n").encode()
"""About 5 MB of frames: more than the first MB read before the format is known, so a gzip of
it is decompressed piece by piece as it is read."""


def test_a_big_gzip_is_read_as_it_is_decompressed_with_the_same_trades(tmp_path: Path) -> None:
    plain = write(tmp_path / "big.ndjson", BIG)
    packed = write(tmp_path / "big.ndjson.gz", gzip.compress(BIG[: len(BIG) // 2]))
    with packed.open("ab") as out:  # two gzip members, as `cat a.gz b.gz` makes
        out.write(gzip.compress(BIG[len(BIG) // 2 :]))
    assert load_trades([packed], PAIR).equals(load_trades([plain], PAIR))


def test_a_big_truncated_gzip_is_refused_when_the_reader_reaches_the_cut(tmp_path: Path) -> None:
    whole = gzip.compress(BIG)
    path = write(tmp_path / "cut.ndjson.gz", whole[: len(whole) * 3 // 4])
    error = refused([path])
    assert str(error).startswith(f"{path}: truncated gzip: the data stop after ")


def test_a_big_gzip_with_a_bad_checksum_is_refused(tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(BIG))
    whole[-6] ^= 0xFF
    path = write(tmp_path / "bad.ndjson.gz", bytes(whole))
    assert str(refused([path])).startswith(f"{path}: corrupt gzip data")


def test_a_big_gzip_followed_by_garbage_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "tail.ndjson.gz", gzip.compress(BIG) + b"not gzip")
    assert "bytes that are not gzip follow the compressed data" in str(refused([path]))


def archive_lines(n: int, first_id: int = 1) -> list[str]:
    """``n`` rows of an archive trades CSV (no header), one a millisecond."""
    return [
        f"{first_id + i},{100 + i % 7}.5,0.{1 + i % 9},1.0,{1723161256000 + i},"
        + ("true" if i % 2 == 0 else "false")
        for i in range(n)
    ]


def test_csv_line_numbers_hold_across_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pairs_tui.feed.replay import csv

    monkeypatch.setattr(csv, "_BLOCK", 200)  # a block every four or five lines
    lines = ["id,price,qty,quote_qty,time,is_buyer_maker", *archive_lines(80)]
    for i in (20, 41, 42):
        lines[i] = "20,not a price,1,1,1723161256000,true"
    btc = write(tmp_path / "BTCUSDT-trades-2024-08-08.csv", "\n".join(lines) + "\n")
    eth = write(tmp_path / "ETHUSDT-trades-2024-08-08.csv", "\n".join(archive_lines(5)) + "\n")
    error = refused([btc, eth])
    assert error.line == 21
    assert "3 of 80 lines malformed" in str(error)
    good = ["id,price,qty,quote_qty,time,is_buyer_maker", *archive_lines(80)]
    lines[41], lines[42] = good[41], good[42]
    write(btc, "\n".join(lines))
    monkeypatch.setattr(csv, "_BLOCK", 200)
    cut = load_trades([btc, eth], PAIR)
    monkeypatch.setattr(csv, "_BLOCK", 1 << 20)
    whole = load_trades([btc, eth], PAIR)
    assert cut.equals(whole) and cut.height == 79 + 5
    source = ReplaySource([btc, eth], PAIR)
    assert (source.status.malformed, source.size) == (1, 84)


BIG_CSV = ("\n".join(archive_lines(60_000)) + "\n").encode()
"""About 3 MB of archive rows: more than the first MB read before the format is known."""


def test_a_big_zip_is_read_as_it_is_decompressed_with_the_same_trades(tmp_path: Path) -> None:
    plain = write(tmp_path / "BTCUSDT-trades-2024-08-08.csv", BIG_CSV)
    packed = tmp_path / "BTCUSDT-trades-2024-08-08.zip"
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("BTCUSDT-trades-2024-08-08.csv", BIG_CSV)
    eth = write(tmp_path / "ETHUSDT-trades-2024-08-08.csv", "\n".join(archive_lines(5)) + "\n")
    got = load_trades([packed, eth], PAIR)
    assert got.equals(load_trades([plain, eth], PAIR)) and got.height == 60_005


def test_a_big_zip_with_a_bad_checksum_is_refused(tmp_path: Path) -> None:
    packed = tmp_path / "BTCUSDT-trades-2024-08-08.zip"
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("BTCUSDT-trades-2024-08-08.csv", BIG_CSV)
    raw = bytearray(packed.read_bytes())
    at = raw.find(b"\n59990,")  # a byte near the end of the stored member
    raw[at + 1] ^= 0x01
    packed.write_bytes(bytes(raw))
    eth = write(tmp_path / "ETHUSDT-trades-2024-08-08.csv", "\n".join(archive_lines(5)) + "\n")
    assert str(refused([packed, eth])).startswith(f"{packed}: corrupt or truncated zip archive")
