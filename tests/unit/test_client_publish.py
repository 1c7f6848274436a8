"""Publishing from a client (``logic.client_publish``): grant, ``from``, echo, the publish
bucket, the hook, idempotency, hand-off and the bad frames a hostile client sends."""

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from tests.fakes import MemoryStore, PartitionGate, ScriptedSender
from tests.memory_history import MemoryHistory, SideBySideHistory
from wspush.logic.budget import Budgets
from wspush.logic.channels import History
from wspush.logic.client_publish import CLIENT_PUBLISHED, ClientPublishing, client_publish
from wspush.logic.messages import ChannelServices, InboundMessage, handle_message
from wspush.logic.push import Delivery
from wspush.models.client_publish import HookFailed
from wspush.models.connection import BudgetSpend
from wspush.models.events import PublishError
from wspush.models.publish import HandOffFailed

EXECUTOR = ThreadPoolExecutor(max_workers=4)
TOPIC_ROWS = {("topic#room.1", "c-alice"), ("topic#room.1", "c-bob"), ("topic#room.1", "c-carol")}


class MemoryBucket:
    """The connection row's bucket, with the table's conditional arithmetic."""

    def __init__(self):
        self.tat: dict[str, int] = {}

    def spend_budget(self, connection_id, owner_entity_id, cost_ms, now_ms, tolerance_ms):
        tat = self.tat.get(connection_id)
        if tat is None or tat <= now_ms:
            self.tat[connection_id] = now_ms + cost_ms
        elif tat <= now_ms + tolerance_ms - cost_ms:
            self.tat[connection_id] = tat + cost_ms
        else:
            return BudgetSpend(allowed=False, tat_ms=tat)
        return BudgetSpend(allowed=True, tat_ms=self.tat[connection_id])

    def charge_budget(self, connection_id, owner_entity_id, cost_ms):
        raise AssertionError("a publish never charges after the fact")


class RecordingHandOff:
    def __init__(self, fail=False):
        self.requests: list[dict] = []
        self.fail = fail

    def enqueue(self, request):
        if self.fail:
            raise HandOffFailed("push function invoke failed: ServiceException")
        self.requests.append(request)


class ScriptedHook:
    def __init__(self, answer=None, error=None):
        self.answer, self.error = answer, error
        self.requests: list[dict] = []

    def call(self, request):
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return self.answer


class RecordingEvents:
    def __init__(self, fail=False):
        self.events: list[tuple[str, dict]] = []
        self.fail = fail

    def publish(self, detail_type, detail):
        if self.fail:
            raise PublishError("put_events refused")
        self.events.append((detail_type, detail))


class World:
    def __init__(self, rows=TOPIC_ROWS, inline_max=100, rate=10, burst=20, **overrides):
        self.store = MemoryStore(rows)
        self.sender = ScriptedSender()
        self.history = MemoryHistory()
        self.hand_off = overrides.pop("hand_off", RecordingHandOff())
        self.bucket = MemoryBucket()

        def delivery(body, exclude):
            return Delivery(
                body=body,
                sender=self.sender,
                store=self.store,
                executor=EXECUTOR,
                concurrency=2,
                max_attempts=2,
                exclude_connection_id=exclude,
                connecting_window_seconds=0,
                sleep=lambda _: None,
            )

        self.services = ClientPublishing(
            history=History(self.history, 3600),
            targets=self.store,
            delivery=delivery,
            hand_off=self.hand_off,
            inline_max_targets=inline_max,
            budgets=Budgets(self.bucket, rate, burst),
            **overrides,
        )

    def publish(self, frame, connection="c-alice", entity="alice", grant=("room.*",), now=1000.0):
        who = InboundMessage(
            json.dumps(frame), False, connection, entity, ("room.*",), publish_patterns=grant
        )
        return client_publish(frame, who, self.services, now)

    def received(self):
        return {cid: json.loads(body) for cid, body in self.sender.posts}


def _frame(**fields):
    return {"action": "publish", "topic": "room.1", "data": {"text": "hi"}, **fields}


# --- Grant ---------------------------------------------------------------------------------


def test_without_a_publish_claim_a_connection_is_forbidden_even_if_it_may_read():
    world = World()
    reply = world.publish(_frame(), grant=())
    assert reply.frame["code"] == "forbidden"
    assert reply.frame["topic"] == "room.1"
    assert world.sender.posts == [] and world.history.kept == {}


