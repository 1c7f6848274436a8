"""Tokens the local tools mint (the demo page, ``wspush listen``): the claims of
``wspush.logic.tokens.issue`` plus ``topics``, the patterns the token grants (``*``: all)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from wspush.logic.tokens import sign
from wspush.models.identifiers import is_valid_entity_id


def mint(entity_id: str, secret: bytes, ttl_seconds: int, topics: Sequence[str]) -> str:
    """A token for ``entity_id``, valid ``ttl_seconds``, that grants ``topics``."""
    if not is_valid_entity_id(entity_id):
        raise ValueError(f"invalid entity id: {entity_id!r}")
    issued_at = int(time.time())
    claims = {"sub": entity_id, "iat": issued_at, "exp": issued_at + ttl_seconds}
    return sign({**claims, "topics": list(topics)}, secret)
