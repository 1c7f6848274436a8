"""Who may read a topic: the one check that subscribe, resume and presence all make.

A connection may read a topic when the topic matches one of its token's ``topics``
patterns or one of the deployment's public patterns. A pattern is an exact topic name or
a prefix ending in ``*`` (``orders.*`` matches ``orders.eu`` and ``orders.eu.1``, not
``orders``). There is no other wildcard, so a pattern never matches more than it shows.
"""

from __future__ import annotations

from collections.abc import Iterable


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
