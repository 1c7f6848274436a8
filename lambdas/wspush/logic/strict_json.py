"""JSON from outside (client frames, publish requests, token segments), read strictly.

Python's parser accepts what no other JSON parser does and fails in ways its callers do not
expect: ``NaN``/``Infinity`` (and ``1e400``, read as infinity) become values that cannot be
sent on as JSON, an integer of more than 4,300 digits raises a bare ``ValueError``, deep
nesting raises ``RecursionError``, and an escaped unpaired surrogate (``"\\ud800"``) becomes
a string that cannot be encoded as UTF-8 later, wherever it is used (a connection id, a
topic, a payload). Every one of those becomes ``InvalidJson`` here.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# After parsing, a valid surrogate pair is one code point; any surrogate left is unpaired.
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJson(ValueError):
    """The text is not a JSON document this service accepts; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"{text[:20]} is out of range")
    return value


def _refuse_unpaired_surrogates(document: Any) -> None:
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and _SURROGATE.search(value):
            raise InvalidJson(
                "a string holds an unpaired UTF-16 surrogate, which is not Unicode text"
            )


def loads(text: str | bytes, max_int_digits: int = 4000) -> Any:
    """Parse ``text``; raise ``InvalidJson`` for anything but a finite, bounded document."""

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
        )
    except InvalidJson:
        raise
    except json.JSONDecodeError as error:
        raise InvalidJson(error.msg) from None
    except RecursionError:
        raise InvalidJson("too deeply nested") from None
    except ValueError as error:  # UnicodeDecodeError and the interpreter's own int limit
        raise InvalidJson(str(error)[:200]) from None
    _refuse_unpaired_surrogates(document)
    return document
