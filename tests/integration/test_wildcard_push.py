"""Wildcard subscriptions against moto: subscribed through the message route, pushed
through the push function (its shards run in this process), one copy per connection."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from tests.integration.conftest import CONNECTION_TTL, HISTORY_TABLE, TABLE, rows, send_frame
from tests.integration.test_push_sharding import InProcessInvocations, _copies, lambda_context
from tests.interleave import Interleaving
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.logic.connections import close_connection, open_connection
from wspush.logic.messages import ChannelServices
from wspush.logic.shards import SHARD_TASK, Sharding


@pytest.fixture
def push(handlers, monkeypatch):
    """The push function, with shards of 40 run in this process."""
    module = handlers["push"]
    invocations = InProcessInvocations(module)
    monkeypatch.setattr(module, "invoker_proxy", invocations)
    sharding = Sharding(shard_size=40, parallelism=3, rate_limit=5000, page_size=25)
    monkeypatch.setattr(module, "sharding", sharding)
    return module, invocations


def _services(dynamodb):
    table = ConnectionsTable(dynamodb, TABLE)
    return table, ChannelServices(history=HistoryTable(dynamodb, HISTORY_TABLE), members=table)


def _connect_and_subscribe(dynamodb, endpoint, subscriptions):
    """Each (entity, connection) opens and subscribes to its topics and patterns."""
    table, channels = _services(dynamodb)
    now = int(time.time())
    for (entity, connection), topics in subscriptions.items():
        open_connection(table, entity, connection, now - 60, CONNECTION_TTL)
        endpoint.live.add(connection)
        for topic in topics:
            frame = {"action": "subscribe", "topic": topic}
            reply = send_frame(table, channels, connection, entity, frame, now).frame
            assert reply == {"type": "subscribed", "topic": topic}


def test_a_topic_push_reaches_every_matching_subscription_once_with_its_channel(
    aws, push, connections_endpoint
):
    # Given connections subscribed to the topic, to patterns matching it, to both, and to
    # patterns that do not match
    module, invocations = push
    _connect_and_subscribe(
        aws["dynamodb"],
        connections_endpoint,
        {
            ("ann", "both"): ["room.1", "room.*", "*"],
            ("bob", "pattern"): ["room.*"],
            ("cat", "everything"): ["*"],
            ("dan", "deeper"): ["room.1.*"],
            ("eve", "elsewhere"): ["lobby.*", "room.2"],
            ("fay", "slash"): ["a/b/*"],
        },
    )
    # When one push goes to room.1 and one to a/b/c
    first = module.handler({"topic": "room.1", "payload": {"n": 1}}, lambda_context())
    module.handler({"topic": "a/b/c", "payload": {"n": 2}}, lambda_context())
    # Then each matching connection got one copy of each push, naming the concrete topic
    received = {
        c: [json.loads(b) for b in bodies] for c, bodies in connections_endpoint.received.items()
    }
    channels = {c: [m["channel"] for m in messages] for c, messages in received.items()}
    assert channels == {
        "both": ["topic:room.1", "topic:a/b/c"],
        "pattern": ["topic:room.1"],
        "everything": ["topic:room.1", "topic:a/b/c"],
        "slash": ["topic:a/b/c"],
    }
    assert (first["targeted"], first["sent"], first["shards"]) == (3, 3, 0)
    assert invocations.shard_tasks == []


def test_a_sharded_union_audience_sends_each_connection_one_copy(aws, push, connections_endpoint):
    # Given 90 connections on news.eu: a third also on news.*, a third on news.* only,
    # some of each also on * (more than one shard of 40 in all)
    module, invocations = push
    subscriptions = {}
    for i in range(90):
        topics = [["news.eu"], ["news.eu", "news.*"], ["news.*"]][i % 3]
        subscriptions[(f"user-{i % 7}", f"c-{i:03d}")] = topics + (["*"] if i % 5 == 0 else [])
    _connect_and_subscribe(aws["dynamodb"], connections_endpoint, subscriptions)
    # When a push goes to news.eu
    report = module.handler({"topic": "news.eu", "payload": "x"}, lambda_context())
    # Then it ran as one chain of shards per partition, each naming the topic
    shards = [task[SHARD_TASK]["shard"] for task in invocations.shard_tasks]
    assert {s["partition"] for s in shards} == {"topic#news.eu", "topic#news.*", "topic#*"}
    assert all(s["among"] == "news.eu" for s in shards)
    # And every connection got exactly one copy
    copies = _copies(connections_endpoint)
    assert sorted(copies) == sorted(c for _, c in subscriptions)
    assert Counter(len(ids) for ids in copies.values()) == {1: 90}
    assert (report["sent"], report["failed"], report["shardsFailed"]) == (90, 0, 0)


def test_unsubscribing_a_pattern_stops_its_pushes(aws, push, connections_endpoint):
    module, _ = push
    _connect_and_subscribe(aws["dynamodb"], connections_endpoint, {("ann", "c1"): ["room.*"]})
    table, channels = _services(aws["dynamodb"])
    frame = {"action": "unsubscribe", "topic": "room.*"}
    reply = send_frame(table, channels, "c1", "ann", frame, int(time.time())).frame
    assert reply == {"type": "unsubscribed", "topic": "room.*"}
    report = module.handler({"topic": "room.1", "payload": 1}, lambda_context())
    assert report["targeted"] == 0 and connections_endpoint.received == {}
    assert rows(aws["dynamodb"]) == {("ann", "c1")}


def test_a_pattern_counts_as_one_subscription(aws):
    table, channels = _services(aws["dynamodb"])
    open_connection(table, "ann", "c1", int(time.time()), CONNECTION_TTL)
    from wspush.logic.messages import InboundMessage, handle_message

    def subscribe(topic):
        message = InboundMessage(
            json.dumps({"action": "subscribe", "topic": topic}), False, "c1", "ann", ("*",)
        )
        return handle_message(
            message,
            table,
            now=int(time.time()),
            ttl_seconds=60,
            max_bytes=4096,
            max_subscriptions=2,
            channels=channels,
        ).frame

    assert subscribe("room.*")["type"] == "subscribed"
    assert subscribe("a")["type"] == "subscribed"
    assert subscribe("b")["code"] == "too_many_subscriptions"


def test_a_pattern_subscribe_racing_disconnect_leaves_no_ghost_row(aws):
    dynamodb = aws["dynamodb"]
    for trial in range(30):
        _race(dynamodb, trial)


def _race(dynamodb, trial):
    """One interleaving of a pattern subscribe and its connection's $disconnect."""
    connection = f"c{trial}"
    interleaving = Interleaving(seed=trial)
    table = ConnectionsTable(interleaving.client(dynamodb), TABLE)
    channels = ChannelServices(history=HistoryTable(dynamodb, HISTORY_TABLE), members=table)
    open_connection(table, "ann", connection, int(time.time()), CONNECTION_TTL)
    frame = {"action": "subscribe", "topic": "room.*"}
    results = interleaving.run(
        {
            "subscribe": lambda: (
                send_frame(table, channels, connection, "ann", frame, int(time.time())).frame
            ),
            "disconnect": lambda: close_connection(
                table, connection, None, "ann" if trial % 2 else None
            ),
        }
    )
    reply = results["subscribe"]
    assert reply.get("code", reply["type"]) in ("subscribed", "not_connected"), reply
    assert [row for row in rows(dynamodb) if row[1] == connection] == [], interleaving.calls
