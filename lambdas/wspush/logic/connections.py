"""Opening and closing connections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from wspush.models.connection import Connection


class ConnectionStore(Protocol):
    def put_connection(self, connection: Connection) -> None: ...
    def rows_of_connection(self, connection_id: str) -> list[tuple[str, str]]: ...
    def delete_rows(self, rows: Sequence[tuple[str, str]]) -> None: ...


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


def close_connection(store: ConnectionStore, connection_id: str) -> int:
    """Delete every row the connection owns (its row and its subscriptions), in batches.

    Idempotent: an unknown or already-closed connection deletes nothing and is no error.
    Returns how many rows were deleted.
    """
    rows = store.rows_of_connection(connection_id)
    store.delete_rows(rows)
    return len(rows)
