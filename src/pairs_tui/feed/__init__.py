"""Everything that brings trades in: the Binance client, the embedded exchange, file replay."""
