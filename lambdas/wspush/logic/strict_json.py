"""JSON from outside (client frames, publish requests, push requests, token segments),
read strictly.

Python's parser accepts what no other JSON parser does and fails in ways its callers do not
expect: ``NaN``/``Infinity`` (and ``1e400``, read as infinity) become values that cannot be
sent on as JSON, an integer of more than 4,300 digits raises a bare ``ValueError``, deep
nesting raises ``RecursionError`` (here, or later, wherever the document is encoded
again), a duplicated key silently keeps its last value (so a validator that reads the first
one sees another request than the one that is sent), and an escaped unpaired surrogate
(``"\\ud800"``) becomes a string that cannot be encoded as UTF-8 later, wherever it is used
(a connection id, a topic, a payload). Every one of those becomes ``InvalidJson`` here.

Nesting is bounded at ``MAX_DEPTH`` levels of arrays and objects: far more than any real
message has, far below the recursion limits of Python's encoder (about 1,000) and of other
parsers (serde_json refuses 128 by default), with room for the levels wspush itself adds
(the envelope around a payload, the shard task around an envelope).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

# After parsing, a valid surrogate pair is one code point; any surrogate left is unpaired.
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_DEPTH = 64


class InvalidJson(ValueError):
    """The text is not a JSON document this service accepts; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"{text[:20]} is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise InvalidJson(f"the key {key[:64]!r} appears twice in one object")
        document[key] = value
    return document


def check(document: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``InvalidJson`` unless ``document`` (parsed already, as Lambda parses an
    event) nests at most ``max_depth`` levels, holds only finite numbers and no unpaired
    surrogate. Iterative, one level at a time: any depth is refused, not a
    ``RecursionError``."""
    level = [document]
    depth = 0
    while level:
        containers: list[Any] = []
        for value in level:
            if isinstance(value, dict):
                _check_scalars(value.keys())
                children: Any = value.values()
            elif isinstance(value, list):
                children = value
            else:
                _check_scalars((value,))
                continue
            containers.extend(c for c in children if isinstance(c, dict | list))
            _check_scalars(c for c in children if not isinstance(c, dict | list))
        if containers:
            depth += 1
            if depth >= max_depth:
                raise InvalidJson(f"nested more than {max_depth} levels deep")
        level = containers


def _check_scalars(values: Iterable[Any]) -> None:
    for value in values:
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise InvalidJson(
                    "a string holds an unpaired UTF-16 surrogate, which is not Unicode text"
                )
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidJson(f"{value} is not a JSON number")


def loads(text: str | bytes, max_int_digits: int = 4000) -> Any:
    """Parse ``text``; raise ``InvalidJson`` for anything but a finite, bounded document
    with unique keys (see ``check``)."""

    def bounded_int(digits: str) -> int:
        if len(digits.lstrip("-")) > max_int_digits:
            raise InvalidJson(f"an integer has more than {max_int_digits} digits")
        return int(digits)

    try:
        document = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=bounded_int,
            object_pairs_hook=_unique_keys,
        )
    except InvalidJson:
        raise
    except json.JSONDecodeError as error:
        raise InvalidJson(error.msg) from None
    except RecursionError:
        raise InvalidJson(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:  # UnicodeDecodeError and the interpreter's own int limit
        raise InvalidJson(str(error)[:200]) from None
    check(document)
    return document
