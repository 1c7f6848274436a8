"""Channels against emulated DynamoDB and EventBridge: numbering, idempotency, resume
through the message function, and lifecycle events delivered by a rule."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import boto3

from tests.conftest import load_event
from tests.integration.conftest import EVENT_BUS, HISTORY_TABLE, TABLE
from wspush.dal.history_table import HistoryTable
from wspush.logic.channels import History, envelope_body
from wspush.models.push import Audience, PushRequest

CONNECTION = "Tq7QmcfmIAMCJBA="  # the message fixture's connection, entity user-1


def _frames(endpoint, connection=CONNECTION):
    return [json.loads(frame) for frame in endpoint.received[connection]]


def _connected(handlers, context, connections_endpoint):
    """The fixture's connection (user-1) opens: its row is stored, and it is live."""
    handlers["connect"].handler(load_event("connect"), context)
    connections_endpoint.live.add(CONNECTION)


def _message(body, topics=()):
    event = load_event("message")
    event["body"] = json.dumps(body)
    event["requestContext"]["authorizer"]["topics"] = json.dumps(list(topics))
    return event


def test_concurrent_pushes_to_one_channel_take_consecutive_numbers(aws):
    # Given the real table, and eight writers at once
    history = History(HistoryTable(aws["dynamodb"], HISTORY_TABLE), retention_seconds=3600)
    now = int(time.time())

    def one(i):
        request = PushRequest(Audience(topic="busy"), {"i": i}, id=f"p{i}")
        return json.loads(envelope_body(request, f"p{i}", history, now))["seq"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(one, range(40)))
    # Then every push has its own number, with no gap
    assert sorted(numbers) == list(range(1, 41))
    table = HistoryTable(aws["dynamodb"], HISTORY_TABLE)
    position = table.position("topic:busy")
    assert position is not None and position.seq == 40
    kept = table.entries("topic:busy", position.epoch, 0, 100, now)
    assert [entry.seq for entry in kept] == list(range(1, 41))
    assert table.entries("topic:busy", "another-epoch", 0, 100, now) == []
    assert table.entries("topic:busy", position.epoch, 0, 100, now + 3600) == []  # expired


def test_a_claim_is_held_until_it_expires_then_taken_anew(aws):
    table = HistoryTable(aws["dynamodb"], HISTORY_TABLE)
    now = int(time.time())
    assert table.claim("idem", "broadcast", "f1", now, now + 60).fresh
    # While it lives, the id is held (a retry) with the first push's fingerprint; once past
    # expiresAt, TTL or not, it is new
    held = table.claim("idem", "broadcast", "f2", now + 59, now + 119)
    assert not held.fresh and held.fingerprint == "f1"
    assert table.claimed_fingerprint("idem", "broadcast", now + 59) == "f1"
    assert table.claimed_fingerprint("idem", "broadcast", now + 60) is None
    assert table.claim("idem", "broadcast", "f2", now + 60, now + 120).fresh


def test_a_push_id_is_claimed_per_channel(aws):
    # Given an id claimed in one channel
    table = HistoryTable(aws["dynamodb"], HISTORY_TABLE)
    now = int(time.time())
    assert table.claim("shared", "entity:alice", "fa", now, now + 60).fresh
    # Then the same id is free in every other channel, and held in its own
    assert table.claim("shared", "entity:bob", "fb", now, now + 60).fresh
    assert table.claim("shared", "broadcast", "fc", now, now + 60).fresh
    assert table.claimed_fingerprint("shared", "entity:alice", now) == "fa"
    assert table.claimed_fingerprint("shared", "topic:alice", now) is None


