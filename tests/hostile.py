"""Hostile input for the fuzz tests of every entry point: JSON-shaped text built from the
keys wspush reads (so it reaches past the parser), with duplicate keys, nesting around
every bound, numbers Python reads but no client can, and unpaired surrogates; arbitrary
bytes; and the same shapes as already-parsed values, the way Lambda hands an event over."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# The keys the entry points read: publish and push requests, frames, token claims/headers.
KEYS = [
    "entityId",
    "connectionId",
    "topic",
    "broadcast",
    "payload",
    "id",
    "type",
    "excludeConnectionId",
    "messages",
    "action",
    "since",
    "sub",
    "exp",
    "nbf",
    "iat",
    "aud",
    "iss",
    "topics",
    "alg",
    "kid",
    "typ",
    "crit",
    "scope",
    "detail",
    "detail-type",
    "source",
    "wspushShard",
    "wspushHandOn",
    "request",
    "envelope",
    "shard",
]
_SCALAR_TEXTS = [
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1.5",
    "-0.0",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "9" * 5000,
    "1" + "0" * 30,
    '"x"',
    '"news"',
    '"u1"',
    '"HS256"',
    '"RS256"',
    '"\\ud800"',
    '"x\\udc00"',
    '"\\ud83d\\ude00"',
    '"\ud800"',  # a lone surrogate itself, not escaped: text no UTF-8 can carry
    '"\\u0000"',
    '""',
    '"a b"',
    '"topic#x"',
    '"' + "x" * 300 + '"',
]
# Nesting around the bound (64), near Python's recursion limit, and far past it.
DEPTHS = [1, 63, 64, 65, 500, 990, 3000]
# Parsed values nest at most as deep as Lambda's runtime parses (and Hypothesis can print).
PARSED_DEPTHS = [1, 63, 64, 65, 200]


def _object(pairs: list[tuple[str, str]]) -> str:
    # Written by hand so a key can appear twice, as a hostile client would send it.
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in pairs) + "}"


_keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6))
_scalar_texts = st.one_of(
    st.sampled_from(_SCALAR_TEXTS),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=12).map(json.dumps),
)
json_trees = st.recursive(
    _scalar_texts,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(_keys, children), max_size=5).map(_object),
    ),
    max_leaves=14,
)


def _nested(depth: int, inner: str) -> str:
    return "[" * depth + inner + "]" * depth


json_texts = st.one_of(
    json_trees,
    st.builds(_nested, st.sampled_from(DEPTHS), json_trees),
    # Deep nesting under a key the entry point reads (a payload, a claim)
    st.builds(
        lambda key, depth, inner, rest: _object([*rest, (key, _nested(depth, inner))]),
        st.sampled_from(KEYS),
        st.sampled_from(DEPTHS),
        json_trees,
        st.lists(st.tuples(st.sampled_from(KEYS), _scalar_texts), max_size=3),
    ),
    # A lone surrogate anywhere: a str no UTF-8 can carry (an event's "\\ud800" escape)
    st.builds(lambda text, at: text[:at] + "\ud800" + text[at:], json_trees, st.integers(0, 40)),
    st.text(max_size=60),
)
"""Text shaped like JSON documents (valid or not), as a str that may hold lone surrogates."""

hostile_bytes = st.one_of(
    json_texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
)
"""The bytes of a request body: JSON-shaped text (even non-UTF-8 where it holds a lone
surrogate) or anything at all."""


def _deep_value(depth: int, inner: Any) -> Any:
    for _ in range(depth):
        inner = [inner]
    return inner


_parsed_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just(10**4200),  # about the most digits Lambda's runtime reads (4,300)
    st.floats(),  # NaN and infinities included: Lambda's runtime parses them
    st.text(max_size=12),
    st.sampled_from(["\ud800", "x\udfff", "news", "u1", "Ab1=", "Scheduled Event", "aws.events"]),
)
parsed_trees = st.recursive(
    _parsed_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(_keys, children, max_size=5),
    ),
    max_leaves=14,
)
parsed_documents = st.one_of(
    parsed_trees,
    st.builds(_deep_value, st.sampled_from(PARSED_DEPTHS), parsed_trees),
    st.builds(
        lambda key, depth, inner, rest: {**rest, key: _deep_value(depth, inner)},
        st.sampled_from(KEYS),
        st.sampled_from(PARSED_DEPTHS),
        parsed_trees,
        st.dictionaries(st.sampled_from(KEYS), _parsed_scalars, max_size=4),
    ),
)
"""Values as Lambda's runtime hands an event over: already parsed, of any shape."""
