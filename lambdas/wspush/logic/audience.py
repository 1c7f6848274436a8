"""A topic push's audience across its subscriptions: the topic's own and its patterns'.

A push on ``room.1.x`` reaches the subscribers of ``room.1.x``, ``room.1.*``, ``room.*``
and ``*`` (``topics.subscription_keys``): one ``Query`` per partition, ``depth + 1`` for a
topic of ``depth`` segments, never a scan. A connection holding several of them gets one
copy, from its *delivering* subscription: the first of those keys it holds.

- Read whole by one invocation (the audience fits one shard), the partitions are merged
  in key order and a connection is kept at its first row (``merge``): no extra read.
- Split into shards (one chain of shards per partition, ``among`` naming the topic), each
  page's connections are looked up (``BatchGetItem`` of their rows' ``topics``), and a row
  is delivered only when its partition is the connection's delivering subscription
  (``delivering``). Both rules pick the same row, so a push that starts in one invocation
  and goes on in shards still sends each connection one copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from wspush.logic.topics import delivering_subscription, subscription_keys
from wspush.models.connection import Target
from wspush.models.identifiers import topic_partition
from wspush.models.shard import ItemKey


class SubscriptionReader(Protocol):
    def subscriptions_of(self, targets: Sequence[Target]) -> dict[str, frozenset[str]]: ...


def topic_partitions(topic: str) -> list[str]:
    """The partitions a push on ``topic`` reads, in delivering order."""
    return [topic_partition(key) for key in subscription_keys(topic)]


def merge(pages: Iterable[list[Target]]) -> list[Target]:
    """Targets of several partitions (in ``topic_partitions`` order), each connection kept
    at its first row."""
    seen: set[str] = set()
    merged: list[Target] = []
    for page in pages:
        for target in page:
            if target.connection_id not in seen:
                seen.add(target.connection_id)
                merged.append(target)
    return merged


def delivering(
    topic: str, targets: list[Target], store: SubscriptionReader
) -> Iterator[Target | ItemKey]:
    """A page of one partition's targets with the rows that do not deliver (the connection
    gets its copy from another subscription, or is closing) turned into bare positions."""
    subscriptions = store.subscriptions_of(targets)
    for target in targets:
        held = subscriptions.get(target.connection_id, frozenset())
        key = delivering_subscription(topic, held)
        if key is not None and topic_partition(key) == target.partition_key:
            yield target
        else:
            yield ItemKey(target.partition_key, target.connection_id)
