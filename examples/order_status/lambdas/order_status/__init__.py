"""The order-status example's own code: the ``placeOrder`` WebSocket route."""