def test_the_publish_claim_grants_only_its_patterns():
    world = World(rows={("topic#news", "c-bob")})
    reply = world.publish(_frame(topic="news"), grant=("room.*",))
    assert reply.frame["code"] == "forbidden"


def test_public_publish_patterns_grant_every_connection():
    world = World(public_patterns=("lobby",), rows={("topic#lobby", "c-bob")})
    reply = world.publish(_frame(topic="lobby"), grant=())
    assert reply.frame["type"] == "published"
    assert world.received()["c-bob"]["channel"] == "topic:lobby"


def test_a_connection_without_an_entity_may_not_publish():
    world = World(public_patterns=("room.*",))
    assert world.publish(_frame(), entity=None).frame["code"] == "forbidden"


# --- Delivery, from, echo ------------------------------------------------------------------


def test_a_publish_is_a_numbered_topic_push_from_the_connections_entity_not_echoed():
    world = World()
    reply = world.publish(_frame(type="chat.message", id="m-1"))
    assert reply.frame == {"type": "published", "topic": "room.1", "id": "m-1", "seq": 1}
    received = world.received()
    assert set(received) == {"c-bob", "c-carol"}  # not the publisher's own connection
    envelope = received["c-bob"]
    assert envelope["type"] == "chat.message"
    assert envelope["id"] == "m-1"
    assert envelope["channel"] == "topic:room.1"
    assert envelope["seq"] == 1
    assert envelope["from"] == {"entityId": "alice"}
    assert envelope["data"] == {"text": "hi"}
    # Kept in the channel's history, so resume replays it with its sender.
    kept = world.history.entry("topic:room.1", 1)
    assert json.loads(kept.body)["from"] == {"entityId": "alice"}


def test_echo_true_delivers_to_the_publisher_too():
    world = World()
    world.publish(_frame(echo=True))
    assert set(world.received()) == {"c-alice", "c-bob", "c-carol"}


def test_a_client_supplied_from_is_refused_and_nothing_is_sent():
    world = World()
    reply = world.publish(_frame(**{"from": {"entityId": "bob"}}))
    assert reply.frame["code"] == "invalid_message"
    assert '"from" is set by the server' in reply.frame["message"]
    assert world.sender.posts == [] and world.history.kept == {}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"topic": "room 1"}, "invalid_topic"),
        ({"topic": ["room.1"]}, "invalid_topic"),
        ({"type": ""}, "invalid_message"),
        ({"type": 7}, "invalid_message"),
        ({"id": "has space"}, "invalid_message"),
        ({"echo": "yes"}, "invalid_message"),
        ({"fromm": 1}, "invalid_message"),
    ],
)
def test_bad_fields_are_named(fields, code):
    world = World()
    assert world.publish(_frame(**fields)).frame["code"] == code
    assert world.sender.posts == []


def test_a_frame_without_data_is_refused():
    world = World()
    frame = _frame()
    del frame["data"]
    assert world.publish(frame).frame["code"] == "invalid_message"


def test_the_default_type_is_message_and_a_missing_id_is_generated():
    world = World()
    reply = world.publish(_frame())
    assert world.received()["c-bob"]["type"] == "message"
    assert reply.frame["id"] == world.received()["c-bob"]["id"]


# --- Idempotency ---------------------------------------------------------------------------


def test_a_retried_id_gets_the_same_seq_even_from_another_connection_of_the_entity():
    world = World(rows=TOPIC_ROWS | {("topic#room.1", "c-alice-2")})
    first = world.publish(_frame(id="m-1"))
    again = world.publish(_frame(id="m-1"), connection="c-alice-2")
    assert first.frame["seq"] == again.frame["seq"] == 1
    # One push kept; the number taken beside the retry's claim is never kept
    assert world.history.entry("topic:room.1", 1) is not None
    assert world.history.entry("topic:room.1", 2) is None


def test_the_same_id_with_other_content_is_an_id_conflict():
    world = World()
    world.publish(_frame(id="m-1"))
    reply = world.publish(_frame(id="m-1", data={"text": "other"}))
    assert reply.frame["code"] == "id_conflict"
    assert reply.frame["id"] == "m-1"


def test_another_entity_reusing_an_id_is_an_id_conflict_not_a_replay():
    world = World()
    world.publish(_frame(id="m-1"))
    reply = world.publish(_frame(id="m-1"), connection="c-bob", entity="bob")
    assert reply.frame["code"] == "id_conflict"


