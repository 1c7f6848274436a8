"""Validation of the identifiers that become DynamoDB keys."""

from __future__ import annotations

import re

# '#' is reserved: topic subscription rows live under the partition key "topic#<name>",
# so no entity id can ever collide with one.
_ENTITY_ID = re.compile(r"^[A-Za-z0-9_.:@|+=-]{1,128}$")
_TOPIC = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
TOPIC_PARTITION_PREFIX = "topic#"


def is_valid_entity_id(value: object) -> bool:
    return isinstance(value, str) and _ENTITY_ID.fullmatch(value) is not None


def is_valid_topic(value: object) -> bool:
    return isinstance(value, str) and _TOPIC.fullmatch(value) is not None


def is_valid_topic_pattern(value: object) -> bool:
    """A topic name, or a prefix of one followed by ``*`` (``orders.*``; ``*`` alone is
    every topic)."""
    if not isinstance(value, str):
        return False
    if value == "*":
        return True
    return is_valid_topic(value[:-1] if value.endswith("*") else value)


# A subscription pattern ends in a ``*`` segment: after a ``.`` or ``/`` separator, or
# alone. Topics never contain ``*``, so a pattern's subscription rows (under
# ``topic#<pattern>``, e.g. ``topic#room.*``) never share a partition with a topic's.
PATTERN_WILDCARD = "*"
TOPIC_SEPARATORS = "./"


def is_subscription_pattern(value: object) -> bool:
    """``*`` alone, or a topic prefix ending in ``.`` or ``/`` followed by ``*``
    (``room.*``, ``a/b/*``), at most 128 characters in all."""
    if value == PATTERN_WILDCARD:
        return True
    if not isinstance(value, str) or len(value) < 3 or not value.endswith(PATTERN_WILDCARD):
        return False
    prefix = value[:-1]
    return prefix[-1] in TOPIC_SEPARATORS and is_valid_topic(prefix)


def is_valid_subscription(value: object) -> bool:
    """What ``subscribe`` and ``unsubscribe`` accept: a topic or a subscription pattern."""
    return is_valid_topic(value) or is_subscription_pattern(value)


def topic_partition(topic: str) -> str:
    return f"{TOPIC_PARTITION_PREFIX}{topic}"


def is_topic_partition(partition_key: str) -> bool:
    """Whether a connections-table partition key holds a topic's subscription rows."""
    return partition_key.startswith(TOPIC_PARTITION_PREFIX)
