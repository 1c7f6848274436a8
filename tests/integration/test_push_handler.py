import io
import json
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import load_event
from tests.hostile import parsed_documents
from tests.integration.conftest import HISTORY_TABLE, TABLE, rows
from wspush.dal.history_table import HistoryTable
from wspush.logic.envelope import PayloadTooLarge, UnsendableMessage
from wspush.models.channel import IdConflict
from wspush.models.push import DUPLICATE_IN_PROGRESS, InvalidPushRequest, parse_push_request


def _seed(dynamodb, pairs):
    for partition, connection in pairs:
        item = {"entityId": {"S": partition}, "connectionId": {"S": connection}}
        if partition.startswith("topic#"):
            item["ownerEntityId"] = {"S": "owner"}
        dynamodb.put_item(TableName=TABLE, Item=item)


def _messages(endpoint, connection):
    return [json.loads(m) for m in endpoint.received[connection]]


@pytest.fixture
def table(aws, connections_endpoint):
    pairs = [("u1", "a1"), ("u1", "a2"), ("u2", "b1"), ("owner", "t1"), ("topic#news", "t1")]
    _seed(aws["dynamodb"], pairs)
    connections_endpoint.live.update({"a1", "a2", "b1", "t1"})
    return aws["dynamodb"]


def test_entity_push_reaches_only_that_entity_in_one_envelope(
    table, handlers, context, connections_endpoint
):
    report = handlers["push"].handler({"entityId": "u1", "payload": {"x": 1}}, context)
    assert report == {
        **{"targeted": 2, "sent": 2, "gone": 0, "failed": 0, "throttled": 0},
        **{"shards": 0, "shardsFailed": 0, "shardsThrottled": 0, "handOns": 0},
        "status": "delivered",
    }
    (message,) = _messages(connections_endpoint, "a1")
    assert set(message) == {"type", "id", "ts", "channel", "seq", "epoch", "data"}
    assert (message["channel"], message["seq"]) == ("entity:u1", 1)
    assert message["data"] == {"x": 1} and message["type"] == "notification"
    assert connections_endpoint.received["b1"] == []


def test_topic_push_reaches_only_subscribers(table, handlers, context, connections_endpoint):
    report = handlers["push"].handler({"topic": "news", "payload": "hi"}, context)
    assert (report["targeted"], report["sent"]) == (1, 1)
    assert set(connections_endpoint.received) == {"t1"}


def test_broadcast_reaches_every_connection_once(table, handlers, context, connections_endpoint):
    report = handlers["push"].handler({"broadcast": True, "payload": 1}, context)
    assert report["sent"] == 4
    assert {k: len(v) for k, v in connections_endpoint.received.items()} == {
        "a1": 1,
        "a2": 1,
        "b1": 1,
        "t1": 1,
    }


def test_a_gone_connection_loses_exactly_its_row_and_the_rest_still_get_it(
    table, handlers, context, connections_endpoint
):
    # Given a2 vanished without a close
    connections_endpoint.live.discard("a2")
    # When a broadcast goes out
    report = handlers["push"].handler({"broadcast": True, "payload": 1}, context)
    # Then a2's row is gone, every other row stays, and the others received it
    assert (report["sent"], report["gone"], report["failed"]) == (3, 1, 0)
    assert ("u1", "a2") not in rows(table)
    assert rows(table) == {("u1", "a1"), ("u2", "b1"), ("owner", "t1"), ("topic#news", "t1")}


def test_throttled_then_accepted_is_retried(table, handlers, context, connections_endpoint):
    connections_endpoint.script["b1"] = [429, 502]
    report = handlers["push"].handler({"entityId": "u2", "payload": 1}, context)
    assert (report["sent"], report["failed"], report["throttled"]) == (1, 0, 1)
    assert connections_endpoint.attempts["b1"] == 3


def test_persistent_server_error_counts_as_failed(table, handlers, context, connections_endpoint):
    connections_endpoint.script["b1"] = [500] * 10
    report = handlers["push"].handler({"entityId": "u2", "payload": 1}, context)
    assert (report["sent"], report["failed"]) == (0, 1)
    assert ("u2", "b1") in rows(table)  # a failure is not a reason to forget a connection