# --- Limits --------------------------------------------------------------------------------


def test_the_publish_bucket_refuses_with_retry_after_beyond_its_burst():
    world = World(rate=1, burst=2)
    assert world.publish(_frame(), now=1000.0).frame["type"] == "published"
    assert world.publish(_frame(), now=1000.0).frame["type"] == "published"
    refused = world.publish(_frame(), now=1000.0).frame
    assert refused["code"] == "rate_limited"
    assert refused["retryAfter"] >= 1
    assert refused["topic"] == "room.1"
    assert refused["action"] == "publish"
    # Refilled after a second.
    assert world.publish(_frame(), now=1001.0).frame["type"] == "published"


def test_a_too_large_message_is_refused_before_it_takes_a_number():
    world = World()
    reply = world.publish(_frame(data="x" * (130 * 1024)))
    assert reply.frame["code"] == "too_large"
    assert world.history.counters == {}


def test_an_audience_above_the_inline_bound_is_handed_to_the_push_function():
    rows = {("topic#room.1", f"c-{i:03}") for i in range(5)}
    world = World(rows=rows, inline_max=3)
    reply = world.publish(_frame(id="m-big"))
    assert reply.frame == {"type": "published", "topic": "room.1", "id": "m-big", "seq": 1}
    assert world.sender.posts == []  # never fanned out here
    [request] = world.hand_off.requests
    assert request["topic"] == "room.1"
    assert request["id"] == "m-big"
    assert request["from"] == {"entityId": "alice"}
    assert request["excludeConnectionId"] == "c-alice"
    assert request["payload"] == {"text": "hi"}


def test_a_failed_hand_off_says_so_and_the_same_id_can_be_retried():
    rows = {("topic#room.1", f"c-{i:03}") for i in range(5)}
    world = World(rows=rows, inline_max=3, hand_off=RecordingHandOff(fail=True))
    reply = world.publish(_frame(id="m-1"))
    assert reply.frame["code"] == "publish_failed"
    assert reply.frame["id"] == "m-1" and reply.frame["seq"] == 1
    world.hand_off.fail = False
    assert world.publish(_frame(id="m-1")).frame["seq"] == 1
    assert len(world.hand_off.requests) == 1


# --- Hook ----------------------------------------------------------------------------------


def test_the_hook_sees_the_message_and_its_sender():
    hook = ScriptedHook({"action": "allow"})
    world = World(hook=hook)
    world.publish(_frame(id="m-1", type="chat.message"))
    assert hook.requests == [
        {
            "topic": "room.1",
            "type": "chat.message",
            "data": {"text": "hi"},
            "id": "m-1",
            "from": {"entityId": "alice"},
            "connectionId": "c-alice",
        }
    ]
    assert set(world.received()) == {"c-bob", "c-carol"}


def test_a_hook_rejection_reaches_the_publisher_with_its_reason():
    world = World(hook=ScriptedHook({"action": "reject", "code": "spam", "message": "slow down"}))
    reply = world.publish(_frame(id="m-1"))
    assert reply.frame["type"] == "error"
    assert reply.frame["code"] == "rejected"
    assert reply.frame["topic"] == "room.1"
    assert reply.frame["reason"] == {"code": "spam", "message": "slow down"}
    assert world.sender.posts == [] and world.history.counters == {}


def test_a_hook_may_replace_the_data():
    world = World(hook=ScriptedHook({"action": "replace", "data": {"text": "h*"}}))
    world.publish(_frame())
    assert world.received()["c-bob"]["data"] == {"text": "h*"}


@pytest.mark.parametrize(
    "hook",
    [
        ScriptedHook(error=HookFailed("the publish hook did not answer in time")),
        ScriptedHook(["not", "an", "object"]),
        ScriptedHook({"action": "delete"}),
        ScriptedHook({"action": "replace"}),
        ScriptedHook({"action": "reject", "code": 5}),
        ScriptedHook({"action": "replace", "data": float("nan")}),
    ],
)
def test_a_failing_or_nonsensical_hook_is_a_clear_error_and_nothing_is_published(hook):
    world = World(hook=hook)
    reply = world.publish(_frame(id="m-1"))
    assert reply.frame["code"] in ("hook_failed", "invalid_message")
    assert reply.frame["topic"] == "room.1"
    assert world.sender.posts == []


# --- Event bus -----------------------------------------------------------------------------


