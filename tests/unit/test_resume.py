"""resume and presence: order, gaps, bounds and who may read what."""

import json

import pytest

from tests.memory_history import MemoryHistory
from wspush.logic import envelope
from wspush.logic.channels import History, envelope_body
from wspush.logic.messages import ChannelServices, InboundMessage, handle_message
from wspush.logic.presence import presence
from wspush.logic.push import Deadline, Retry
from wspush.logic.resume import resume, send_replay, within_bytes
from wspush.models.connection import Target
from wspush.models.push import Audience, Outcome, PushRequest

NOW = 2_000_000


class Members:
    def __init__(self, rows=()):
        self.rows = list(rows)  # (topic, connection, owner)

    def topic_members(self, topic, now):
        return [Target(f"topic#{t}", c, o) for t, c, o in self.rows if t == topic]


class NoSubscriptions:
    def add_subscription(self, *args):
        raise AssertionError("resume and presence subscribe to nothing")

    def remove_subscription(self, *args):
        raise AssertionError("resume and presence unsubscribe from nothing")


def _publish(store, audience, count, start=0, now=NOW):
    history = History(store, retention_seconds=3600)
    for i in range(start, start + count):
        request = PushRequest(audience=audience, payload={"i": i}, id=f"{audience}-{i}")
        envelope_body(request, f"{audience.describe()}-{i}", history, now + i)


def _send(frame, store, granted=(), public=(), limit=100, members=None, entity="alice"):
    channels = ChannelServices(
        history=store,
        members=members or Members(),
        resume_limit=limit,
    )
    message = InboundMessage(json.dumps(frame), False, "conn-1", entity, tuple(granted))
    reply = handle_message(
        message,
        NoSubscriptions(),
        now=NOW,
        ttl_seconds=60,
        max_bytes=4096,
        public_topics=tuple(public),
        channels=channels,
    )
    return [json.loads(f) for f in reply.before], reply.frame


def test_resume_replays_what_was_missed_in_seq_order_then_says_where_each_channel_stands():
    # Given pushes on a topic and on the entity's own channel
    store = MemoryHistory()
    _publish(store, Audience(topic="news"), 5)
    _publish(store, Audience(entity_id="alice"), 3)
    # When the client resumes after news#2 and alice#1
    frames, reply = _send(
        {"action": "resume", "since": {"topic:news": 2, "entity:alice": 1}},
        store,
        granted=["news"],
    )
    # Then it gets exactly the missed pushes, each channel in order
    news = [(f["channel"], f["seq"]) for f in frames if f["channel"] == "topic:news"]
    alice = [(f["channel"], f["seq"]) for f in frames if f["channel"] == "entity:alice"]
    assert news == [("topic:news", 3), ("topic:news", 4), ("topic:news", 5)]
    assert alice == [("entity:alice", 2), ("entity:alice", 3)]
    assert [f["data"]["i"] for f in frames if f["channel"] == "topic:news"] == [2, 3, 4]
    assert reply["type"] == "resumed"
    assert reply["channels"] == {"topic:news": 5, "entity:alice": 3}
    assert set(reply["epochs"]) == {"topic:news", "entity:alice"} and reply["more"] == []


def test_an_up_to_date_client_gets_nothing_but_the_reply():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 2)
    frames, reply = _send({"action": "resume", "since": {"broadcast": 2}}, store)
    assert frames == [] and reply["channels"] == {"broadcast": 2}


def test_history_that_no_longer_reaches_back_says_resume_gap_and_replays_what_is_kept():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 6)
    store.forget("broadcast", 3)  # 1..3 expired
    frames, reply = _send({"action": "resume", "since": {"broadcast": 1}}, store)
    assert frames[0] == {"type": "resume_gap", "channel": "broadcast", "oldest": 4}
    assert [f["seq"] for f in frames[1:]] == [4, 5, 6]
    assert reply["channels"] == {"broadcast": 6}


def test_resuming_exactly_from_before_the_oldest_kept_push_is_no_gap():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 6)
    store.forget("broadcast", 3)
    frames, _ = _send({"action": "resume", "since": {"broadcast": 3}}, store)
    assert [f["seq"] for f in frames] == [4, 5, 6]


def test_a_changed_epoch_is_a_gap_even_when_the_numbers_look_fine():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 3)
    frames, reply = _send(
        {"action": "resume", "since": {"broadcast": 1}, "epochs": {"broadcast": "old-epoch"}},
        store,
    )
    assert frames[0] == {"type": "resume_gap", "channel": "broadcast", "oldest": 1}
    assert [f["seq"] for f in frames[1:]] == [1, 2, 3]
    assert reply["epochs"]["broadcast"] != "old-epoch"


