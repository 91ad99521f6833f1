"""``[[alerts.sinks]]`` in config.toml: read with their defaults, or one error naming key, line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairs_tui.config import ConfigError, parse_settings
from pairs_tui.sinks.settings import (
    CommandSinkSettings,
    DesktopSinkSettings,
    WebhookSinkSettings,
)

GOOD = """\
[alerts]
keep = 50

[[alerts.sinks]]
kind = "webhook"
url = "https://api.telegram.org/bot123:ABC/sendMessage"
format = "telegram"
chat_id = -100123

[[alerts.sinks]]
kind = "webhook"
url = "https://ntfy.sh/desk-alerts"
format = "ntfy"
headers = { Authorization = "Bearer tk_x" }
timeout_seconds = 3

[[alerts.sinks]]
kind = "command"
argv = ["notify-send", "pairs-tui"]

[[alerts.sinks]]
kind = "desktop"
escape = "both"
"""


def test_every_kind_is_read_with_its_defaults() -> None:
    assert parse_settings(GOOD).alerts.sinks == [
        WebhookSinkSettings(
            url="https://api.telegram.org/bot123:ABC/sendMessage",
            format="telegram",
            chat_id=-100123,
        ),
        WebhookSinkSettings(
            url="https://ntfy.sh/desk-alerts",
            format="ntfy",
            headers={"Authorization": "Bearer tk_x"},
            timeout_seconds=3.0,
        ),
        CommandSinkSettings(argv=["notify-send", "pairs-tui"]),
        DesktopSinkSettings(escape="both"),
    ]


def test_no_sinks_by_default() -> None:
    assert parse_settings("").alerts.sinks == []


HEAD = '[alerts]\nkeep = 50\n\n[[alerts.sinks]]\nkind = "desktop"\n\n[[alerts.sinks]]\n'
"""One good sink first, so that errors must name the second one, from line 8 on."""


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'kind = "sms"',
            "line 8: alerts.sinks[1].kind: invalid value 'sms'; one of webhook, command, desktop",
        ),
        (
            'url = "https://x.example"',
            "line 7: alerts.sinks[1]: object missing required field `kind`",
        ),
        ('kind = "webhook"', "line 7: alerts.sinks[1]: object missing required field `url`"),
        ('kind = "command"', "line 7: alerts.sinks[1]: object missing required field `argv`"),
        (
            'kind = "webhook"\nurl = "https://x.example"\nformat = "teams"',
            "line 10: alerts.sinks[1].format: invalid enum value 'teams'; "
            "one of json, slack, discord, telegram, ntfy",
        ),
        (
            'kind = "webhook"\nurl = "ftp://x.example/drop"',
            "line 9: alerts.sinks[1].url: must be an http:// or https:// URL with a host",
        ),
        (
            'kind = "webhook"\nurl = "https:///no-host"',
            "line 9: alerts.sinks[1].url: must be an http:// or https:// URL with a host",
        ),
        (
            'kind = "webhook"\nurl = "https://api.telegram.org/botX/sendMessage"\n'
            'format = "telegram"',
            "line 7: alerts.sinks[1].chat_id: format telegram needs the chat to write to",
        ),
        (
            'kind = "webhook"\nurl = "https://x.example"\nchat_id = 5',
            "line 10: alerts.sinks[1].chat_id: only used by format telegram, not json",
        ),
        (
            'kind = "webhook"\nurl = "https://x.example"\nheaders = { "Bad Name" = "v" }',
            "line 10: alerts.sinks[1].headers: 'Bad Name' is not a header name",
        ),
        ('kind = "command"\nargv = []', "line 9: alerts.sinks[1].argv: names no program"),
        ('kind = "command"\nargv = [""]', "line 9: alerts.sinks[1].argv: the program"),
        (
            'kind = "command"\nargv = "notify-send hi"',
            "line 9: alerts.sinks[1].argv: expected `array`, got `str`",
        ),
        (
            'kind = "command"\nargv = ["x"]\ntimeout_seconds = 0',
            "line 10: alerts.sinks[1].timeout_seconds: expected `float` >",
        ),
        (
            'kind = "desktop"\nurl = "https://x.example"',
            "line 9: alerts.sinks[1].url: unknown key",
        ),
        (
            'kind = "desktop"\nescape = "osc99"',
            "line 9: alerts.sinks[1].escape: invalid enum value 'osc99'; one of osc9, osc777, both",
        ),
    ],
)
def test_a_bad_sink_is_one_error_naming_its_key_and_line(entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(HEAD + entry + "\n", "desk.toml")
    assert str(error.value).startswith(f"desk.toml, {message}")


def test_a_url_error_does_not_repeat_the_url_which_may_hold_a_token() -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(HEAD + 'kind = "webhook"\nurl = "htps://x.example/bot123:SECRET"\n')
    assert "SECRET" not in str(error.value)


def test_the_shipped_config_documents_every_kind_and_still_parses() -> None:
    shipped = Path(__file__).resolve().parents[2] / "config.toml"
    text = shipped.read_text()
    for kind in ("webhook", "command", "desktop"):
        assert f'# kind = "{kind}"' in text
    parse_settings(text, str(shipped))
    uncommented = "\n".join(
        line.removeprefix("# ")
        for line in text.splitlines()
        if line.startswith(
            (
                "# [[alerts.sinks]]",
                "# kind",
                "# url",
                "# format",
                "# chat_id",
                "# argv",
                "# escape",
                "# headers",
                "# timeout_seconds",
            )
        )
    )
    sinks = parse_settings(uncommented).alerts.sinks
    assert {type(s) for s in sinks} == {
        WebhookSinkSettings,
        CommandSinkSettings,
        DesktopSinkSettings,
    }
