"""Opening and closing connections."""

from __future__ import annotations

from typing import Protocol

from wspush.logic.lifecycle import Lifecycle
from wspush.models.connection import Connection


class RowStore(Protocol):
    def rows_of_connection(self, connection_id: str) -> list[tuple[str, str]]: ...
    def delete_row(self, partition_key: str, connection_id: str) -> bool: ...


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
        source_ip=source_ip,
        user_agent=user_agent[:512],
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
    """Delete every row the connection owns (its row and its subscriptions).

    Idempotent: an unknown or already-closed connection deletes nothing and is no error.
    Returns the partition keys of the rows this call deleted; with ``lifecycle``, the
    topics those rows leave and the connection's close are published.
    """
    deleted = [
        partition_key
        for partition_key, row_connection_id in store.rows_of_connection(connection_id)
        if store.delete_row(partition_key, row_connection_id)
    ]
    if lifecycle is not None:
        lifecycle.rows_deleted(deleted, connection_id, entity_id, reason)
    return deleted
