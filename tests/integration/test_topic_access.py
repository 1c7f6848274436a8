"""Topic authorization, the per-connection subscription limit and $disconnect cleanup,
through the handlers against moto."""

import copy
import json
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import load_event
from tests.integration.conftest import MAX_SUBSCRIPTIONS, TABLE, rows
from wspush.models.connection import SubscribeOutcome

CONNECTION = "Tq7QmcfmIAMCJBA="


def _subscribe(handlers, context, topic, action="subscribe", authorizer=None):
    event = load_event("message")
    event["body"] = json.dumps({"action": action, "topic": topic})
    if authorizer is not None:  # else the fixture's: user-1, granted news and orders.*
        event["requestContext"]["authorizer"] = authorizer
    response = handlers["message"].handler(event, context)
    return json.loads(response["body"])  # the reply frame: the routes are two-way


def _code(reply):
    return reply.get("code", reply["type"])


def _count(dynamodb, entity="user-1"):
    item = dynamodb.get_item(
        TableName=TABLE, Key={"entityId": {"S": entity}, "connectionId": {"S": CONNECTION}}
    )["Item"]
    return len(item.get("topics", {"SS": []})["SS"])


def _connected(aws, handlers, context, connections_endpoint, entity=None):
    event = load_event("connect")
    if entity is not None:
        event["requestContext"]["authorizer"]["entityId"] = entity
    handlers["connect"].handler(event, context)
    connections_endpoint.live.add(CONNECTION)


def test_granted_and_public_topics_are_subscribed_and_others_forbidden(
    aws, handlers, context, connections_endpoint
):
    # Given a connection whose token grants news and orders.*, in a deployment whose
    # public pattern is public.*
    _connected(aws, handlers, context, connections_endpoint)
    # When it subscribes to two readable topics and to someone else's
    topics = ("orders.eu", "public.lobby", "user:alice/orders")
    replies = [_subscribe(handlers, context, topic) for topic in topics]
    # Then the forbidden one gets forbidden_topic and no row, and the count is 2
    assert [_code(r) for r in replies] == [
        "subscribed",
        "subscribed",
        "forbidden_topic",
    ]
    assert rows(aws["dynamodb"]) == {
        ("user-1", CONNECTION),
        ("topic#orders.eu", CONNECTION),
        ("topic#public.lobby", CONNECTION),
    }
    assert _count(aws["dynamodb"]) == 2


def test_a_connection_without_a_topics_claim_reads_only_public_topics(
    aws, handlers, context, connections_endpoint
):
    _connected(aws, handlers, context, connections_endpoint)
    unscoped = {"entityId": "user-1", "principalId": "user-1"}
    replies = [
        _subscribe(handlers, context, "news", authorizer=unscoped),
        _subscribe(handlers, context, "public.news", authorizer=unscoped),
    ]
    assert [_code(r) for r in replies] == [
        "forbidden_topic",
        "subscribed",
    ]


def test_the_limit_holds_and_unsubscribing_frees_a_place(
    aws, handlers, context, connections_endpoint
):
    # Given a connection at the limit
    _connected(aws, handlers, context, connections_endpoint)
    for i in range(MAX_SUBSCRIPTIONS):
        _subscribe(handlers, context, f"orders.{i}")
    # When it subscribes to one more, and again to one it holds
    extra = _subscribe(handlers, context, "orders.extra")
    held = _subscribe(handlers, context, "orders.0")
    # Then the new one is refused with too_many_subscriptions and the held one is fine
    assert [_code(extra), _code(held)] == ["too_many_subscriptions", "subscribed"]
    assert _count(aws["dynamodb"]) == MAX_SUBSCRIPTIONS
    # And after one unsubscribe (twice: the second changes nothing), the extra one fits
    _subscribe(handlers, context, "orders.1", action="unsubscribe")
    _subscribe(handlers, context, "orders.1", action="unsubscribe")
    assert _count(aws["dynamodb"]) == MAX_SUBSCRIPTIONS - 1
    assert _subscribe(handlers, context, "orders.extra") == {
        "type": "subscribed",
        "topic": "orders.extra",
    }
    assert _count(aws["dynamodb"]) == MAX_SUBSCRIPTIONS
    topic_rows = {r for r in rows(aws["dynamodb"]) if r[0].startswith("topic#")}
    assert len(topic_rows) == MAX_SUBSCRIPTIONS


