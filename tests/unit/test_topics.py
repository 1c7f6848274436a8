import pytest
from hypothesis import given
from hypothesis import strategies as st

from wspush.logic.topics import matches, may_read_topic


@pytest.mark.parametrize(
    ("topic", "pattern", "expected"),
    [
        ("news", "news", True),
        ("news2", "news", False),
        ("orders.eu", "orders.*", True),
        ("orders.eu.1", "orders.*", True),
        ("orders", "orders.*", False),
        ("ordersx", "orders.*", False),
        ("anything", "*", True),
        ("user:alice/orders", "user:bob/*", False),
    ],
)
def test_pattern_is_exact_or_trailing_star_prefix(topic, pattern, expected):
    # Given a topic and a pattern / When matched / Then only exact names and prefixes match
    assert matches(topic, pattern) is expected


def test_granted_or_public_patterns_allow_reading():
    assert may_read_topic("orders.eu", ["orders.*"], [])
    assert may_read_topic("news", [], ["news"])
    assert not may_read_topic("user:alice/orders", ["news"], ["public.*"])
    assert not may_read_topic("news", [], [])


@given(st.text(min_size=1, max_size=20), st.text(max_size=20))
def test_a_star_inside_a_pattern_is_literal(prefix, rest):
    # Only a trailing star is a wildcard: "a*b" matches nothing but itself.
    pattern = f"{prefix}*{rest}x"
    assert matches(pattern, pattern)
    assert not matches(f"{prefix}zz{rest}x", pattern) or f"{prefix}zz{rest}x" == pattern


@pytest.mark.parametrize(
    ("context_value", "expected"),
    [
        ('["orders.*", "news"]', ("orders.*", "news")),
        (None, ()),
        ("not json", ()),
        ('{"a": 1}', ()),
        ('["ok", 3, ""]', ("ok",)),
    ],
)
def test_granted_patterns_come_from_the_authorizer_context(context_value, expected):
    # Given the authorizer context of a route event / Then only a JSON list of names counts
    from wspush.handlers._shared import WebSocketEvent

    authorizer = {"entityId": "alice"} | (
        {} if context_value is None else {"topics": context_value}
    )
    event = {"requestContext": {"connectionId": "c1", "authorizer": authorizer}}
    assert WebSocketEvent(event).granted_topic_patterns == expected
