"""Live presence: the members of a presence topic hear who joins and who leaves.

On a topic matching ``presence_topic_patterns``, an entity becomes a member when its first
connection subscribes and stops being one when its last subscription row goes
(unsubscribe, ``$disconnect`` or a 410). Each change is announced to every subscriber of
the topic (its own and its patterns'):
``{"type": "member_joined" | "member_left", "topic", "entityId", "info"}``.

The transitions are exact, as ``occupied``/``vacated`` are: each entity has its own
counter per topic (``logic.lifecycle``'s expiry-bucketed atomic counters), changed only
for a subscription row that was really counted and really uncounted, so of two
connections of one entity joining or leaving at once exactly one sees "first" or "last".

A presence topic holds at most ``max_members`` entities. An entity's first join reads the
topic's rows (its own row among them, written before the read) and is refused when they
name more entities than that: of racing joiners, the last to read sees every row written
before it, so the cap is never passed (a race may refuse one that would have fit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wspush.logic.presence import MemberStore, member_info
from wspush.logic.topics import matches
from wspush.models.identifiers import is_subscription_pattern

MEMBER_JOINED = "member_joined"
MEMBER_LEFT = "member_left"
DEFAULT_MAX_MEMBERS = 100


class Counters(Protocol):
    def change_occupancy(self, topic: str, delta: int, until: int, now: int) -> int: ...


# Sends one frame to every subscriber of a topic.
Announce = Callable[[str, dict[str, Any]], None]


def member_key(topic: str, entity_id: str) -> str:
    """The counter of one entity's subscriptions to a topic ('#' is in no topic)."""
    return f"{topic}#member#{entity_id}"


def member_frame(kind: str, topic: str, entity_id: str, info: str | None) -> dict[str, Any]:
    return {"type": kind, "topic": topic, "entityId": entity_id, "info": member_info(info)}


@dataclass(frozen=True)
class LivePresence:
    patterns: Sequence[str]
    counters: Counters
    members: MemberStore
    announce: Announce
    max_members: int = DEFAULT_MAX_MEMBERS

    def applies(self, topic: str) -> bool:
        """Whether ``topic`` is a presence topic (a pattern subscription never is)."""
        return not is_subscription_pattern(topic) and any(matches(topic, p) for p in self.patterns)

    def join(self, topic: str, entity_id: str, info: str | None, until: int, now: int) -> bool:
        """Count one subscription row of the entity; on its first, check the cap and
        announce ``member_joined``. False (nothing counted) when the topic is full."""
        if self.counters.change_occupancy(member_key(topic, entity_id), 1, until, now) != 1:
            return True
        entities = {m.owner_entity_id for m in self.members.topic_members(topic, now)}
        entities.add(entity_id)
        if len(entities) > self.max_members:
            self.counters.change_occupancy(member_key(topic, entity_id), -1, until, now)
            return False
        self.announce(topic, member_frame(MEMBER_JOINED, topic, entity_id, info))
        return True

    def leave(self, topic: str, entity_id: str, info: str | None, until: int, now: int) -> None:
        """Uncount one subscription row of the entity; on its last, announce
        ``member_left``."""
        if self.counters.change_occupancy(member_key(topic, entity_id), -1, until, now) <= 0:
            self.announce(topic, member_frame(MEMBER_LEFT, topic, entity_id, info))
