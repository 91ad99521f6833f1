"""Several pairs' headless lines: bar order, then pair order, whichever pair closes first."""

from __future__ import annotations

import io
import json

from pairs_tui.config import Settings
from pairs_tui.desk import Desk
from pairs_tui.headless import HeadlessWriter, WatchWriter
from pairs_tui.pipeline import Pipeline
from sources import ListSource, random_trades

PAIRS = (("BTCUSDT", "ETHUSDT"), ("SOLUSDT", "ETHUSDT"), ("BTCUSDT", "SOLUSDT"))


async def test_lines_come_in_bar_order_then_pair_order() -> None:
    trades = random_trades(("BTCUSDT", "ETHUSDT", "SOLUSDT"), seconds=120, seed=4)
    source = ListSource(trades)
    out = io.StringIO()
    watch = WatchWriter(HeadlessWriter(out), len(PAIRS))
    pipelines = []
    for n, pair in enumerate(PAIRS):
        pipeline = Pipeline(Settings(), source, pair, window=10)
        pipeline.add_bar_listener(watch.listener(n))
        pipelines.append(pipeline)
    await Desk(source, pipelines).run()
    watch.flush()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    keys = [(line["ts"], PAIRS.index((line["symbol_a"], line["symbol_b"]))) for line in lines]
    assert keys == sorted(keys)
    per_pair = {pair: sum(1 for k in keys if k[1] == n) for n, pair in enumerate(PAIRS)}
    assert all(count > 100 for count in per_pair.values())
    assert len(set(keys)) == len(keys)
