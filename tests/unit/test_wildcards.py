"""Wildcard subscriptions: which patterns are valid, which are granted, which partitions a
push reads, and that each connection gets exactly one copy whichever way it is read."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wspush.logic.audience import delivering, merge, topic_partitions
from wspush.logic.messages import InboundMessage, handle_message
from wspush.logic.resume import Reader, ResumeRefused, parse_resume
from wspush.logic.topics import (
    delivering_subscription,
    matches,
    may_read_pattern,
    may_read_topic,
    subscription_keys,
)
from wspush.models.connection import Target
from wspush.models.identifiers import is_subscription_pattern, is_valid_subscription
from wspush.models.shard import ItemKey, Shard

segments = st.text(alphabet="ab1_-:", min_size=1, max_size=4)
separators = st.sampled_from("./")


@st.composite
def topics(draw):
    parts = draw(st.lists(segments, min_size=1, max_size=5))
    seps = draw(st.lists(separators, min_size=len(parts) - 1, max_size=len(parts) - 1))
    topic = parts[0]
    for sep, part in zip(seps, parts[1:], strict=True):
        topic += sep + part
    return topic


@st.composite
def patterns(draw):
    """``*`` or a topic, cut after one of its separators, then ``*``."""
    topic = draw(topics())
    cuts = [i for i, c in enumerate(topic) if c in "./"]
    if not cuts or (draw(st.booleans()) and draw(st.booleans())):
        return "*"
    return topic[: draw(st.sampled_from(cuts)) + 1] + "*"


@pytest.mark.parametrize("value", ["*", "room.*", "a/b/*", "room.1.*", "a..*"])
def test_subscription_patterns_end_in_a_star_segment(value):
    assert is_subscription_pattern(value) and is_valid_subscription(value)


@pytest.mark.parametrize(
    "value",
    ["room*", "*.room", "room.*.x", "ro*m", ".*", "**", "room.**", "", None, 7, "x" * 130 + ".*"],
)
def test_other_stars_are_not_patterns(value):
    assert not is_subscription_pattern(value) and not is_valid_subscription(value)


@pytest.mark.parametrize(
    ("pattern", "grants", "granted"),
    [
        ("room.*", ["room.*"], True),
        ("room.1.*", ["room.*"], True),
        ("room.*", ["ro*"], True),
        ("*", ["*"], True),
        ("room.*", ["room.1", "room.2"], False),  # exact grants never cover a pattern
        ("room.*", ["room.1.*"], False),  # narrower than the pattern
        ("*", ["room.*"], False),
        ("lobby.*", ["room.*"], False),
    ],
)
def test_a_pattern_is_granted_only_when_every_topic_it_matches_is(pattern, grants, granted):
    assert may_read_pattern(pattern, grants, ()) is granted
    assert may_read_pattern(pattern, (), grants) is granted  # public patterns alike


@given(pattern=patterns(), grants=st.lists(patterns(), max_size=3), suffix=topics())
def test_a_granted_pattern_only_ever_reaches_readable_topics(pattern, grants, suffix):
    # Any topic the pattern matches (its prefix and any suffix) is readable when granted
    topic = pattern[:-1] + suffix
    assert matches(topic, pattern)
    if may_read_pattern(pattern, grants, ()):
        assert may_read_topic(topic, grants, ())


@given(topic=topics(), held=st.lists(st.one_of(patterns(), topics()), max_size=6))
def test_the_keys_a_push_reads_find_exactly_the_matching_subscriptions(topic, held):
    # Without a scan: the subscriptions among the push's keys are those matching its topic
    keys = subscription_keys(topic)
    assert len(keys) == 1 + sum(c in "./" for c in topic) + 1  # the topic, a level each, *
    assert {s for s in held if s in keys} == {s for s in held if matches(topic, s)}
    assert topic_partitions(topic) == [f"topic#{key}" for key in keys]


def test_the_delivering_subscription_is_the_most_specific():
    assert subscription_keys("room.1.x") == ["room.1.x", "room.1.*", "room.*", "*"]
    assert delivering_subscription("room.1.x", {"*", "room.*"}) == "room.*"
    assert delivering_subscription("room.1.x", {"lobby.*"}) is None


class Subscriptions:
    """A connection -> its subscriptions store, counting lookups."""

    def __init__(self, held):
        self.held = held
        self.lookups = 0

    def subscriptions_of(self, targets):
        self.lookups += 1
        return {t.connection_id: frozenset(self.held[t.connection_id]) for t in targets}


@given(
    topic=topics(),
    held=st.lists(st.lists(st.one_of(patterns(), topics()), max_size=4), min_size=1, max_size=8),
)
def test_merged_and_sharded_reads_pick_the_same_one_row_per_connection(topic, held):
    # Given connections each holding some subscriptions, and each partition's rows
    subscriptions = {f"c{i}": set(h) for i, h in enumerate(held)}
    pages = [
        [
            Target(partition, c, "owner")
            for c, subs in sorted(subscriptions.items())
            if partition[len("topic#") :] in subs
        ]
        for partition in topic_partitions(topic)
    ]
    # When they are merged (one invocation) or filtered per partition (shards)
    merged = merge(pages)
    store = Subscriptions(subscriptions)
    sharded = [step for page in pages for step in delivering(topic, page, store)]
    # Then both send each matching connection one copy, from the same row
    matching = sorted(
        c for c, subs in subscriptions.items() if any(matches(topic, s) for s in subs)
    )
    assert sorted(t.connection_id for t in merged) == matching
    delivered = [step for step in sharded if isinstance(step, Target)]
    assert len(delivered) == len(merged) and set(delivered) == set(merged)
    # And every row a shard skips still moves its position on
    skipped = [step for step in sharded if isinstance(step, ItemKey)]
    assert len(delivered) + len(skipped) == sum(len(page) for page in pages)


def test_a_closing_connection_is_skipped_by_a_shard():
    store = Subscriptions({})
    store.subscriptions_of = lambda targets: {}
    steps = list(delivering("room.1", [Target("topic#room.*", "gone", "ann")], store))
    assert steps == [ItemKey("topic#room.*", "gone")]


def test_a_shard_among_a_topic_travels_through_json():
    shard = Shard(partition="topic#room.*", after=ItemKey("topic#room.*", "c1"), among="room.1")
    assert Shard.from_dict(json.loads(json.dumps(shard.as_dict()))) == shard
    assert Shard.from_dict(Shard(partition="topic#x").as_dict()).among is None
    assert "among room.1" in shard.describe()


class Store:
    def __init__(self):
        self.added = []

    def add_subscription(self, topic, connection_id, owner, expires_at, limit, write_id):
        from wspush.models.connection import SubscribeOutcome

        self.added.append(topic)
        return SubscribeOutcome.ADDED

    def mark_counted(self, topic, connection_id, write_id):
        raise AssertionError("a pattern is not counted")

    def remove_subscription(self, topic, connection_id, owner):
        return None


def _send(frame, grants=("room.*",), store=None):
    message = InboundMessage(json.dumps(frame), False, "c1", "ann", grants)
    return handle_message(message, store or Store(), now=0, ttl_seconds=60, max_bytes=4096).frame


def test_subscribe_to_a_granted_pattern_and_refusals():
    assert _send({"action": "subscribe", "topic": "room.*"}) == {
        "type": "subscribed",
        "topic": "room.*",
    }
    refused = _send({"action": "subscribe", "topic": "*"})
    assert (refused["code"], refused["topic"]) == ("forbidden_topic", "*")
    assert _send({"action": "subscribe", "topic": "room*"})["code"] == "invalid_topic"
    assert _send({"action": "unsubscribe", "topic": "room.*"})["type"] == "unsubscribed"


def test_presence_and_resume_on_a_pattern_are_refused_clearly():
    from wspush.logic.messages import ChannelServices

    message = InboundMessage(
        json.dumps({"action": "presence", "topic": "room.*"}), False, "c1", "ann", ("room.*",)
    )
    channels = ChannelServices(history=None, members=None)
    frame = handle_message(
        message, Store(), now=0, ttl_seconds=60, max_bytes=4096, channels=channels
    ).frame
    assert (frame["code"], frame["topic"]) == ("pattern_not_allowed", "room.*")
    with pytest.raises(ResumeRefused) as refused:
        parse_resume({"since": {"topic:room.*": 0}}, Reader("c1", "ann", ("room.*",)))
    assert refused.value.code == "pattern_not_allowed"


def test_a_merged_fan_out_cut_short_goes_on_as_shards_from_where_it_stopped():
    from wspush.logic.shards import _union_rest

    partitions = topic_partitions("room.1")  # topic#room.1, topic#room.*, topic#*
    # Stopped in the pattern's partition: the topic's is done, the rest goes on among it
    rest = _union_rest("room.1", partitions, ItemKey("topic#room.*", "c7"))
    assert rest == [
        Shard(partition="topic#room.*", after=ItemKey("topic#room.*", "c7"), among="room.1"),
        Shard(partition="topic#*", among="room.1"),
    ]
    # Stopped before anything: every partition whole
    assert _union_rest("room.1", partitions, None) == [
        Shard(partition=p, among="room.1") for p in partitions
    ]


def test_live_presence_applies_to_matching_topics_never_to_patterns():
    from wspush.logic.live_presence import LivePresence

    presence = LivePresence(("room.*", "lobby"), None, None, None)
    assert presence.applies("room.1") and presence.applies("lobby")
    assert not presence.applies("room.*") and not presence.applies("news")
