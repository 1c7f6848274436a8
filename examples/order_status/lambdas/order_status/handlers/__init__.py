"""Lambda entry points of the order-status example."""
