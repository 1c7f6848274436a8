"""Live presence against moto: member_joined when an entity's first connection subscribes,
member_left when its last subscription goes (unsubscribe, $disconnect, 410), exactly once
even when its connections join and leave at the same time; the member cap; info."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import CONNECTION_TTL, HISTORY_TABLE, TABLE, RecordedEvents, rows
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.logic.announce import direct_announcer
from wspush.logic.connections import close_connection, open_connection
from wspush.logic.lifecycle import Lifecycle
from wspush.logic.live_presence import LivePresence
from wspush.logic.messages import ChannelServices, InboundMessage, handle_message
from wspush.models.push import Outcome

ALICE_INFO = '{"name":"Alice"}'


class Announced:
    """An announcer that keeps every (topic, frame), thread-safe."""

    def __init__(self) -> None:
        self.frames: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, topic: str, frame: dict) -> None:
        with self._lock:
            self.frames.append(frame)

    def kinds(self, entity: str) -> list[str]:
        return [f["type"] for f in self.frames if f["entityId"] == entity]


def _world(dynamodb, max_members=100, announce=None):
    table = ConnectionsTable(dynamodb, TABLE)
    counters = HistoryTable(dynamodb, HISTORY_TABLE)
    announced = announce or Announced()
    presence = LivePresence(("room.*",), counters, table, announced, max_members)
    lifecycle = Lifecycle(counters, RecordedEvents(), presence=presence)
    channels = ChannelServices(history=counters, members=table, lifecycle=lifecycle)
    return table, lifecycle, channels, announced


def _send(table, channels, connection, entity, frame, info=None):
    message = InboundMessage(json.dumps(frame), False, connection, entity, ("*",), info=info)
    return handle_message(
        message,
        table,
        now=int(time.time()),
        ttl_seconds=CONNECTION_TTL,
        max_bytes=4096,
        channels=channels,
    ).frame


def _subscribe(table, channels, connection, entity, topic="room.1", info=None):
    return _send(table, channels, connection, entity, {"action": "subscribe", "topic": topic}, info)


def test_joins_and_leaves_of_one_entitys_connections_at_once_announce_once(aws):
    for trial in range(8):
        _join_and_leave(aws["dynamodb"], trial)


def _join_and_leave(dynamodb, trial):
    # Given alice with four connections and bob with one, in a fresh topic
    table, lifecycle, channels, announced = _world(dynamodb)
    topic = f"room.{trial}"
    alice = [f"a{trial}-{i}" for i in range(4)]
    for connection in alice:
        open_connection(table, "alice", connection, int(time.time()), CONNECTION_TTL)
    open_connection(table, "bob", f"b{trial}", int(time.time()), CONNECTION_TTL)
    # When all of alice's connections subscribe at once, and bob too
    with ThreadPoolExecutor(max_workers=5) as pool:
        replies = list(
            pool.map(lambda c: _subscribe(table, channels, c, "alice", topic, ALICE_INFO), alice)
        )
    assert all(r["type"] == "subscribed" for r in replies), replies
    _subscribe(table, channels, f"b{trial}", "bob", topic)
    # Then alice joined once, with her info, and bob once
    assert announced.kinds("alice") == ["member_joined"]
    assert announced.kinds("bob") == ["member_joined"]
    joined = next(f for f in announced.frames if f["entityId"] == "alice")
    assert joined == {
        "type": "member_joined",
        "topic": topic,
        "entityId": "alice",
        "info": {"name": "Alice"},
    }
    # When her connections leave at once: one unsubscribes, two disconnect, one is gone (410)
    leaving = [
        lambda: _send(
            table, channels, alice[0], "alice", {"action": "unsubscribe", "topic": topic}
        ),
        lambda: close_connection(table, alice[1], lifecycle, "alice", "closed"),
        lambda: close_connection(table, alice[2], lifecycle, None, "closed"),
        lambda: close_connection(table, alice[3], lifecycle, "alice", "gone"),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(leave) for leave in leaving]:
            future.result()
    # Then she left exactly once, after joining once; bob stays
    assert announced.kinds("alice") == ["member_joined", "member_left"], trial
    left = announced.frames[-1] if announced.frames[-1]["entityId"] == "alice" else None
    assert left is not None and left["info"] == {"name": "Alice"}
    assert announced.kinds("bob") == ["member_joined"]


def test_a_second_connection_leaving_does_not_announce_while_another_stays(aws):
    table, lifecycle, channels, announced = _world(aws["dynamodb"])
    for connection in ("c1", "c2"):
        open_connection(table, "alice", connection, int(time.time()), CONNECTION_TTL)
        _subscribe(table, channels, connection, "alice")
    close_connection(table, "c1", lifecycle, "alice", "closed")
    assert announced.kinds("alice") == ["member_joined"]
    _send(table, channels, "c2", "alice", {"action": "unsubscribe", "topic": "room.1"})
    assert announced.kinds("alice") == ["member_joined", "member_left"]


def test_a_topic_outside_the_presence_patterns_announces_nothing(aws):
    table, _, channels, announced = _world(aws["dynamodb"])
    open_connection(table, "alice", "c1", int(time.time()), CONNECTION_TTL)
    assert _subscribe(table, channels, "c1", "alice", "lobby")["type"] == "subscribed"
    assert _subscribe(table, channels, "c1", "alice", "room.*")["type"] == "subscribed"
    assert announced.frames == []


def test_a_full_presence_topic_refuses_a_new_member_and_keeps_no_row(aws):
    # Given a presence topic of at most 2 members, with alice and bob in it
    table, _, channels, announced = _world(aws["dynamodb"], max_members=2)
    for entity, connection in (("alice", "a1"), ("bob", "b1"), ("carol", "c1"), ("alice", "a2")):
        open_connection(table, entity, connection, int(time.time()), CONNECTION_TTL)
    _subscribe(table, channels, "a1", "alice")
    _subscribe(table, channels, "b1", "bob")
    # When carol subscribes, she is refused, and nothing of hers is left
    refused = _subscribe(table, channels, "c1", "carol")
    assert (refused["type"], refused["code"], refused["topic"]) == (
        "error",
        "presence_full",
        "room.1",
    )
    assert ("topic#room.1", "c1") not in rows(aws["dynamodb"])
    assert announced.kinds("carol") == []
    # And a member's second connection still joins
    assert _subscribe(table, channels, "a2", "alice")["type"] == "subscribed"
    # And once bob leaves, carol fits
    _send(table, channels, "b1", "bob", {"action": "unsubscribe", "topic": "room.1"})
    assert _subscribe(table, channels, "c1", "carol")["type"] == "subscribed"
    assert announced.kinds("carol") == ["member_joined"]


def test_concurrent_joiners_never_pass_the_cap(aws):
    table, _, channels, _ = _world(aws["dynamodb"], max_members=3)
    entities = [f"user-{i}" for i in range(8)]
    for entity in entities:
        open_connection(table, entity, f"c-{entity}", int(time.time()), CONNECTION_TTL)
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda e: _subscribe(table, channels, f"c-{e}", e), entities))
    # Then never more than 3 are in (racing joiners see each other's rows: some may all be
    # refused), and every refusal is presence_full
    admitted = [r for r in replies if r["type"] == "subscribed"]
    assert len(admitted) <= 3
    assert all(r["code"] == "presence_full" for r in replies if r["type"] == "error")
    members = {m.owner_entity_id for m in table.topic_members("room.1", int(time.time()))}
    assert len(members) == len(admitted)
    # And retried one after the other, they fill the topic to exactly 3
    for entity in entities:
        _subscribe(table, channels, f"c-{entity}", entity)
    members = {m.owner_entity_id for m in table.topic_members("room.1", int(time.time()))}
    assert len(members) == 3


def test_the_presence_answer_and_the_rows_carry_info(aws):
    table, _, channels, _ = _world(aws["dynamodb"])
    open_connection(table, "alice", "a1", int(time.time()), CONNECTION_TTL, info=ALICE_INFO)
    _subscribe(table, channels, "a1", "alice", info=ALICE_INFO)
    reply = _send(table, channels, "a1", "alice", {"action": "presence", "topic": "room.1"})
    assert reply["entities"] == [{"entityId": "alice", "connections": 1, "info": {"name": "Alice"}}]
    item = aws["dynamodb"].get_item(
        TableName=TABLE, Key={"entityId": {"S": "alice"}, "connectionId": {"S": "a1"}}
    )["Item"]
    assert item["info"]["S"] == ALICE_INFO


class Endpoint:
    def __init__(self, gone=()):
        self.posts: list[tuple[str, dict]] = []
        self.gone = set(gone)

    def post(self, connection_id, data):
        if connection_id in self.gone:
            return Outcome.GONE
        self.posts.append((connection_id, json.loads(data)))
        return Outcome.SENT


def test_an_announcement_reaches_each_subscriber_of_the_topic_and_its_patterns_once(aws):
    # Given subscribers of the topic, of a pattern, of both, and a gone one
    table = ConnectionsTable(aws["dynamodb"], TABLE)
    endpoint = Endpoint(gone={"gone"})
    announce = direct_announcer(table, endpoint, limit=100)
    table_world = _world(aws["dynamodb"], announce=announce)
    _, _, channels, _ = table_world
    for entity, connection, topics in (
        ("bob", "b1", ["room.1"]),
        ("carol", "c1", ["room.*"]),
        ("dan", "d1", ["room.1", "*"]),
        ("eve", "gone", ["room.1"]),
        ("fay", "f1", ["lobby"]),
    ):
        open_connection(table, entity, connection, int(time.time()), CONNECTION_TTL)
        for topic in topics:
            _subscribe(table, channels, connection, entity, topic)
    endpoint.posts.clear()
    # When alice joins
    open_connection(table, "alice", "a1", int(time.time()), CONNECTION_TTL)
    _subscribe(table, channels, "a1", "alice", info=ALICE_INFO)
    # Then every subscriber got one member_joined (alice's own connection too)
    got = sorted(c for c, frame in endpoint.posts if frame["entityId"] == "alice")
    assert got == ["a1", "b1", "c1", "d1"]
    assert all(frame["type"] == "member_joined" for _, frame in endpoint.posts)
