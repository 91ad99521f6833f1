"""Alert rules: hysteresis and cooldown on crafted series, the feed going stale, the log."""

from __future__ import annotations

import itertools
import json
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairs_tui.alerts import BAR_METRICS, CARRY_METRICS, AlertBook, holds, parse_rule, rearm_line
from pairs_tui.analytics import PairStats
from pairs_tui.cli import main
from pairs_tui.config import AlertRule, ConfigError, Settings
from pairs_tui.feed.source import TradeSink
from pairs_tui.feed.status import FeedStatus
from pairs_tui.pipeline import Pipeline
from pairs_tui.records import Bar, PairBar, Timeframe, Trade
from pairs_tui.snapshot import AlertEvent, Carry, ClosedBar
from sources import ENVELOPES

PAIR = ("BTCUSDT", "ETHUSDT")


def closed_bar(ts: int, zscore: float | None, timeframe: Timeframe = "1s") -> ClosedBar:
    return ClosedBar(
        timeframe,
        PairBar(ts, Bar.flat(100.0), Bar.flat(50.0)),
        PairStats(zscore=zscore),
        (),
        FeedStatus(state="live"),
        PAIR,
        "log",
        "ols",
        300,
    )


def fire_times(
    book: AlertBook,
    series: Sequence[float | None],
    step_ms: int = 1_000,
) -> list[int]:
    """Feed ``series`` as z-scores of consecutive 1s bars; return the bar times that fired."""
    return [
        event.time
        for i, z in enumerate(series)
        for event in book.on_bar(closed_bar(i * step_ms, z))
    ]


def z_rule(**kwargs: object) -> AlertRule:
    fields: dict[str, object] = {"metric": "zscore", "op": ">", "threshold": 2.0, **kwargs}
    return msgspec.convert(fields, AlertRule)


def test_value_sitting_above_the_line_fires_once() -> None:
    book = AlertBook([z_rule()])
    assert fire_times(book, [0.5, 2.1, 2.2, 2.05, 2.3, 2.1, 2.4]) == [1_000]


def test_fires_again_only_after_falling_back_past_the_hysteresis() -> None:
    book = AlertBook([z_rule(hysteresis=0.5)])
    #                 0    1    2    3    4    5    6    7
    series: list[float | None] = [0.0, 2.1, 1.8, 2.2, 1.6, 2.5, 1.5, 2.1]
    # 1.8 and 1.6 stay above 1.5, so 2.2 and 2.5 are the same excursion; 1.5 re-arms.
    assert fire_times(book, series) == [1_000, 7_000]


def test_without_hysteresis_every_new_crossing_fires() -> None:
    book = AlertBook([z_rule()])
    assert fire_times(book, [2.1, 1.9, 2.1, 2.0, 2.01]) == [0, 2_000, 4_000]


def test_cooldown_swallows_a_crossing_in_bar_time_and_disarms() -> None:
    book = AlertBook([z_rule(cooldown_seconds=5)])
    #         0    1    2    3    4    5    6    7    8    9
    series = [2.1, 1.0, 2.2, 2.3, 2.4, 2.5, 2.6, 1.0, 2.1, 1.0]
    # Fired at bar 0 (clock: bar end 1 s). The crossing at bar 2 is within 5 s: swallowed, and
    # the value staying above the line afterwards does not fire late; bar 8 is a new crossing.
    assert fire_times(book, series) == [0, 8_000]


def test_cooldown_counts_bar_time_not_bar_count() -> None:
    book = AlertBook([z_rule(cooldown_seconds=90)])
    # One-minute bars: the crossing two bars later is 120 s later, past the cooldown.
    assert fire_times(book, [2.5, 0.0, 2.5], step_ms=60_000) == [0, 120_000]


def test_below_rule_mirrors_the_hysteresis() -> None:
    book = AlertBook([z_rule(op="<", threshold=-2.0, hysteresis=0.5)])
    assert fire_times(book, [-2.1, -1.6, -2.3, -1.5, -2.01]) == [0, 4_000]


def test_abs_rule_fires_on_either_side() -> None:
    book = AlertBook([z_rule(op="abs>", threshold=2.0, hysteresis=0.5)])
    assert fire_times(book, [2.1, 0.0, -2.2, -1.9, 2.5]) == [0, 2_000]


def test_null_and_nan_never_fire_and_change_nothing() -> None:
    book = AlertBook([z_rule()])
    assert fire_times(book, [None, math.nan, 2.1, None, math.nan, 2.2, 1.0, None, 2.1]) == [
        2_000,
        8_000,
    ]


