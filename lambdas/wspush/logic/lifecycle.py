"""Lifecycle events: connections opening and closing, topics becoming occupied or vacated.

Each topic's subscribers are counted by one atomic counter, changed only when a
subscription row was really written or really deleted (the table says which), so two
connections joining or leaving at once can never both see "first" or "last". Every event
is published at most once: ``closed`` only by whoever deleted the connection's row.
A failure to publish is logged and counted, never raised: the connection goes on.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from wspush.models.events import PublishError
from wspush.models.identifiers import TOPIC_PARTITION_PREFIX
from wspush.observability import count, logger

SOURCE = "wspush"
CONNECTION_OPENED = "wspush.connection.opened"
CONNECTION_CLOSED = "wspush.connection.closed"
TOPIC_OCCUPIED = "wspush.topic.occupied"
TOPIC_VACATED = "wspush.topic.vacated"


class EventSink(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class OccupancyStore(Protocol):
    def change_occupancy(self, topic: str, delta: int) -> int: ...


@dataclass(frozen=True)
class Lifecycle:
    occupancy: OccupancyStore
    events: EventSink

    def _publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        try:
            self.events.publish(detail_type, detail)
        except PublishError as error:
            count("LifecycleEventsFailed")
            logger.warning(
                "lifecycle event not published",
                extra={"detailType": detail_type, "error": str(error)},
            )
            return
        count("LifecycleEventsPublished")

    def connection_opened(self, entity_id: str, connection_id: str) -> None:
        self._publish(CONNECTION_OPENED, {"entityId": entity_id, "connectionId": connection_id})

    def connection_closed(self, entity_id: str | None, connection_id: str, reason: str) -> None:
        self._publish(
            CONNECTION_CLOSED,
            {"entityId": entity_id, "connectionId": connection_id, "reason": reason},
        )

    def topic_joined(self, topic: str, entity_id: str | None, connection_id: str) -> None:
        """Call once per subscription row that did not exist before."""
        if self.occupancy.change_occupancy(topic, 1) == 1:
            self._publish(
                TOPIC_OCCUPIED,
                {"topic": topic, "entityId": entity_id, "connectionId": connection_id},
            )

    def topic_left(self, topic: str, entity_id: str | None, connection_id: str) -> None:
        """Call once per subscription row that was really deleted."""
        if self.occupancy.change_occupancy(topic, -1) <= 0:
            self._publish(
                TOPIC_VACATED,
                {"topic": topic, "entityId": entity_id, "connectionId": connection_id},
            )

    def rows_deleted(
        self, partitions: Collection[str], connection_id: str, entity_id: str | None, reason: str
    ) -> None:
        """After a connection's rows were deleted: each topic it left, then ``closed`` if
        its own row was among them."""
        topics = [p for p in partitions if p.startswith(TOPIC_PARTITION_PREFIX)]
        own_rows = [p for p in partitions if not p.startswith(TOPIC_PARTITION_PREFIX)]
        entity_id = entity_id or next(iter(own_rows), None)
        for partition in topics:
            self.topic_left(partition[len(TOPIC_PARTITION_PREFIX) :], entity_id, connection_id)
        if own_rows:
            self.connection_closed(entity_id, connection_id, reason)
