"""``presence``: which entities are subscribed to a topic, with their connection counts."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Protocol

from wspush.logic import envelope
from wspush.models.connection import Target

# A presence answer stays one WebSocket frame whatever the topic's audience: at most this
# many entities, and never more bytes than API Gateway sends in one message.
MAX_PRESENCE_ENTITIES = 1000


class MemberStore(Protocol):
    def topic_members(self, topic: str, now: int) -> list[Target]: ...


def member_info(stored: str | None) -> Any:
    """A member's ``info`` as stored (its token's claim, compact JSON), or None."""
    if not stored:
        return None
    try:
        return json.loads(stored)
    except ValueError:
        return None


def presence(
    topic: str,
    store: MemberStore,
    now: int,
    limit: int = MAX_PRESENCE_ENTITIES,
    max_bytes: int = envelope.MAX_MESSAGE_BYTES,
) -> dict[str, Any]:
    """``{"type": "presence", "topic", "entities": [{"entityId", "connections", "info"}],
    "connections", "truncated"}``: entities sorted by id, each counted once; the first
    ``limit`` of them that fit in ``max_bytes`` encoded, ``truncated`` when some did not."""
    members = store.topic_members(topic, now)
    per_entity = Counter(m.owner_entity_id for m in members if m.owner_entity_id)
    infos = {m.owner_entity_id: m.info for m in members if m.owner_entity_id and m.info}
    reply: dict[str, Any] = {
        "type": "presence",
        "topic": topic,
        "entities": [],
        "connections": len({m.connection_id for m in members}),
        "truncated": False,  # the wider value ("false"), while the entities are measured
    }
    size = len(envelope.encode(reply))
    for entity in sorted(per_entity)[:limit]:
        listed = {
            "entityId": entity,
            "connections": per_entity[entity],
            "info": member_info(infos.get(entity)),
        }
        # One more entity costs its encoding and, after the first, a comma.
        size += len(envelope.encode(listed)) + bool(reply["entities"])
        if size > max_bytes:
            break
        reply["entities"].append(listed)
    reply["truncated"] = len(reply["entities"]) < len(per_entity)
    return reply
