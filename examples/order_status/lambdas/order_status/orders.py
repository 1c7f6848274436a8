"""Placing an order: the rules, with no AWS and no event shapes.

A client sends ``{"action": "placeOrder", "item": "margherita"}``; the order it places
belongs to the entity its token names and is reported to that entity's connections.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_ITEM_LENGTH = 64
_ITEM = re.compile(r"^[\w][\w .,'&-]*$")


class InvalidOrder(ValueError):
    """A placeOrder frame that cannot become an order; ``code`` goes in the error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Order:
    order_id: str
    item: str
    entity_id: str
    connection_id: str

    def execution_input(self) -> dict[str, Any]:
        """The state machine's input: the order and who placed it, from where."""
        return {
            "orderId": self.order_id,
            "item": self.item,
            "entityId": self.entity_id,
            "connectionId": self.connection_id,
        }

    def placed_frame(self) -> dict[str, Any]:
        """The reply to the caller: the order id its status pushes will carry."""
        return {"type": "orderPlaced", "orderId": self.order_id, "item": self.item}


def parse_order(
    body: str | None, entity_id: str | None, connection_id: str, order_id: str
) -> Order:
    """Read a placeOrder frame; raise ``InvalidOrder`` naming what is wrong."""
    if not entity_id:
        # Only an authorized connection has an entity to report the order to.
        raise InvalidOrder("unauthorized", "placing an order needs an authenticated connection")
    try:
        message = json.loads(body or "")
    except ValueError:
        raise InvalidOrder("malformed_json", "the frame is not JSON") from None
    if not isinstance(message, dict):
        raise InvalidOrder("invalid_message", "the frame must be a JSON object")
    item = message.get("item")
    if not isinstance(item, str) or not item.strip():
        raise InvalidOrder("invalid_order", "item must be a non-empty string")
    item = item.strip()
    if len(item) > MAX_ITEM_LENGTH or not _ITEM.match(item):
        raise InvalidOrder(
            "invalid_order",
            f"item must be at most {MAX_ITEM_LENGTH} letters, digits, spaces or .,'&-",
        )
    return Order(order_id=order_id, item=item, entity_id=entity_id, connection_id=connection_id)


def error_frame(error: InvalidOrder) -> dict[str, Any]:
    """wspush's error frame shape."""
    return {"type": "error", "code": error.code, "message": str(error)}
