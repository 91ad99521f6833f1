"""The one compiled part: the NDJSON replay's fast path (``pairs_tui.feed.replay._lines``).

Everything else is in pyproject.toml. The extension is optional: where it cannot be built (no C
compiler), the replay reads every line in Python, with the same result, more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pairs_tui.feed.replay._lines",
            ["src/pairs_tui/feed/replay/_lines.c"],
            optional=True,
        )
    ]
)