def test_a_redelivered_event_is_numbered_and_kept_once(
    aws, handlers, context, connections_endpoint
):
    # Given a connection of u1
    aws["dynamodb"].put_item(
        TableName=TABLE, Item={"entityId": {"S": "u1"}, "connectionId": {"S": "a1"}}
    )
    connections_endpoint.live.add("a1")
    event = load_event("notification")
    event["detail"] = {"entityId": "u1", "payload": {"n": 1}}
    # When EventBridge delivers the same event twice
    handlers["push"].handler(event, context)
    handlers["push"].handler(event, context)
    # Then the client got the same envelope twice (one number), and history has one row
    first, second = _frames(connections_endpoint, "a1")
    assert first == second and first["seq"] == 1 and first["id"] == event["id"]
    rows = aws["dynamodb"].scan(TableName=HISTORY_TABLE)["Items"]
    kept = [r for r in rows if r["channel"]["S"] == "entity:u1" and r["seq"]["N"] != "0"]
    assert len(kept) == 1


def test_resume_through_the_message_function_replays_then_replies(
    aws, handlers, context, connections_endpoint
):
    # Given three pushes to user-1 and two to a topic its token grants (each with its own
    # id: the test context's request id is the same for every invocation)
    for i in range(3):
        handlers["push"].handler(
            {"entityId": "user-1", "payload": {"i": i}, "id": f"e{i}"}, context
        )
    for i in range(2):
        handlers["push"].handler({"topic": "rooms.1", "payload": {"t": i}, "id": f"t{i}"}, context)
    _connected(handlers, context, connections_endpoint)
    # When the connection resumes from entity #1 and topic #0
    request = {"action": "resume", "since": {"entity:user-1": 1, "topic:rooms.1": 0}}
    response = handlers["message"].handler(_message(request, ["rooms.*"]), context)
    # Then the missed pushes arrive in order through @connections, and the reply is the
    # route response
    assert response["statusCode"] == 200
    frames = [*_frames(connections_endpoint), json.loads(response["body"])]
    assert [
        (f.get("channel"), f.get("seq")) for f in frames[:-1] if f["channel"] == "entity:user-1"
    ] == [
        ("entity:user-1", 2),
        ("entity:user-1", 3),
    ]
    assert [f["data"] for f in frames[:-1] if f["channel"] == "topic:rooms.1"] == [
        {"t": 0},
        {"t": 1},
    ]
    assert frames[-1]["type"] == "resumed"
    assert frames[-1]["channels"] == {"entity:user-1": 3, "topic:rooms.1": 2}


def test_resume_is_bounded_per_request(aws, handlers, context, connections_endpoint):
    for i in range(7):  # the fixture allows 5 per request
        handlers["push"].handler({"broadcast": True, "payload": i, "id": f"b{i}"}, context)
    _connected(handlers, context, connections_endpoint)
    response = handlers["message"].handler(
        _message({"action": "resume", "since": {"broadcast": 0}}), context
    )
    frames = [*_frames(connections_endpoint), json.loads(response["body"])]
    assert [f["data"] for f in frames[:-1]] == [0, 1, 2, 3, 4]
    assert frames[-1]["more"] == ["broadcast"] and frames[-1]["channels"] == {"broadcast": 5}


def test_a_throttled_replay_is_retried_and_a_failing_one_is_reported_where_it_stopped(
    aws, handlers, context, connections_endpoint
):
    for i in range(3):
        handlers["push"].handler({"broadcast": True, "payload": i, "id": f"b{i}"}, context)
    _connected(handlers, context, connections_endpoint)
    resume = _message({"action": "resume", "since": {"broadcast": 0}})
    # A 429 on the first replayed push is retried: nothing is lost
    connections_endpoint.script[CONNECTION] = [429]
    reply = json.loads(handlers["message"].handler(resume, context)["body"])
    assert [f["data"] for f in _frames(connections_endpoint)] == [0, 1, 2]
    assert reply["channels"] == {"broadcast": 3} and reply["more"] == []
    # A connection that answers only 5xx: the channel stays where the client was, in more
    connections_endpoint.reset()
    connections_endpoint.live.add(CONNECTION)
    connections_endpoint.script[CONNECTION] = [500] * 4
    reply = json.loads(handlers["message"].handler(resume, context)["body"])
    assert _frames(connections_endpoint) == []
    assert connections_endpoint.attempts[CONNECTION] == 4  # one frame, every attempt
    assert reply["channels"] == {"broadcast": 0} and reply["more"] == ["broadcast"]


