"""The mean-reversion backtest of the z-score signal, and ``--backtest`` around it.

The imports go one way, from the records up to the session:

* :mod:`.results`: what a backtest ran with and produced (params, trades, metrics, curves).
* :mod:`.metrics`: the summary figures, from the equity curve and the trades.
* :mod:`.engine`: the rules, the fills and the sizing: a pure function over a bar history.
* :mod:`.session`: a replayed session through the live pipeline, backtested, reported, exported.

Nothing here imports Textual.
"""
