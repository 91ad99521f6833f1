"""Alert rules in config.toml: a malformed rule is one clear error naming the key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairs_tui.cli import main
from pairs_tui.config import ConfigError, parse_settings

GOOD = """\
[alerts]
log = "alerts.ndjson"

[[alerts.rules]]
name = "z above 2"
metric = "zscore"
threshold = 2.0
hysteresis = 0.5
cooldown_seconds = 30
bell = true

[[alerts.rules]]
metric = "stale"
threshold = 10
"""


def test_rules_are_read_with_their_defaults() -> None:
    rules = parse_settings(GOOD).alerts.rules
    assert [
        (r.name, r.metric, r.op, r.threshold, r.hysteresis, r.cooldown_seconds, r.bell)
        for r in rules
    ] == [
        ("z above 2", "zscore", ">", 2.0, 0.5, 30.0, True),
        ("", "stale", ">", 10.0, 0.0, 0.0, False),
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            'metric = "zscor"\nthreshold = 2',
            "line 2: alerts.rules[0].metric: invalid enum value 'zscor'; one of zscore, spread, "
            "corr, beta, half_life, adf_p, stale",
        ),
        (
            'metric = "zscore"\nop = "=>"\nthreshold = 2',
            "line 3: alerts.rules[0].op: invalid enum value '=>'; one of >, >=, <, <=, abs>, abs>=",
        ),
        (
            'metric = "zscore"\nthreshold = "two"',
            "line 3: alerts.rules[0].threshold: expected `float`, got `str`",
        ),
        ('metric = "zscore"', "line 1: alerts.rules[0]: object missing required field `threshold`"),
        (
            'metric = "zscore"\nthreshold = 2\nhysterisis = 0.5',
            "line 4: alerts.rules[0].hysterisis: unknown key",
        ),
        (
            'metric = "zscore"\nthreshold = 2\nhysteresis = -1',
            "line 4: alerts.rules[0].hysteresis: must be >= 0",
        ),
        (
            'metric = "zscore"\nthreshold = 2\ncooldown_seconds = -5',
            "line 4: alerts.rules[0].cooldown_seconds: must be >= 0",
        ),
        (
            'metric = "zscore"\nthreshold = nan',
            "line 3: alerts.rules[0].threshold: must be a finite",
        ),
        (
            'metric = "stale"\nop = "<"\nthreshold = 5',
            "line 3: alerts.rules[0].op: the stale rule fires on silence: use > or >=, got <",
        ),
        (
            'metric = "stale"\nthreshold = 0',
            "line 3: alerts.rules[0].threshold: seconds of silence, must be > 0",
        ),
        (
            'metric = "adf_p"\nop = "<"\nthreshold = 5',
            "line 4: alerts.rules[0].threshold: a p-value is between 0 and 1, got 5.0",
        ),
        (
            'metric = "zscore"\nop = "abs>"\nthreshold = -2',
            "line 4: alerts.rules[0].threshold: abs> compares a size, must be >= 0",
        ),
    ],
)
def test_malformed_rule_names_key_and_line(rule: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(f"[[alerts.rules]]\n{rule}\n", "config.toml")
    assert str(caught.value).startswith(f"config.toml, {message}")


def test_second_rule_is_named_by_its_index_and_line() -> None:
    text = GOOD + '\n[[alerts.rules]]\nmetric = "beta"\nop = "~"\nthreshold = 1\n'
    with pytest.raises(ConfigError, match=r"line 18: alerts\.rules\[2\]\.op: invalid enum"):
        parse_settings(text, "config.toml")


def test_two_rules_with_one_name_are_an_error() -> None:
    text = GOOD + '\n[[alerts.rules]]\nname = "z above 2"\nmetric = "zscore"\nthreshold = 3\n'
    with pytest.raises(ConfigError, match=r"line 17: alerts\.rules\[2\]\.name: 'z above 2' names"):
        parse_settings(text, "config.toml")


def test_malformed_rule_stops_the_cli_with_exit_2_and_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[alerts.rules]]\nmetric = "zscore"\nop = "=>"\nthreshold = 2\n')
    code = main(["--config", str(config), "--demo", "--headless"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        f"pairs-tui: error: {config}, line 3: alerts.rules[0].op: invalid enum value "
        "'=>'; one of >, >=, <, <=, abs>, abs>=\n"
    )
