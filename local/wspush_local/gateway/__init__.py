"""What clients and backends talk to: the WebSocket API (frames, routes, ``@connections``),
the publish HTTP API (SigV4, JWT), the demo page, and the deployed API read back from the
emulator. Uses ``runtime`` only."""
