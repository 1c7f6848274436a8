"""Who may read a topic: the one check that subscribe, resume and presence all make.

A connection may read a topic when the topic matches one of its token's ``topics``
patterns or one of the deployment's public patterns. A pattern is an exact topic name or
a prefix ending in ``*`` (``orders.*`` matches ``orders.eu`` and ``orders.eu.1``, not
``orders``). There is no other wildcard, so a pattern never matches more than it shows.

A connection may also subscribe to a pattern (``room.*``, ``a/b/*``, ``*``): it then gets
every topic push whose topic the pattern matches. Such a subscription is granted only when
every topic it can match is: when one granted pattern's prefix is a prefix of its own.
A topic push finds its pattern subscribers by key, one partition per level of its topic
(``subscription_keys``): ``depth + 1`` partitions for a topic of ``depth`` segments.
"""

from __future__ import annotations

from collections.abc import Iterable

from wspush.models.identifiers import PATTERN_WILDCARD, TOPIC_SEPARATORS


def matches(topic: str, pattern: str) -> bool:
    """Whether ``topic`` is ``pattern`` itself or, for ``prefix*``, starts with prefix."""
    if pattern.endswith("*"):
        return topic.startswith(pattern[:-1])
    return topic == pattern


def may_read_topic(
    topic: str, granted_patterns: Iterable[str], public_patterns: Iterable[str]
) -> bool:
    """Whether a connection holding ``granted_patterns`` (its token's ``topics`` claim) may
    subscribe to, resume or see the presence of ``topic`` in a deployment whose public
    patterns are ``public_patterns``."""
    return any(matches(topic, p) for p in granted_patterns) or any(
        matches(topic, p) for p in public_patterns
    )


def covers(grant: str, pattern: str) -> bool:
    """Whether every topic subscription ``pattern`` (``prefix*``) can match is matched by
    ``grant``: only a wildcard grant whose prefix starts the pattern's prefix does."""
    return grant.endswith("*") and pattern[:-1].startswith(grant[:-1])


def may_read_pattern(
    pattern: str, granted_patterns: Iterable[str], public_patterns: Iterable[str]
) -> bool:
    """Whether a connection may subscribe to subscription ``pattern``: some granted or
    public pattern covers it (``covers``). An exact grant never covers a pattern."""
    return any(covers(g, pattern) for g in granted_patterns) or any(
        covers(p, pattern) for p in public_patterns
    )


def subscription_keys(topic: str) -> list[str]:
    """Every subscription that a push on ``topic`` reaches, in the order that decides
    which of a connection's matching subscriptions delivers its one copy: the topic
    itself, then its patterns from the longest prefix to ``*``. ``room.1.x`` gives
    ``room.1.x``, ``room.1.*``, ``room.*``, ``*``: one per level, plus the topic."""
    levels = [
        topic[: i + 1] + PATTERN_WILDCARD for i, c in enumerate(topic) if c in TOPIC_SEPARATORS
    ]
    return [topic, *reversed(levels), PATTERN_WILDCARD]


def delivering_subscription(topic: str, subscriptions: Iterable[str]) -> str | None:
    """Of a connection's ``subscriptions``, the one that delivers a push on ``topic``
    (the first of ``subscription_keys`` it holds), or None when none matches."""
    held = set(subscriptions)
    return next((key for key in subscription_keys(topic) if key in held), None)
