"""``--replay``: recorded trades or bars from files, delivered like a live feed.

- :mod:`~pairs_tui.feed.replay.source`: :class:`ReplaySource`, the feed that delivers them;
- :mod:`~pairs_tui.feed.replay.load`: reading every file and merging the pair's trades;
- :mod:`~pairs_tui.feed.replay.files`: opening a file and recognising its format;
  :class:`ReplayError`;
- :mod:`~pairs_tui.feed.replay.ndjson`, :mod:`~pairs_tui.feed.replay.csv`,
  :mod:`~pairs_tui.feed.replay.parquet`: the readers;
- :mod:`~pairs_tui.feed.replay.table`: the tables every reader produces and their shared rules;
- :mod:`~pairs_tui.feed.replay.bars`: bar files aligned on one grid.
"""
