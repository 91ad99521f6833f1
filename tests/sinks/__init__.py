"""Alerts that reach you: the sinks, their queues, their settings."""
