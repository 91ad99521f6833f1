"""The embedded Binance-compatible exchange: the server side, for the demo and the tests.

- :mod:`~pairs_tui.exchange.server`: :class:`EmbeddedExchange`, its life cycle and what tests see;
- :mod:`~pairs_tui.exchange.websocket`: the stream routes, subscriptions and control messages;
- :mod:`~pairs_tui.exchange.rest`: the REST endpoints, a route table;
- :mod:`~pairs_tui.exchange.timeline`: publishing the tape on the exchange's clock;
- :mod:`~pairs_tui.exchange.tape`, :mod:`~pairs_tui.exchange.simulation`: what it publishes;
- :mod:`~pairs_tui.exchange.faults`: misbehaviour on demand.

Nothing is re-exported here: import each name from the module that defines it.
"""