def test_a_number_beyond_the_channel_is_a_new_sequence():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 2)
    frames, _ = _send({"action": "resume", "since": {"broadcast": 40}}, store)
    assert frames[0]["type"] == "resume_gap"
    assert [f["seq"] for f in frames[1:]] == [1, 2]


def test_a_channel_with_no_history_at_all_is_a_gap_for_a_client_that_saw_some():
    frames, reply = _send(
        {"action": "resume", "since": {"topic:quiet": 7}}, MemoryHistory(), granted=["quiet"]
    )
    assert frames == [{"type": "resume_gap", "channel": "topic:quiet", "oldest": None}]
    assert reply["channels"] == {"topic:quiet": 0}


def test_replay_is_bounded_and_more_says_where_to_continue():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 8)
    _publish(store, Audience(entity_id="alice"), 2)
    frames, reply = _send(
        {"action": "resume", "since": {"broadcast": 0, "entity:alice": 0}}, store, limit=5
    )
    assert len(frames) == 5
    assert reply["more"] == ["broadcast", "entity:alice"]
    assert reply["channels"] == {"broadcast": 5, "entity:alice": 0}
    # Continuing from there delivers the rest, once
    frames, reply = _send({"action": "resume", "since": reply["channels"]}, store, limit=5)
    assert [(f["channel"], f["seq"]) for f in frames] == [
        ("broadcast", 6),
        ("broadcast", 7),
        ("broadcast", 8),
        ("entity:alice", 1),
        ("entity:alice", 2),
    ]
    assert reply["more"] == []


class ScriptedSender:
    """Answers each post with the next scripted outcome (then SENT), keeping what it sent."""

    def __init__(self, *script):
        self.script = list(script)
        self.posts = 0
        self.delivered = []

    def post(self, connection_id, data):
        assert connection_id == "conn-1"
        self.posts += 1
        outcome = self.script.pop(0) if self.script else Outcome.SENT
        if outcome is Outcome.SENT:
            self.delivered.append(json.loads(data))
        return outcome


class FailingAfter:
    """Delivers ``good`` frames, then answers ``outcome`` to every post."""

    def __init__(self, good, outcome=Outcome.SERVER_ERROR):
        self.good = good
        self.outcome = outcome
        self.delivered = []

    def post(self, connection_id, data):
        if len(self.delivered) < self.good:
            self.delivered.append(json.loads(data))
            return Outcome.SENT
        return self.outcome


def _replay(store, since, epochs=None, limit=100):
    sleeps = []
    retry = Retry(max_attempts=4, sleep=sleeps.append)
    return resume(since, epochs or {}, store, limit, NOW), retry, sleeps


def test_a_throttled_replay_frame_is_retried_and_the_replay_completes():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 3)
    replay, retry, sleeps = _replay(store, {"broadcast": 0})
    sender = ScriptedSender(Outcome.THROTTLED, Outcome.SENT, Outcome.SERVER_ERROR)
    report = send_replay(replay, "conn-1", sender, retry)
    assert [f["seq"] for f in sender.delivered] == [1, 2, 3]
    assert sender.posts == 5 and len(sleeps) == 2  # one backoff per retried post
    assert (report.sent, report.failed, report.throttled) == (3, 0, 1)
    assert report.reply["channels"] == {"broadcast": 3} and report.reply["more"] == []


def test_a_frame_that_keeps_failing_stops_its_channel_at_the_last_delivered_push():
    # Given two channels, and a connection that takes two frames and then only 5xx
    store = MemoryHistory()
    _publish(store, Audience(topic="news"), 3)
    _publish(store, Audience(entity_id="alice"), 3, now=NOW + 10)  # replayed after news
    replay, retry, sleeps = _replay(store, {"topic:news": 0, "entity:alice": 0})
    sender = FailingAfter(good=2)
    # When the replay is sent
    report = send_replay(replay, "conn-1", sender, retry)
    # Then news stops after #2 (nothing after a lost frame), alice is cut short before #1,
    # each reported where it really stands and listed in more
    assert [(f["channel"], f["seq"]) for f in sender.delivered] == [
        ("topic:news", 1),
        ("topic:news", 2),
    ]
    assert report.reply["channels"] == {"topic:news": 2, "entity:alice": 0}
    assert report.reply["more"] == ["topic:news", "entity:alice"]
    assert set(report.reply["epochs"]) == {"topic:news", "entity:alice"}
    assert (report.sent, report.failed, report.stopped) == (2, 2, ["topic:news", "entity:alice"])
    assert len(sleeps) == 2 * 3  # each failed frame was tried 4 times
    # And resuming from that reply delivers the rest, once
    again = resume(report.reply["channels"], report.reply["epochs"], store, 100, NOW)
    sender = ScriptedSender()
    assert send_replay(again, "conn-1", sender, retry).reply["more"] == []
    assert [(f["channel"], f["seq"]) for f in sender.delivered] == [
        ("topic:news", 3),
        ("entity:alice", 1),
        ("entity:alice", 2),
        ("entity:alice", 3),
    ]