def test_switching_timeframe_rearms_bar_rules() -> None:
    book = AlertBook([z_rule()])
    assert book.on_bar(closed_bar(0, 2.5))
    assert not book.on_bar(closed_bar(1_000, 2.5))
    assert book.on_bar(closed_bar(0, 2.5, timeframe="1m"))


def test_each_rule_keeps_its_own_state() -> None:
    book = AlertBook([z_rule(name="two"), z_rule(name="three", threshold=3.0)])
    events = [e.rule for z in (2.5, 3.5, 2.5, 1.0, 3.1) for e in book.on_bar(closed_bar(0, z))]
    assert events == ["two", "three", "two", "three"]


@given(
    st.lists(st.one_of(st.none(), st.floats(-5, 5)), max_size=80),
    st.floats(0, 2),
    st.integers(0, 10),
    st.sampled_from([">", ">=", "<", "<=", "abs>"]),
)
def test_between_two_firings_the_value_went_back_past_the_rearm_line(
    series: list[float | None],
    hysteresis: float,
    cooldown: int,
    op: str,
) -> None:
    rule = z_rule(
        op=op,
        threshold=-1.0 if op in ("<", "<=") else 1.0,
        hysteresis=hysteresis,
        cooldown_seconds=cooldown,
    )
    book = AlertBook([rule])
    fired = [i for i, z in enumerate(series) if book.on_bar(closed_bar(i * 1_000, z))]
    for i in fired:
        assert holds(op, series[i], rule.threshold)  # type: ignore[arg-type]
    for earlier, later in itertools.pairwise(fired):
        assert (later - earlier) >= cooldown
        between = [z for z in series[earlier + 1 : later] if z is not None]
        assert any(not holds(op, z, rearm_line(rule)) for z in between)


def test_events_go_to_the_list_and_the_ndjson_log(tmp_path: Path) -> None:
    log = tmp_path / "exports" / "alerts.ndjson"
    book = AlertBook([z_rule(name="z above 2", bell=True)], log, pair=PAIR, keep=2)
    for i, z in enumerate([2.5, 0.0, 2.6, 0.0, 2.7]):
        book.on_bar(closed_bar(1_723_161_257_000 + i * 1_000, z))
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["value"] for line in lines] == [2.5, 2.6, 2.7]
    assert lines[0] == {
        "utc": "2024-08-08T23:54:17.000Z",
        "pair": "BTCUSDT/ETHUSDT",
        "timeframe": "1s",
        "time": 1_723_161_257_000,
        "rule": "z above 2",
        "metric": "zscore",
        "op": ">",
        "threshold": 2.0,
        "value": 2.5,
        "message": 'zscore 2.5 crossed above 2 (rule "z above 2")',
        "bell": True,
    }
    assert [e.value for e in book.recent] == [2.6, 2.7]
    # A second session appends to the same log.
    book.close()
    again = AlertBook([z_rule()], log, pair=PAIR)
    again.on_bar(closed_bar(0, 3.0))
    assert len(log.read_text().splitlines()) == 4


def test_a_log_that_cannot_be_written_does_not_stop_the_alerts(tmp_path: Path) -> None:
    book = AlertBook([z_rule()], tmp_path)  # a folder: opening it for appending fails
    assert book.on_bar(closed_bar(0, 2.5))
    assert book.on_bar(closed_bar(2_000, 2.5)) == [] and len(book.recent) == 1


def test_event_encodes_as_a_small_json_object() -> None:
    event = AlertEvent(1, "r", "zscore", ">", 2.0, 2.5, "m", bell=False)
    assert json.loads(msgspec.json.encode(event)) == {
        "time": 1,
        "rule": "r",
        "metric": "zscore",
        "op": ">",
        "threshold": 2.0,
        "value": 2.5,
        "message": "m",
        "bell": False,
    }


def test_unnamed_rule_is_named_by_the_rule_written_out() -> None:
    book = AlertBook([z_rule(op="abs>=", threshold=2.5)])
    (event,) = book.on_bar(closed_bar(0, -3.0))
    assert event.rule == "zscore abs>= 2.5"
    assert event.message == '|zscore| 3 crossed above 2.5 (rule "zscore abs>= 2.5")'


