"""Allow `python -m pairs_tui`."""

from __future__ import annotations

import sys

from pairs_tui.cli import main

sys.exit(main())
