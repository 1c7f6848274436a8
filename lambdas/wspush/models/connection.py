"""A connection row and a delivery target."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Connection:
    """One live WebSocket connection as stored in the connections table."""

    entity_id: str
    connection_id: str
    connected_at: int
    expires_at: int
    source_ip: str = ""
    user_agent: str = ""
    info: str | None = None  # the token's info claim (compact JSON object)


@dataclass(frozen=True)
class Target:
    """A row a push delivers to: (partition key, connectionId).

    For a topic push the partition key is the topic's; ``owner_entity_id`` then names the
    entity whose connection row must also go when the connection turns out to be gone.
    """

    partition_key: str
    connection_id: str
    owner_entity_id: str | None = None
    connected_at: int = 0  # when $connect wrote the row (epoch seconds); 0 when unknown
    info: str | None = None  # a subscription row's copy of its connection's info claim


@dataclass(frozen=True)
class DeletedRow:
    """A row some call really deleted, as it was: a connection row names the topics it
    had subscribed to; a subscription row says whether its subscriber had been counted in
    the topic's occupancy (then whoever deletes it uncounts it) and when it expired."""

    partition_key: str
    topics: frozenset[str] = frozenset()
    counted: bool = False
    expires_at: int = 0
    info: str | None = None  # a subscription row's copy of its connection's info claim


@dataclass(frozen=True)
class BudgetSpend:
    """What taking from a connection's budget did: whether it was allowed, and the
    bucket's theoretical arrival time after it (allowed) or as it stands (refused); None
    when the connection row is gone."""

    allowed: bool
    tat_ms: int | None


class SubscribeOutcome(enum.Enum):
    """What adding a subscription did."""

    ADDED = "added"
    ALREADY_SUBSCRIBED = "already_subscribed"  # nothing written, nothing counted
    LIMIT_REACHED = "limit_reached"  # the connection holds its maximum already
    CONNECTION_GONE = "connection_gone"  # no connection row (it is closing)
