"""``presence``: which entities are subscribed to a topic, with their connection counts."""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from wspush.models.connection import Target

# A presence answer stays one WebSocket frame (128 KB) whatever the topic's audience.
MAX_PRESENCE_ENTITIES = 1000


class MemberStore(Protocol):
    def topic_members(self, topic: str, now: int) -> list[Target]: ...


def presence(
    topic: str, store: MemberStore, now: int, limit: int = MAX_PRESENCE_ENTITIES
) -> dict[str, Any]:
    """``{"type": "presence", "topic", "entities": [{"entityId", "connections"}],
    "connections", "truncated"}``: entities sorted by id, each counted once."""
    members = store.topic_members(topic, now)
    per_entity = Counter(m.owner_entity_id for m in members if m.owner_entity_id)
    entities = [
        {"entityId": entity, "connections": per_entity[entity]}
        for entity in sorted(per_entity)[:limit]
    ]
    return {
        "type": "presence",
        "topic": topic,
        "entities": entities,
        "connections": len({m.connection_id for m in members}),
        "truncated": len(per_entity) > limit,
    }