def test_resume_and_presence_of_a_topic_not_granted_are_refused(
    aws, handlers, context, connections_endpoint
):
    connections_endpoint.live.add(CONNECTION)
    requests = [
        _message({"action": "resume", "since": {"topic:secret": 0}}, ["rooms.*"]),
        _message({"action": "presence", "topic": "secret"}),
        # A public topic needs no grant
        _message({"action": "presence", "topic": "public.hall"}),
    ]
    replies = [json.loads(handlers["message"].handler(r, context)["body"]) for r in requests]
    assert _frames(connections_endpoint) == []  # every reply is a route response
    first, second, third = replies
    assert first["code"] == "forbidden_channel" and second["code"] == "forbidden_topic"
    assert third == {
        "type": "presence",
        "topic": "public.hall",
        "entities": [],
        "connections": 0,
        "truncated": False,
    }


def _lifecycle_queue(moto_url):
    """A rule on the bus sending every wspush lifecycle event to a queue, as a backend would."""
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    events = boto3.client("events", endpoint_url=moto_url)
    queue_url = sqs.create_queue(QueueName="lifecycle")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="lifecycle",
        EventBusName=EVENT_BUS,
        EventPattern=json.dumps({"source": ["wspush"], "detail-type": [{"prefix": "wspush."}]}),
    )
    events.put_targets(
        Rule="lifecycle", EventBusName=EVENT_BUS, Targets=[{"Id": "q", "Arn": queue_arn}]
    )

    def received():
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return found
            found.extend(json.loads(m["Body"]) for m in batch)

    return received


def test_concurrent_subscribers_make_one_occupied_and_the_last_leaving_one_vacated(
    aws, moto_url, handlers, context, connections_endpoint
):
    received = _lifecycle_queue(moto_url)
    for i in range(6):  # six open connections of user-1
        aws["dynamodb"].put_item(
            TableName=TABLE, Item={"entityId": {"S": "user-1"}, "connectionId": {"S": f"c{i}"}}
        )

    def subscribe(i):
        event = _message({"action": "subscribe", "topic": "room.9"}, ["room.*"])
        event["requestContext"]["connectionId"] = f"c{i}"
        handlers["message"].handler(event, context)

    def disconnect(i):
        event = load_event("disconnect")
        event["requestContext"]["connectionId"] = f"c{i}"
        handlers["disconnect"].handler(event, context)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(subscribe, range(6)))
        occupied = [e for e in received() if e["detail-type"] == "wspush.topic.occupied"]
        list(pool.map(disconnect, range(6)))
        vacated = [e for e in received() if e["detail-type"] == "wspush.topic.vacated"]
    assert len(occupied) == 1 and len(vacated) == 1
    assert occupied[0]["source"] == "wspush" and occupied[0]["detail"]["topic"] == "room.9"
    # (moto alone drops "account" from events it sends to queues; the local stack sends
    # AWS's full shape, which the end-to-end suite checks.)
    assert {"version", "id", "time", "region", "resources"} <= set(occupied[0])


def test_connect_and_disconnect_publish_opened_and_closed(aws, moto_url, handlers, context):
    received = _lifecycle_queue(moto_url)
    handlers["connect"].handler(load_event("connect"), context)
    handlers["disconnect"].handler(load_event("disconnect"), context)
    handlers["disconnect"].handler(load_event("disconnect"), context)  # closed once only
    events = received()
    assert [e["detail-type"] for e in events] == [
        "wspush.connection.opened",
        "wspush.connection.closed",
    ]
    assert events[0]["detail"]["connectionId"] == events[1]["detail"]["connectionId"]