def test_adf_p_rule_fires_on_the_on_demand_test() -> None:
    rule = parse_rule('adf_p < 0.05 hysteresis=0.05 name="stationary"')
    book = AlertBook([rule])
    assert [
        e.value for p in (0.2, 0.04, 0.06, 0.01, 0.2, 0.03) for e in book.on_stationarity(p, 0)
    ] == [0.04, 0.03]
    assert book.on_stationarity(None, 0) == []
    assert book.on_bar(closed_bar(0, 9.0)) == []  # bar analytics do not feed adf_p


# -- the feed going stale -------------------------------------------------------------------


def stale_rule(seconds: float = 5.0, **kwargs: object) -> AlertRule:
    return msgspec.convert({"metric": "stale", "threshold": seconds, **kwargs}, AlertRule)


def test_stale_rule_counts_silence_of_the_quieter_leg_on_the_exchange_clock() -> None:
    book = AlertBook([stale_rule(5.0)])
    live = FeedStatus(state="live")
    assert book.on_feed(live, 10_000.0, 9_000) == []
    assert book.on_feed(live, 14_000.0, 9_000) == []
    (event,) = book.on_feed(FeedStatus(state="stale"), 14_500.0, 9_000)
    assert (event.time, event.value) == (14_500, 5.5)
    assert event.message == 'no trade for 6 s (stale) (rule "stale > 5")'
    assert book.on_feed(live, 30_000.0, 9_000) == []  # still the same silence
    assert book.on_feed(live, 30_100.0, 30_000) == []  # a trade re-arms it
    assert [e.time for e in book.on_feed(live, 36_000.0, 30_000)] == [36_000]


def test_stale_rule_counts_from_the_start_before_any_trade() -> None:
    book = AlertBook([stale_rule(5.0)])
    connecting = FeedStatus(state="connecting")
    assert book.on_feed(connecting, 1_000.0) == []
    assert [e.value for e in book.on_feed(connecting, 7_000.0)] == [6.0]


def test_a_finished_replay_is_not_stale() -> None:
    book = AlertBook([stale_rule(1.0)])
    assert book.on_feed(FeedStatus(state="done"), 100_000.0, 0) == []


class ClockSource:
    """A source the test drives by hand: trades go in with :meth:`trade`, the clock is set."""

    def __init__(self) -> None:
        self.now: float | None = None
        self.sink: TradeSink | None = None

    @property
    def status(self) -> FeedStatus:
        return FeedStatus(state="live")

    def exchange_now_ms(self) -> float | None:
        return self.now

    async def run(self, sink: TradeSink) -> None:
        self.sink = sink


def test_stale_alert_shows_at_once_and_rides_on_the_next_bar() -> None:
    source = ClockSource()
    book = AlertBook([stale_rule(3.0)], pair=PAIR)
    pipeline = Pipeline(Settings(), source, PAIR, alerts=book)
    lines: list[ClosedBar] = []
    pipeline.add_bar_listener(lines.append)
    for symbol, price in zip(PAIR, (61_800.0, 2_680.0), strict=True):
        pipeline.on_trade(Trade(symbol, 1_000_000, price, 1.0, False))
    source.now = 1_000_500.0
    pipeline.advance()
    assert pipeline.snapshot().alerts == ()
    source.now = 1_004_100.0  # 4.1 s without a trade: stale; the clock also closes flat bars
    pipeline.advance()
    (event,) = pipeline.snapshot().alerts
    assert event.metric == "stale" and event.time == 1_004_100
    assert not any(bar.alerts for bar in lines)  # bars this tick closed came before it
    source.now = 1_005_500.0  # the next bar carries it, once
    pipeline.advance()
    flagged = [bar for bar in lines if bar.alerts]
    assert [bar.alerts for bar in flagged] == [(event,)]
    assert flagged[0].bar.ts > 1_000_000


# -- rules from the palette -----------------------------------------------------------------


def test_palette_rule_reads_all_options() -> None:
    rule = parse_rule('zscore abs> 2 hysteresis=0.5 cooldown=60 bell name="z wide"')
    assert rule == AlertRule(
        name="z wide",
        metric="zscore",
        op="abs>",
        threshold=2.0,
        hysteresis=0.5,
        cooldown_seconds=60.0,
        bell=True,
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("zscor > 2", "unknown metric 'zscor'; one of zscore, spread"),
        ("zscore => 2", "unknown operator '=>'"),
        ("zscore > two", "threshold: expected `float`"),
        ("zscore >", "write METRIC OP THRESHOLD"),
        ("zscore > 2 cool=3", "unknown option 'cool'"),
        ("zscore > 2 hysteresis=-1", "hysteresis: must be >= 0"),
        ("stale < 3", "op: the stale rule fires on silence"),
        ("adf_p < 5", "threshold: a p-value is between 0 and 1"),
        ('zscore > 2 name="open', "No closing quotation"),
    ],
)
def test_palette_rule_errors_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match="alert rule") as caught:
        parse_rule(text)
    assert says in str(caught.value)


