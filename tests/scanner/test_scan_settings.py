"""``[scan]`` in config.toml: defaults of ``pairs-tui scan``, errors naming the key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairs_tui.config import ConfigError
from pairs_tui.config.settings import ScanSettings, load_settings, parse_settings
from pairs_tui.scan_command import parse_request

SHIPPED = Path(__file__).parents[2] / "config.toml"


def test_the_shipped_config_holds_the_defaults() -> None:
    assert load_settings(SHIPPED).scan == ScanSettings()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scan]\ntop = 1\n", "config.toml, line 2: scan.top: expected `int` >= 2"),
        ('[scan]\n\ntimeframe = "1s"\n', "config.toml, line 3: scan.timeframe: invalid enum"),
        (
            '[scan]\nengine = "spark"\n',
            "line 2: scan.engine: invalid enum value 'spark'; one of local, dask",
        ),
        (
            '[scan]\nsymbols = ["BTCUSDT", "ETH-USDT"]\n',
            "line 2: scan.symbols: entry 2: 'ETH-USDT'",
        ),
        ("[scan]\nbarz = 10\n", "line 2: scan.barz: unknown key"),
    ],
)
def test_a_bad_scan_setting_names_key_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text)
    assert message in str(caught.value)


def test_arguments_override_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[scan]\nsymbols = ["btcusdt", "ethusdt"]\ntop = 7\nbars = 500\n'
        'timeframe = "5m"\n[analytics]\nprice = "raw"\n'
    )
    _, _, request = parse_request(["--config", str(config)])
    assert (request.symbols, request.top, request.bars) == (("BTCUSDT", "ETHUSDT"), 7, 500)
    assert (request.timeframe, request.price, request.engine) == ("5m", "raw", "local")
    _, _, request = parse_request(
        ["--config", str(config), "solusdt", "avaxusdt", "--bars", "60", "--timeframe", "1h"]
    )
    assert (request.symbols, request.bars, request.timeframe) == (("SOLUSDT", "AVAXUSDT"), 60, "1h")