def test_a_bounded_channel_cut_short_earlier_reports_the_earlier_number():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 8)
    replay, retry, _ = _replay(store, {"broadcast": 0}, limit=5)
    report = send_replay(replay, "conn-1", FailingAfter(good=3), retry)
    assert report.reply["channels"] == {"broadcast": 3} and report.reply["more"] == ["broadcast"]


def test_an_undelivered_gap_notice_leaves_the_client_where_it_was():
    # Given a channel whose epoch changed: a gap notice, then the new sequence
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 3)
    since, epochs = {"broadcast": 2}, {"broadcast": "old-epoch"}
    replay, retry, _ = _replay(store, since, epochs)
    # When not even the notice gets through
    report = send_replay(replay, "conn-1", FailingAfter(good=0), retry)
    # Then the reply keeps the client's own number and epoch, and asks it to come back
    assert report.reply["channels"] == since and report.reply["epochs"] == epochs
    assert report.reply["more"] == ["broadcast"] and report.failed == 1


def test_a_delivered_gap_notice_then_a_failure_resumes_from_the_oldest_kept():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 6)
    store.forget("broadcast", 3)
    replay, retry, _ = _replay(store, {"broadcast": 1})
    report = send_replay(replay, "conn-1", FailingAfter(good=1), retry)
    assert report.reply["channels"] == {"broadcast": 3} and report.reply["more"] == ["broadcast"]


def test_a_gone_connection_ends_the_replay_without_retries():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 3)
    replay, retry, sleeps = _replay(store, {"broadcast": 0})
    sender = FailingAfter(good=1, outcome=Outcome.GONE)
    report = send_replay(replay, "conn-1", sender, retry)
    assert report.gone and report.failed == 0 and sleeps == []
    assert report.reply["channels"] == {"broadcast": 1}


def test_no_post_starts_past_the_deadline_and_the_rest_is_left_for_more():
    store = MemoryHistory()
    _publish(store, Audience(broadcast=True), 3)
    replay, _, _ = _replay(store, {"broadcast": 0})
    sender = ScriptedSender()
    report = send_replay(replay, "conn-1", sender, Retry(4, Deadline(soft=0.0, hard=0.0)))
    assert sender.posts == 0 and report.failed == 0
    assert report.reply["channels"] == {"broadcast": 0} and report.reply["more"] == ["broadcast"]


@pytest.mark.parametrize(
    "since",
    [
        {"entity:bob": 0},  # someone else's entity
        {"connection:other": 0},  # someone else's connection
        {"topic:secret": 0},  # a topic the token does not grant
        {"topic:news": 0, "entity:bob": 3},  # one forbidden channel refuses the request
    ],
)
def test_resume_refuses_channels_the_connection_may_not_read(since):
    store = MemoryHistory()
    _publish(store, Audience(entity_id="bob"), 2)
    _publish(store, Audience(topic="secret"), 2)
    frames, reply = _send({"action": "resume", "since": since}, store, granted=["news"])
    assert frames == []
    assert reply["type"] == "error" and reply["code"] == "forbidden_channel"


def test_resume_reads_granted_public_and_own_channels():
    store = MemoryHistory()
    for audience in (
        Audience(topic="rooms.1"),
        Audience(topic="public.lobby"),
        Audience(connection_id="conn-1"),
    ):
        _publish(store, audience, 1)
    frames, reply = _send(
        {
            "action": "resume",
            "since": {"topic:rooms.1": 0, "topic:public.lobby": 0, "connection:conn-1": 0},
        },
        store,
        granted=["rooms.*"],
        public=["public.*"],
    )
    assert reply["type"] == "resumed" and len(frames) == 3


@pytest.mark.parametrize(
    "frame",
    [
        {"action": "resume"},
        {"action": "resume", "since": {}},
        {"action": "resume", "since": []},
        {"action": "resume", "since": {"broadcast": -1}},
        {"action": "resume", "since": {"broadcast": "3"}},
        {"action": "resume", "since": {"broadcast": True}},
        {"action": "resume", "since": {"chat:1": 0}},
        {"action": "resume", "since": {"broadcast": 0}, "epochs": {"broadcast": 5}},
        {"action": "resume", "since": {f"topic:t{i}": 0 for i in range(33)}},
        # names no push could have had: a topic or entity id out of their alphabets
        {"action": "resume", "since": {"topic:has space": 0}},
        {"action": "resume", "since": {"entity:a#b": 0}},
    ],
)
def test_malformed_resume_requests_get_an_error_frame(frame):
    frames, reply = _send(frame, MemoryHistory(), public=["*"])
    assert frames == [] and reply["type"] == "error" and reply["code"] == "invalid_resume"


