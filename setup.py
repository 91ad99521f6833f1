"""The compiled parts: the NDJSON replay's and the live read loop's fast paths
(``pairs_tui.feed.replay._lines``), the tick store's append (``pairs_tui._columns``), and the
merge of sorted runs and a leg's bars of a batch (``pairs_tui._runs``).

Everything else is in pyproject.toml. The extensions are optional: where they cannot be built (no
C compiler), the same work is done in Python, with the same result, more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pairs_tui.feed.replay._lines",
            ["src/pairs_tui/feed/replay/_lines.c"],
            optional=True,
        ),
        Extension("pairs_tui._columns", ["src/pairs_tui/_columns.c"], optional=True),
        Extension("pairs_tui._runs", ["src/pairs_tui/_runs.c"], optional=True),
    ]
)
