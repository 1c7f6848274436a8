"""A client publish hook: wspush calls it before every client publish and sends what it
answers back (docs/client-publish.md, *The hook*).

A chat message is ``{"text": ...}``. A message naming a blocked word is rejected with a
reason the publisher sees; a word on the mask list is starred out (the message is
published with the replaced ``data``); anything else is allowed as sent.
"""

from __future__ import annotations

import os
import re
from typing import Any

# Comma-separated, case-insensitive, whole words.
BLOCKED = {w.strip().lower() for w in os.environ.get("BLOCKED_WORDS", "").split(",") if w.strip()}
MASKED = {w.strip().lower() for w in os.environ.get("MASKED_WORDS", "").split(",") if w.strip()}
WORD = re.compile(r"[A-Za-z']+")


def moderate(data: Any) -> dict[str, Any]:
    """The hook's answer for one message's ``data``."""
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str):
        return {"action": "allow"}
    words = {w.lower() for w in WORD.findall(text)}
    blocked = sorted(words & BLOCKED)
    if blocked:
        return {
            "action": "reject",
            "code": "blocked_word",
            "message": f"this room does not allow {blocked[0]!r}",
        }
    if words & MASKED:
        masked = WORD.sub(lambda m: "*" * len(m[0]) if m[0].lower() in MASKED else m[0], text)
        return {"action": "replace", "data": {**data, "text": masked}}
    return {"action": "allow"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return moderate(event.get("data"))