def test_scheduled_event_broadcasts_the_configured_message(
    table, handlers, context, connections_endpoint
):
    report = handlers["push"].handler(load_event("scheduled"), context)
    assert report["sent"] == 4
    (message,) = _messages(connections_endpoint, "b1")
    assert message["type"] == "scheduled" and message["data"] == {"text": "tick"}


def test_custom_eventbridge_event_targets_its_detail_audience(
    table, handlers, context, connections_endpoint
):
    event = load_event("notification")
    event["detail"]["entityId"] = "u2"
    report = handlers["push"].handler(event, context)
    assert report["sent"] == 1
    (message,) = _messages(connections_endpoint, "b1")
    assert message["type"] == "order.shipped" and message["data"] == {"orderId": "o-42"}


def test_connection_push_reaches_that_connection(table, handlers, context, connections_endpoint):
    report = handlers["push"].handler({"connectionId": "b1", "payload": 1}, context)
    assert report["sent"] == 1 and list(connections_endpoint.received) == ["b1"]


def test_an_oversize_payload_is_refused_before_anything_is_sent(
    table, handlers, context, connections_endpoint
):
    with pytest.raises(PayloadTooLarge):
        handlers["push"].handler({"broadcast": True, "payload": "x" * 140_000}, context)
    assert connections_endpoint.received == {}


def test_an_invalid_request_raises_so_an_async_push_ends_in_the_dead_letter_queue(
    aws, handlers, context
):
    with pytest.raises(InvalidPushRequest):
        handlers["push"].handler({"payload": 1}, context)


def test_targeted_push_reads_by_query_never_scan(table, handlers, context, monkeypatch):
    calls = []
    client = handlers["push"].table._client
    original = client.scan
    monkeypatch.setattr(client, "scan", lambda **kw: calls.append(kw) or original(**kw))
    handlers["push"].handler({"entityId": "u1", "payload": 1}, context)
    handlers["push"].handler({"topic": "news", "payload": 1}, context)
    assert calls == []


@pytest.fixture
def push_log(handlers, monkeypatch):
    """The push function's log lines at INFO, as parsed JSON records."""
    lines = io.StringIO()
    logger = handlers["push"].logger
    monkeypatch.setattr(logger.registered_handler, "stream", lines)
    level = logger.log_level
    logger.setLevel("INFO")
    yield lambda: [json.loads(line) for line in lines.getvalue().splitlines()]
    logger.setLevel(level)


def test_a_refused_push_does_not_log_the_previous_pushs_audience(
    table, handlers, context, push_log
):
    def logged(message):
        return [record for record in push_log() if record.get("message") == message]

    # Given a push to u1's entity, logged with its audience
    handlers["push"].handler({"entityId": "u1", "payload": 1}, context)
    assert logged("push delivered")[0]["audience"] == "entity:u1"
    # When the next invocation is refused before it has an audience
    with pytest.raises(InvalidPushRequest):
        handlers["push"].handler({"payload": 1}, context)
    # Then its line carries no audience or entity from the previous one
    (refused,) = logged("push refused")
    assert "audience" not in refused and "entityId" not in refused


def test_a_reused_push_id_reaches_each_audience_with_its_own_payload(
    table, handlers, context, connections_endpoint
):
    # Given a push to u1 under an id
    push = handlers["push"].handler
    assert push({"entityId": "u1", "id": "same", "payload": "for u1"}, context)["sent"] == 2
    # When the id is reused for u2 and for the topic
    assert push({"entityId": "u2", "id": "same", "payload": "for u2"}, context)["sent"] == 1
    assert push({"topic": "news", "id": "same", "payload": "for news"}, context)["sent"] == 1
    # Then each connection got only its own audience's envelope
    assert [(m["channel"], m["data"]) for m in _messages(connections_endpoint, "b1")] == [
        ("entity:u2", "for u2")
    ]
    assert [(m["channel"], m["data"]) for m in _messages(connections_endpoint, "t1")] == [
        ("topic:news", "for news")
    ]
    assert {m["data"] for m in _messages(connections_endpoint, "a1")} == {"for u1"}


