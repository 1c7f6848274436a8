"""Opening and closing connections."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from wspush.logic.lifecycle import Lifecycle
from wspush.models.connection import Connection, DeletedRow
from wspush.models.identifiers import is_topic_partition, topic_partition

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
    def delete_row(
        self, partition_key: str, connection_id: str, written_before: int | None = None
    ) -> DeletedRow | None: ...
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
    info: str | None = None,
) -> Connection:
    connection = Connection(
        entity_id=entity_id,
        connection_id=connection_id,
        connected_at=now,
        expires_at=now + ttl_seconds,
        source_ip=storable_text(source_ip, MAX_SOURCE_IP_CHARS),
        user_agent=storable_text(user_agent, MAX_USER_AGENT_CHARS),
        info=info,
    )
    store.put_connection(connection)
    return connection


def delete_connection_rows(
    partitions: Iterable[str],
    delete: Callable[[str], DeletedRow | None],
    delete_subscriptions: Callable[[list[str]], None] | None = None,
) -> list[DeletedRow]:
    """Delete a connection's rows, given the partition keys known to hold them: its own row
    first, so that from then on no subscription can be added to it, and the row as
    deleted names every topic it holds, including any the eventually consistent
    ``byConnection`` index does not show yet; then every subscription row, one by one with
    ``delete`` or, given ``delete_subscriptions``, all at once (not knowing which were
    there). Returns the rows deleted."""
    known = set(partitions)
    own = [row for p in sorted(known) if not is_topic_partition(p) if (row := delete(p))]
    topics = {p for p in known if is_topic_partition(p)}
    topics.update(topic_partition(topic) for row in own for topic in row.topics)
    if delete_subscriptions is not None:
        delete_subscriptions(sorted(topics))
        return own + [DeletedRow(partition) for partition in sorted(topics)]
    return own + [row for p in sorted(topics) if (row := delete(p)) is not None]


def close_connection(
    store: RowStore,
    connection_id: str,
    lifecycle: Lifecycle | None = None,
    entity_id: str | None = None,
    reason: str = "disconnected",
) -> list[DeletedRow]:
    """Delete every row the connection owns (see ``delete_connection_rows``): its
    subscriptions in batches, or, with lifecycle events on, one by one, so that only the
    rows this call really deleted are uncounted (a connection closed twice at once leaves
    each topic once).

    Idempotent: an unknown or already-closed connection deletes nothing and is no error.
    Returns the rows this call deleted (every subscription, without ``lifecycle``); with
    ``lifecycle``, the topics those rows leave and the connection's close are published.
    """
    partitions = {partition for partition, _ in store.rows_of_connection(connection_id)}
    if entity_id:
        partitions.add(entity_id)
    deleted = delete_connection_rows(
        partitions,
        lambda partition: store.delete_row(partition, connection_id),
        None
        if lifecycle is not None
        else lambda topics: store.delete_rows([(p, connection_id) for p in topics]),
    )
    if lifecycle is not None:
        lifecycle.rows_deleted(deleted, connection_id, entity_id, reason)
    return deleted
