"""Lifecycle events: connections opening and closing, topics becoming occupied or vacated.

Each topic's subscribers are counted by atomic counters (one ``ADD`` per change, outside
the subscribe transaction, so a crowd joining one topic never conflicts on it), changed
only for a subscription row that was really written or really deleted (the table says
which), so two connections joining or leaving at once can never both see "first" or
"last". A subscribe counts its row, then marks it counted; whoever deletes a counted row
uncounts it, and a subscribe that finds its row deleted before it could mark it uncounts
it itself: of a subscribe and a racing ``$disconnect``, whoever comes second takes the
count back. A subscriber counts until its row's expiry (rounded up to
``OCCUPANCY_BUCKET_SECONDS``), so a row that expires without a ``$disconnect`` stops
counting by itself. Every event is published at most once: ``closed`` only by whoever
deleted the connection's row. A failure to publish is logged and counted, never raised:
the connection goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from wspush.logic.live_presence import LivePresence
from wspush.models.connection import DeletedRow
from wspush.models.events import PublishError
from wspush.models.identifiers import TOPIC_PARTITION_PREFIX, is_topic_partition
from wspush.observability import count, logger

SOURCE = "wspush"
CONNECTION_OPENED = "wspush.connection.opened"
CONNECTION_CLOSED = "wspush.connection.closed"
TOPIC_OCCUPIED = "wspush.topic.occupied"
TOPIC_VACATED = "wspush.topic.vacated"
# Subscribers are counted in buckets by expiry: a topic's counter item holds one count
# per bucket (a dozen over a 2 h 10 min connection TTL), a bucket stops counting once
# its end has passed, and a subscriber whose row expired without a $disconnect stops
# counting at most this long after its row's expiresAt.
OCCUPANCY_BUCKET_SECONDS = 300


def counted_until(expires_at: int) -> int:
    """When a subscription row expiring at ``expires_at`` stops counting: the end of its
    expiry bucket."""
    return -(-expires_at // OCCUPANCY_BUCKET_SECONDS) * OCCUPANCY_BUCKET_SECONDS


class EventSink(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class OccupancyStore(Protocol):
    def change_occupancy(self, topic: str, delta: int, until: int, now: int) -> int: ...


@dataclass(frozen=True)
class Lifecycle:
    occupancy: OccupancyStore
    events: EventSink
    clock: Callable[[], float] = field(default=time.time)
    # Live presence on the topics it applies to (``logic.live_presence``); None: off.
    presence: LivePresence | None = None

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

    def _occupancy_changed(
        self, topic: str, delta: int, until: int, entity_id: str | None, connection_id: str
    ) -> None:
        """The one place a topic's transitions are decided: ``occupied`` when its count
        becomes 1 by an arrival, ``vacated`` when it falls to 0 by a departure."""
        subscribers = self.occupancy.change_occupancy(topic, delta, until, int(self.clock()))
        detail = {"topic": topic, "entityId": entity_id, "connectionId": connection_id}
        if delta > 0 and subscribers == 1:
            self._publish(TOPIC_OCCUPIED, detail)
        elif delta < 0 and subscribers <= 0:
            self._publish(TOPIC_VACATED, detail)

    def subscription_added(
        self,
        topic: str,
        entity_id: str | None,
        connection_id: str,
        expires_at: int,
        mark_counted: Callable[[], bool],
        info: str | None = None,
    ) -> bool:
        """Call once per subscription row that did not exist before: count it (and its
        entity's membership of a presence topic), then mark the row counted
        (``mark_counted``); a row deleted before it was marked was not uncounted by its
        deleter, so it is uncounted here. False, with nothing counted, when the row would
        add a member to a full presence topic: the caller removes it."""
        until = counted_until(expires_at)
        now = int(self.clock())
        member = self._presence_of(topic, entity_id)
        if member is not None and not member.join(topic, str(entity_id), info, until, now):
            return False
        self._occupancy_changed(topic, 1, until, entity_id, connection_id)
        if not mark_counted():
            self._occupancy_changed(topic, -1, until, entity_id, connection_id)
            if member is not None:
                member.leave(topic, str(entity_id), info, until, int(self.clock()))
        return True

    def _presence_of(self, topic: str, entity_id: str | None) -> LivePresence | None:
        if self.presence is None or entity_id is None or not self.presence.applies(topic):
            return None
        return self.presence

    def subscription_removed(
        self, topic: str, row: DeletedRow, entity_id: str | None, connection_id: str
    ) -> None:
        """Call once per subscription row this call deleted: a counted row is uncounted,
        unless it had stopped counting already (expired)."""
        until = counted_until(row.expires_at)
        if row.counted and until > int(self.clock()):
            self._occupancy_changed(topic, -1, until, entity_id, connection_id)
            member = self._presence_of(topic, entity_id)
            if member is not None:
                member.leave(topic, str(entity_id), row.info, until, int(self.clock()))

    def rows_deleted(
        self,
        rows: Collection[DeletedRow],
        connection_id: str,
        entity_id: str | None,
        reason: str,
    ) -> None:
        """After a connection's rows were deleted: each topic it left, then ``closed`` if
        its own row was among them."""
        own_rows = [row.partition_key for row in rows if not is_topic_partition(row.partition_key)]
        entity_id = entity_id or next(iter(own_rows), None)
        for row in rows:
            if is_topic_partition(row.partition_key):
                topic = row.partition_key[len(TOPIC_PARTITION_PREFIX) :]
                self.subscription_removed(topic, row, entity_id, connection_id)
        if own_rows:
            self.connection_closed(entity_id, connection_id, reason)