def test_a_reused_push_id_with_other_content_on_its_audience_is_an_id_conflict(
    table, handlers, context, connections_endpoint
):
    push = handlers["push"].handler
    first = push({"entityId": "u2", "id": "once", "payload": 1}, context)
    with pytest.raises(IdConflict, match=r"id_conflict.*'once'.*entity:u2"):
        push({"entityId": "u2", "id": "once", "payload": 2}, context)
    # A retry of the first still dedupes: the same envelope again, nothing else
    assert push({"entityId": "u2", "id": "once", "payload": 1}, context)["sent"] == first["sent"]
    first_frame, again = _messages(connections_endpoint, "b1")
    assert first_frame == again and first_frame["data"] == 1


def test_a_duplicate_of_a_push_being_numbered_returns_without_error_and_sends_nothing(
    aws, table, handlers, context, connections_endpoint
):
    # Given another attempt of this push holds its claim (it is numbering it right now)
    request = {"entityId": "u2", "id": "in-flight", "payload": 1}
    now = int(time.time())
    HistoryTable(aws["dynamodb"], HISTORY_TABLE).claim(
        "in-flight", "entity:u2", parse_push_request(request).fingerprint(), now, now + 3600
    )
    # When this attempt runs / Then it ends without an error (no dead letter, no redrive
    # sending it twice), says why, and sends nothing
    answer = handlers["push"].handler(request, context)
    assert answer[DUPLICATE_IN_PROGRESS] is True and "in-flight" in answer["reason"]
    assert connections_endpoint.received["b1"] == []


def _deep(levels):
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels", [64, 980])
def test_a_push_request_nested_past_the_bound_is_refused_before_anything_is_sent(
    table, handlers, context, connections_endpoint, levels
):
    # Given requests Lambda has parsed already: a direct invoke and an EventBridge detail
    direct = {"entityId": "u1", "payload": _deep(levels)}
    event = load_event("notification")
    event["detail"] = direct
    # Then each is refused as malformed JSON, and nothing is sent or numbered
    for request in (direct, event):
        with pytest.raises(InvalidPushRequest, match=r"malformed_json.*levels"):
            handlers["push"].handler(request, context)
    assert connections_endpoint.received == {}
    # And a payload within the bound goes through
    ok = handlers["push"].handler({"entityId": "u1", "payload": _deep(62)}, context)
    assert ok["sent"] == 2


_push_events = st.one_of(
    parsed_documents,
    # An EventBridge event around any detail (or the schedule's shape, any detail)
    st.builds(
        lambda detail_type, source, event_id, detail: {
            "version": "0",
            "id": event_id,
            "detail-type": detail_type,
            "source": source,
            "detail": detail,
        },
        st.sampled_from(["wspush.notification", "Scheduled Event", ""]) | st.text(max_size=5),
        st.sampled_from(["aws.events", "orders"]),
        st.sampled_from(["e-1", "e-2"]) | parsed_documents,
        parsed_documents,
    ),
    # The push function's own shard and hand-on tasks, of any content
    st.builds(
        lambda key, task: {key: task},
        st.sampled_from(["wspushShard", "wspushHandOn"]),
        parsed_documents,
    ),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(event={"entityId": "u1", "payload": _deep(200)})
@example(event={"wspushHandOn": {"request": {}, "envelope": {}}})
@given(event=_push_events)
def test_any_event_is_pushed_or_refused_never_crashes(aws, handlers, context, event):
    # Given any event Lambda could hand over (already parsed: NaN, huge integers, lone
    # surrogates, any nesting, any shape) / Then it is pushed, or refused on purpose with
    # InvalidPushRequest (an asynchronous one is dead-lettered), never another exception
    try:
        answer = handlers["push"].handler(event, context)
    except (InvalidPushRequest, UnsendableMessage):
        return
    assert isinstance(answer, dict)
