"""--watch and [watchlist]: which pairs a run follows, and bad pairs named as errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairs_tui.cli import main, parse_options
from pairs_tui.config.settings import ConfigError, parse_settings


def test_watch_pairs_in_order_the_first_is_monitored() -> None:
    options = parse_options(["--watch", "btcusdt/ethusdt", "SOLUSDT/avaxusdt", "--headless"])
    assert options.symbols == ("BTCUSDT", "ETHUSDT")
    assert options.pairs == (("BTCUSDT", "ETHUSDT"), ("SOLUSDT", "AVAXUSDT"))


def test_symbols_given_with_watch_are_monitored_first() -> None:
    options = parse_options(["ethusdt", "btcusdt", "--watch", "SOLUSDT/ETHUSDT"])
    assert options.pairs == (("ETHUSDT", "BTCUSDT"), ("SOLUSDT", "ETHUSDT"))


def test_the_config_watchlist_joins_the_screen_but_not_headless_lines(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[watchlist]\npairs = ["SOLUSDT/AVAXUSDT", "btcusdt/ethusdt"]\n')
    screen = parse_options(["btcusdt", "ethusdt", "--config", str(config)])
    assert screen.pairs == (("BTCUSDT", "ETHUSDT"), ("SOLUSDT", "AVAXUSDT"))
    headless = parse_options(["btcusdt", "ethusdt", "--headless", "--config", str(config)])
    assert headless.pairs == (("BTCUSDT", "ETHUSDT"),)


@pytest.mark.parametrize(
    ("pair", "says"),
    [
        ("BTCUSDT", "TARGET/HEDGE"),
        ("BTC-USDT/ETHUSDT", "TARGET/HEDGE"),
        ("ETHUSDT/ETHUSDT", "differ"),
    ],
)
def test_a_bad_watch_pair_is_exit_2_naming_it(
    pair: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--watch", pair]) == 2
    err = capsys.readouterr().err
    assert pair in err and says in err and err.count("\n") == 1


def test_a_bad_watchlist_entry_names_the_key_and_line() -> None:
    text = 'symbols = ["BTCUSDT", "ETHUSDT"]\n\n[watchlist]\npairs = ["SOLUSDT/AVAX USDT"]\n'
    with pytest.raises(
        ConfigError, match=r"line 4: watchlist\.pairs: entry 1: 'SOLUSDT/AVAX USDT'"
    ):
        parse_settings(text)


def test_no_history_turns_the_warm_start_off() -> None:
    assert parse_options(["btcusdt", "ethusdt"]).history
    assert not parse_options(["btcusdt", "ethusdt", "--no-history"]).history