def test_publishes_on_matching_topics_go_to_the_event_bus():
    events = RecordingEvents()
    world = World(events=events, event_patterns=("room.*",))
    world.publish(_frame(id="m-1", type="chat.message"))
    [(detail_type, detail)] = events.events
    assert detail_type == CLIENT_PUBLISHED == "wspush.client.published"
    assert detail["topic"] == "room.1"
    assert detail["id"] == "m-1" and detail["seq"] == 1
    assert detail["from"] == {"entityId": "alice"}
    assert detail["type"] == "chat.message"
    assert detail["data"] == {"text": "hi"}


def test_other_topics_and_a_failing_bus_do_not_stop_the_publish():
    events = RecordingEvents()
    world = World(events=events, event_patterns=("orders.*",))
    assert world.publish(_frame()).frame["type"] == "published"
    assert events.events == []
    failing = World(events=RecordingEvents(fail=True), event_patterns=("room.*",))
    assert failing.publish(_frame()).frame["type"] == "published"


# --- Through the message route: the strict reader and the frame limit ----------------------


def _route(body, world, max_bytes=32 * 1024):
    message = InboundMessage(body, False, "c-alice", "alice", (), publish_patterns=("room.*",))
    channels = ChannelServices(
        history=world.history,
        members=None,
        publish=lambda parsed, inbound, now: client_publish(parsed, inbound, world.services, now),
    )
    return handle_message(message, None, 1000, 60, max_bytes, channels=channels)


def test_the_route_dispatches_publish():
    world = World()
    reply = _route(json.dumps(_frame()), world)
    assert reply.frame["type"] == "published"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"action":"publish","topic":"room.1","data":1,"data":2}', "malformed_json"),
        (
            '{"action":"publish","topic":"room.1","data":' + "[" * 200 + "]" * 200 + "}",
            "malformed_json",
        ),
        ('{"action":"publish","topic":"room.1","data":"\\ud800"}', "malformed_json"),
        ('{"action":"publish","topic":"room.1","data":NaN}', "malformed_json"),
        ('{"action":"publish","topic":"room.1","data":"' + "x" * 40000 + '"}', "too_large"),
    ],
)
def test_hostile_frames_get_error_frames(body, code):
    world = World()
    assert _route(body, world).frame["code"] == code
    assert world.sender.posts == []


@pytest.mark.parametrize("message_type", ["member_joined", "member_left"])
def test_a_client_may_not_publish_a_presence_event_type(message_type):
    # Clients treat an envelope of these types as a presence change (its data names the
    # topic, entity and info): a publisher could add or remove anyone from their rosters.
    world = World()
    forged = {"topic": "room.1", "entityId": "bob", "info": {"name": "Admin"}}
    reply = world.publish(_frame(type=message_type, data=forged))
    assert reply.frame["code"] == "invalid_message"
    assert world.sender.posts == [] and world.history.kept == {}


class GoneRowBucket(MemoryBucket):
    """The bucket of a connection whose row is gone ($disconnect ran, or it was forgotten)."""

    def spend_budget(self, connection_id, owner_entity_id, cost_ms, now_ms, tolerance_ms):
        return BudgetSpend(allowed=False, tat_ms=None)


def test_a_connection_without_its_row_is_not_connected_not_unbounded():
    world = World()
    world.services = replace(world.services, budgets=Budgets(GoneRowBucket(), 10, 20))
    for _ in range(30):  # beyond any burst: a bucket that is not there must not admit
        reply = world.publish(_frame())
        assert reply.frame["code"] == "not_connected"
    assert world.sender.posts == [] and world.history.kept == {}


def test_the_topics_partitions_are_read_side_by_side_and_beside_the_numbering():
    # Given subscribers in the topic's own partition and in its pattern's, and a claim
    # that returns only once the counter and every partition's read have begun
    rows = TOPIC_ROWS | {("topic#room.*", "c-dave"), ("topic#room.*", "c-bob")}
    world = World(rows=rows)
    world.store = PartitionGate(rows, ["topic#room.1", "topic#room.*", "topic#*"])
    world.history = SideBySideHistory(world.store.all_started)
    world.services = replace(
        world.services, targets=world.store, history=History(world.history, 3600)
    )
    # When alice publishes
    answer = world.publish(_frame())
    # Then it was numbered once and every subscriber but alice got it once
    assert answer.frame["type"] == "published" and answer.frame["seq"] == 1
    assert sorted(cid for cid, _ in world.sender.posts) == ["c-bob", "c-carol", "c-dave"]
