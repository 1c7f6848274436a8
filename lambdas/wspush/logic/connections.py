"""Opening and closing connections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from wspush.logic.lifecycle import Lifecycle
from wspush.models.connection import Connection

# What a connection row keeps of the client's own headers.
MAX_USER_AGENT_CHARS = 512
MAX_SOURCE_IP_CHARS = 64


def storable_text(value: str, limit: int) -> str:
    """A client-supplied header as the connection row stores it: valid UTF-8 (DynamoDB's
    strings are; a lone surrogate would fail every PutItem), printable (control and format
    characters become U+FFFD) and at most ``limit`` characters."""
    text = value[:limit].encode("utf-8", "replace").decode("utf-8")
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


class RowStore(Protocol):
    def rows_of_connection(self, connection_id: str) -> list[tuple[str, str]]: ...
    def delete_row(self, partition_key: str, connection_id: str) -> bool: ...
    def delete_rows(self, rows: Sequence[tuple[str, str]]) -> None: ...


class ConnectionStore(RowStore, Protocol):
    def put_connection(self, connection: Connection) -> None: ...


def open_connection(
    store: ConnectionStore,
    entity_id: str,
    connection_id: str,
    now: int,
    ttl_seconds: int,
    source_ip: str = "",
    user_agent: str = "",
) -> Connection:
    connection = Connection(
        entity_id=entity_id,
        connection_id=connection_id,
        connected_at=now,
        expires_at=now + ttl_seconds,
        source_ip=storable_text(source_ip, MAX_SOURCE_IP_CHARS),
        user_agent=storable_text(user_agent, MAX_USER_AGENT_CHARS),
    )
    store.put_connection(connection)
    return connection


def close_connection(
    store: RowStore,
    connection_id: str,
    lifecycle: Lifecycle | None = None,
    entity_id: str | None = None,
    reason: str = "disconnected",
) -> list[str]:
    """Delete every row the connection owns (its row and its subscriptions): in batches,
    or, with lifecycle events on, one by one, so that only the rows this call really
    deleted are counted (a connection closed twice at once leaves each topic once).

    Idempotent: an unknown or already-closed connection deletes nothing and is no error.
    Returns the partition keys of the rows this call deleted; with ``lifecycle``, the
    topics those rows leave and the connection's close are published.
    """
    rows = store.rows_of_connection(connection_id)
    if lifecycle is None:
        store.delete_rows(rows)
        return [partition_key for partition_key, _ in rows]
    deleted = [partition_key for partition_key, row in rows if store.delete_row(partition_key, row)]
    lifecycle.rows_deleted(deleted, connection_id, entity_id, reason)
    return deleted