def test_added_rule_starts_armed_and_names_are_unique() -> None:
    book = AlertBook()
    book.add_rule(parse_rule("zscore > 2"))
    assert fire_times(book, [2.5]) == [0]
    with pytest.raises(ConfigError, match="exists"):
        book.add_rule(parse_rule("zscore > 2"))
    assert book.remove_rule("zscore > 2") and book.rules == ()


# -- end to end: headless mode on replayed real data ---------------------------------------


def test_headless_lines_carry_the_alerts_of_a_rule_on_replayed_real_data(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("pairs_tui.feed.replay", reason="the replay reader has not landed")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    exports = tmp_path / "exports"
    config = tmp_path / "config.toml"
    config.write_text(
        textwrap.dedent(f"""
        [export]
        folder = "{exports}"

        [[alerts.rules]]
        name = "z wide"
        metric = "zscore"
        op = "abs>"
        threshold = 2.0
        hysteresis = 0.5
        cooldown_seconds = 10
        bell = true
    """)
    )
    code = main(
        ["--replay", str(ENVELOPES), "--headless", "--config", str(config), "--window", "30"]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) > 300
    # The same rule worked out by hand on the z-scores the lines report.
    expected, armed, last_end = [], True, None
    for line in lines:
        z = line["zscore"]
        if z is None:
            continue
        if not armed:
            armed = abs(z) <= 1.5
            continue
        if abs(z) > 2.0:
            armed = False
            end = line["ts"] + 1_000
            if last_end is None or end - last_end >= 10_000:
                expected.append((line["ts"], z))
                last_end = end
    fired = [(line["ts"], alert) for line in lines for alert in line["alerts"]]
    assert len(expected) >= 2
    assert [(ts, alert["value"]) for ts, alert in fired] == expected
    assert all(
        alert["time"] == ts and alert["rule"] == "z wide" and alert["bell"] for ts, alert in fired
    )
    # The alert log lives in the state folder, not the export folder (nothing unasked in ./).
    log = tmp_path / "state" / "pairs-tui" / "alerts.ndjson"
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["time"], e["value"], e["pair"], e["timeframe"]) for e in logged] == [
        (ts, z, "BTCUSDT/ETHUSDT", "1s") for ts, z in expected
    ]


def test_every_bar_metric_is_an_analytics_field() -> None:
    assert BAR_METRICS.issubset(PairStats.__struct_fields__)


def test_every_carry_metric_is_a_carry_field_and_a_rule_metric() -> None:
    assert CARRY_METRICS.issubset(Carry.__struct_fields__)
    assert parse_rule("carry_bp_day < -5").metric == "carry_bp_day"


def test_carry_rules_fire_on_the_funding_in_force_at_each_bar() -> None:
    book = AlertBook(
        [
            AlertRule(name="carry", metric="carry_bp_day", op="<", threshold=-5.0, hysteresis=1),
            AlertRule(name="funding", metric="funding_b", op=">", threshold=0.0003),
        ]
    )
    fired: list[tuple[int, str]] = []
    for ts, (carry, funding_b) in enumerate([(-2.0, 0.0001), (-6.0, 0.0004), (-5.5, 0.0004)]):
        funding = Carry(
            funding_a=0.0001, funding_b=funding_b, next_funding_ts=None, carry_bp_day=carry
        )
        closed = msgspec.structs.replace(closed_bar(ts * 1_000, 0.0), carry=funding)
        fired += [(event.time, event.rule) for event in book.on_bar(closed)]
    # Without carry (off, or before the first mark) nothing fires and nothing changes.
    fired += [(e.time, e.rule) for e in book.on_bar(closed_bar(3_000, 0.0))]
    assert fired == [(1_000, "carry"), (1_000, "funding")]
    # A timeframe switch does not re-arm them: the funding is the same series.
    funding = Carry(funding_a=0.0001, funding_b=0.0004, next_funding_ts=None, carry_bp_day=-6.0)
    assert book.on_bar(msgspec.structs.replace(closed_bar(60_000, 0.0, "1m"), carry=funding)) == []
