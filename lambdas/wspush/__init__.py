"""wspush: push notifications to WebSocket clients through API Gateway."""
