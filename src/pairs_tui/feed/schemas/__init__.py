"""What Binance sends, one module per API area: each msgspec Struct with its conversion to our
records.

- :mod:`~pairs_tui.feed.schemas.ws`: WebSocket frames and payloads (``aggTrade``, ``trade``,
  control replies), live and recorded;
- :mod:`~pairs_tui.feed.schemas.rest`: REST rows and bodies (``aggTrades``, ``exchangeInfo``,
  server time, the API error body).
"""
