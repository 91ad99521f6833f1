"""The embedded exchange: the server side, for the demo and the tests.

- :mod:`~pairs_tui.exchange.server`: :class:`EmbeddedExchange`, its life cycle and what tests see;
- :mod:`~pairs_tui.exchange.websocket`: the stream routes, subscriptions and control messages;
- :mod:`~pairs_tui.exchange.rest`: the REST endpoints, a route table; with
  :mod:`~pairs_tui.exchange.klines`, :mod:`~pairs_tui.exchange.ticker` and
  :mod:`~pairs_tui.exchange.weights` (request weight, 429 and 418);
- :mod:`~pairs_tui.exchange.timeline`: publishing the tape on the exchange's clock;
- :mod:`~pairs_tui.exchange.candles`: every symbol's 1-second bars, and klines folded from them;
- :mod:`~pairs_tui.exchange.tape`, :mod:`~pairs_tui.exchange.simulation`: what it publishes;
- :mod:`~pairs_tui.exchange.past`, :mod:`~pairs_tui.exchange.universe`,
  :mod:`~pairs_tui.exchange.market`: hours of past, the simulated universe, the demo's markets;
- :mod:`~pairs_tui.exchange.faults`: misbehaviour on demand.

Nothing is re-exported here: import each name from the module that defines it.
"""
