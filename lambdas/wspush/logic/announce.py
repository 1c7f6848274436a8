"""Announcing a presence change to a topic's subscribers, from the function that saw it.

The frame goes to every connection subscribed to the topic or to a pattern matching it
(``logic.audience``: one ``Query`` per level, one copy per connection), posted through
``@connections`` with one retry. Presence topics are small by design (at most
``presence_max_members`` entities); at most ``limit`` connections are announced to
directly, and a larger audience is logged and counted (``PresenceAnnouncementsCut``).
A 410 is left to the pushes and ``$disconnect`` that clean up gone connections.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from wspush.logic import envelope
from wspush.logic.audience import merge, topic_partitions
from wspush.logic.live_presence import Announce
from wspush.logic.push import Retry, Sender, TargetStore, post_with_retries, walk
from wspush.models.connection import Target
from wspush.models.push import Outcome
from wspush.models.shard import Shard
from wspush.observability import count, logger

ANNOUNCE_ATTEMPTS = 2
PAGE_SIZE = 1000


def direct_announcer(
    store: TargetStore, sender: Sender, limit: int, clock: Callable[[], float] = time.time
) -> Announce:
    def announce(topic: str, frame: dict[str, Any]) -> None:
        body = envelope.encode(frame)
        now = int(clock())
        pages = (
            [t for t in walk(Shard(partition=p), store, PAGE_SIZE, now) if isinstance(t, Target)]
            for p in topic_partitions(topic)
        )
        targets = merge(pages)
        if len(targets) > limit:
            count("PresenceAnnouncementsCut")
            logger.warning(
                "presence announcement cut short",
                extra={"topic": topic, "subscribers": len(targets), "limit": limit},
            )
        sent = 0
        for target in targets[:limit]:
            outcome, _ = post_with_retries(
                sender, target.connection_id, body, Retry(ANNOUNCE_ATTEMPTS)
            )
            sent += outcome is Outcome.SENT
        count("PresenceAnnouncementsSent", sent)

    return announce
