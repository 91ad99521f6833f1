"""The terminal monitor: a Textual app that draws the pipeline's latest snapshot on timers."""
