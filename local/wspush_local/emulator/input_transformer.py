"""EventBridge's input transformer, for Lambda targets of the local stack.

``InputPathsMap`` names values of the event by JSON path (dot notation and array
indices); ``InputTemplate`` places them as ``<name>``. As EventBridge does, a string value
goes in as its bare text, so a JSON template quotes it (``"<name>"``), while objects,
arrays, numbers and booleans go in as JSON. Inside a quoted string the text is
JSON-escaped, so a value can never break out of its string. A path the event does not
have gives ``null`` (or nothing, inside a string). The predefined
``aws.events.rule-arn``, ``aws.events.rule-name``, ``aws.events.event.ingestion-time``
and ``aws.events.event.json`` are available too.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class TransformError(ValueError):
    """The transformer cannot be applied to this event."""


def resolve(event: Any, path: str) -> Any:
    """The value at ``path`` (``$.detail.items[0].id``), or None when the event lacks it."""
    if path == "$":
        return event
    if not path.startswith("$."):
        raise TransformError(f"unsupported JSON path {path!r}")
    value = event
    for key, index in _SEGMENT.findall(path[2:]):
        if key and isinstance(value, dict):
            value = value.get(key)
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
        if value is None:
            return None
    return value


def _inside_string(template: str, position: int) -> bool:
    """Whether ``position`` lies inside a JSON string literal of the template."""
    quoted = False
    escaped = False
    for character in template[:position]:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
    return quoted


def transform(
    transformer: dict[str, Any], event: dict[str, Any], rule_arn: str, rule_name: str
) -> Any:
    """The target's input for ``event``: JSON when the result parses, else the text."""
    paths: dict[str, str] = transformer.get("InputPathsMap") or {}
    template: str = transformer.get("InputTemplate") or ""
    values: dict[str, Any] = {name: resolve(event, path) for name, path in paths.items()}
    values.setdefault("aws.events.rule-arn", rule_arn)
    values.setdefault("aws.events.rule-name", rule_name)
    values.setdefault(
        "aws.events.event.ingestion-time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    values.setdefault("aws.events.event.json", event)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)  # not a placeholder: left as written
        value = values[name]
        if _inside_string(template, match.start()):
            text = value if isinstance(value, str) else json.dumps(value)
            return "" if value is None else json.dumps(text)[1:-1]
        return value if isinstance(value, str) else json.dumps(value)

    result = _PLACEHOLDER.sub(substitute, template)
    try:
        return json.loads(result)
    except ValueError:
        return result