def test_concurrent_subscribes_never_pass_the_limit(aws, handlers, context, connections_endpoint):
    # Given a connection, and four times the limit of subscribes sent at once (as many
    # message invocations would: each its own write to the table)
    _connected(aws, handlers, context, connections_endpoint)
    table = handlers["message"].table
    topics = [f"orders.{i}" for i in range(4 * MAX_SUBSCRIPTIONS)]

    def subscribe(topic):
        return table.add_subscription(topic, CONNECTION, "user-1", 2**31, MAX_SUBSCRIPTIONS, topic)

    # When they run in parallel (a read-then-write check would let several through)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(subscribe, topics))
    # Then exactly the limit were written and counted, and the rest refused
    topic_rows = {r for r in rows(aws["dynamodb"]) if r[0].startswith("topic#")}
    assert len(topic_rows) == MAX_SUBSCRIPTIONS == _count(aws["dynamodb"])
    assert outcomes.count(SubscribeOutcome.ADDED) == MAX_SUBSCRIPTIONS
    assert outcomes.count(SubscribeOutcome.LIMIT_REACHED) == len(topics) - MAX_SUBSCRIPTIONS


def test_without_an_authorizer_the_owner_is_read_from_the_index(
    aws, handlers, context, connections_endpoint
):
    # Given a connection stored under "demo" and a message event with no authorizer context
    _connected(aws, handlers, context, connections_endpoint, entity="demo")
    event = load_event("message")
    del event["requestContext"]["authorizer"]
    event["body"] = '{"action":"subscribe","topic":"public.chat"}'
    # When it subscribes to a public topic
    handlers["message"].handler(event, context)
    # Then the row names its owner and the demo connection row counts it
    item = aws["dynamodb"].get_item(
        TableName=TABLE,
        Key={"entityId": {"S": "topic#public.chat"}, "connectionId": {"S": CONNECTION}},
    )["Item"]
    assert item["ownerEntityId"] == {"S": "demo"}
    assert _count(aws["dynamodb"], "demo") == 1


def test_a_subscribe_after_the_connection_row_is_gone_writes_nothing(
    aws, handlers, context, connections_endpoint
):
    assert _subscribe(handlers, context, "news")["code"] == "not_connected"
    assert rows(aws["dynamodb"]) == set()


def test_disconnect_deletes_hundreds_of_rows_in_batches(aws, handlers, context, monkeypatch):
    # Given a connection with 260 subscription rows (more than ten batches of 25)
    dynamodb = aws["dynamodb"]
    handlers["connect"].handler(load_event("connect"), context)
    for i in range(260):
        dynamodb.put_item(
            TableName=TABLE,
            Item={"entityId": {"S": f"topic#t{i}"}, "connectionId": {"S": CONNECTION}},
        )
    other = copy.deepcopy(load_event("connect"))
    other["requestContext"]["connectionId"] = "Other000000000="
    handlers["connect"].handler(other, context)
    # (with lifecycle events on, rows go one by one so that each topic left is counted once)
    monkeypatch.setattr(handlers["disconnect"], "lifecycle", None)
    client = handlers["disconnect"].table._client
    batches = []
    original = client.batch_write_item
    monkeypatch.setattr(
        client, "batch_write_item", lambda **kw: batches.append(kw) or original(**kw)
    )
    # When it disconnects
    assert handlers["disconnect"].handler(load_event("disconnect"), context)["statusCode"] == 200
    # Then every one of its 261 rows is gone, its own row first and then its 260
    # subscriptions in batches of at most 25, and nothing else
    assert rows(dynamodb) == {("user-1", "Other000000000=")}
    sizes = [len(b["RequestItems"][TABLE]) for b in batches]
    assert sum(sizes) == 260 and max(sizes) == 25
