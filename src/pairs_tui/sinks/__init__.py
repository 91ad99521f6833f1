"""Alerts that reach you: every fired alert delivered beyond the screen, off the data path.

- :mod:`~pairs_tui.sinks.settings`: the ``[[alerts.sinks]]`` entries of ``config.toml``.
- :mod:`~pairs_tui.sinks.delivery`: :class:`AlertDelivery`, the queues, retries and counters,
  and :func:`build_delivery`, which turns the settings into one.
- :mod:`~pairs_tui.sinks.webhook`, :mod:`~pairs_tui.sinks.command`,
  :mod:`~pairs_tui.sinks.desktop`: the three kinds of sink.

Nothing here imports Textual; this package imports nothing on its own, so that reading the
config (and the CLI catching :class:`AlertsUndelivered`) does not load an HTTP client.
"""


class AlertsUndelivered(Exception):
    """Alerts the sinks were asked to deliver and did not: the run says so and exits 1."""