def test_presence_lists_each_entity_once_with_its_connection_count():
    members = Members(
        [("room.1", "c1", "alice"), ("room.1", "c2", "alice"), ("room.1", "c3", "bob")]
    )
    _, reply = _send(
        {"action": "presence", "topic": "room.1"},
        MemoryHistory(),
        granted=["room.*"],
        members=members,
    )
    assert reply == {
        "type": "presence",
        "topic": "room.1",
        "entities": [
            {"entityId": "alice", "connections": 2, "info": None},
            {"entityId": "bob", "connections": 1, "info": None},
        ],
        "connections": 3,
        "truncated": False,
    }


def test_presence_of_a_topic_the_caller_may_not_read_is_refused():
    members = Members([("room.2", "c1", "alice")])
    _, reply = _send(
        {"action": "presence", "topic": "room.2"},
        MemoryHistory(),
        granted=["room.1"],
        members=members,
    )
    assert reply["type"] == "error" and reply["code"] == "forbidden_topic"
    _, reply = _send({"action": "presence", "topic": "bad topic!"}, MemoryHistory())
    assert reply["code"] == "invalid_topic"


@pytest.mark.parametrize("id_length", [100, 128])
def test_presence_of_a_thousand_long_ids_fits_one_frame_and_says_truncated(id_length):
    # Given a topic with 1,000 members whose entity ids are 100-128 characters
    ids = [f"{i:04d}".ljust(id_length, "x") for i in range(1000)]
    members = Members([("room.big", f"c{i}", entity) for i, entity in enumerate(ids)])
    # When one asks for its presence
    _, reply = _send(
        {"action": "presence", "topic": "room.big"},
        MemoryHistory(),
        granted=["room.*"],
        members=members,
    )
    # Then the reply encodes within one WebSocket frame, lists the first ids in order,
    # as many as fit, and says it is truncated; the connection count stays whole
    body = envelope.encode(reply)
    assert len(body) <= envelope.MAX_MESSAGE_BYTES
    listed = [e["entityId"] for e in reply["entities"]]
    assert listed == ids[: len(listed)] and 500 < len(listed) < 1000
    assert reply["truncated"] is True and reply["connections"] == 1000
    # And one entity more would not have fit
    extra = {"entityId": ids[len(listed)], "connections": 1, "info": None}
    assert len(body) + len(envelope.encode(extra)) + 1 > envelope.MAX_MESSAGE_BYTES


def test_presence_that_fits_exactly_is_not_truncated():
    members = Members([("room.1", f"c{i}", f"user-{i:03d}") for i in range(10)])
    whole = presence("room.1", members, NOW)
    size = len(envelope.encode(whole))
    assert presence("room.1", members, NOW, max_bytes=size) == whole
    cut = presence("room.1", members, NOW, max_bytes=size - 1)
    assert cut["truncated"] is True and len(cut["entities"]) == 9


def test_a_replay_cut_by_bytes_reports_each_channel_where_its_last_kept_frame_leaves_it():
    # Given two channels with 3 missed pushes each (alice's sent first)
    store = MemoryHistory()
    _publish(store, Audience(entity_id="alice"), 3)
    _publish(store, Audience(broadcast=True), 3)
    replay = resume({"entity:alice": 0, "broadcast": 0}, {}, store, 100, NOW)
    sizes = [len(frame.body) for frame in replay.frames]
    assert [f.channel for f in replay.frames] == ["entity:alice"] * 3 + ["broadcast"] * 3
    # When it is cut to its first 4 frames' bytes (one byte short of the 5th)
    cut = within_bytes(replay, sum(sizes[:5]) - 1)
    # Then those 4 go; alice is whole, broadcast stands at its first push, listed in more
    assert cut.frames == replay.frames[:4]
    assert cut.reply["channels"] == {"entity:alice": 3, "broadcast": 1}
    assert cut.reply["more"] == ["broadcast"]
    # And a replay that fits is not touched; nothing fits: nothing sent, the client's numbers
    assert within_bytes(replay, sum(sizes)) is replay
    empty = within_bytes(replay, 0)
    assert empty.frames == [] and empty.reply["channels"] == {"entity:alice": 0, "broadcast": 0}
    assert sorted(empty.reply["more"]) == ["broadcast", "entity:alice"]
