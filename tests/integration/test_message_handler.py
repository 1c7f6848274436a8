import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import load_event
from tests.hostile import json_texts
from tests.integration.conftest import rows

CONNECTION = "Tq7QmcfmIAMCJBA="


def _message(body, is_base64=False):
    event = load_event("message")
    assert "headers" not in event  # message events carry no headers
    event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def _reply(response):
    """The message routes are two-way: the reply frame is the returned body."""
    assert response["statusCode"] == 200
    return json.loads(response["body"])


def test_ping_replies_pong_as_the_route_response(aws, handlers, context, connections_endpoint):
    connections_endpoint.live.add(CONNECTION)
    response = handlers["message"].handler(_message('{"action":"ping"}'), context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"type": "pong", "connectionId": CONNECTION}
    # Nothing goes through @connections: API Gateway delivers the body.
    assert connections_endpoint.received[CONNECTION] == []


def test_subscribe_stores_a_topic_row(aws, handlers, context):
    handlers["connect"].handler(load_event("connect"), context)
    subscribed = handlers["message"].handler(
        _message('{"action":"subscribe","topic":"news"}'), context
    )
    assert rows(aws["dynamodb"]) == {("user-1", CONNECTION), ("topic#news", CONNECTION)}
    unsubscribed = handlers["message"].handler(
        _message('{"action":"unsubscribe","topic":"news"}'), context
    )
    assert rows(aws["dynamodb"]) == {("user-1", CONNECTION)}
    assert [_reply(subscribed)["type"], _reply(unsubscribed)["type"]] == [
        "subscribed",
        "unsubscribed",
    ]


def test_malformed_and_binary_messages_get_error_frames_and_a_200(aws, handlers, context):
    # API Gateway closes on binary frames before any route runs; the function still
    # answers an event that says base64 with an error frame, never an exception.
    events = (_message("{oops"), _message("AAEC", is_base64=True), _message(None))
    codes = [_reply(handlers["message"].handler(event, context))["code"] for event in events]
    assert codes == ["malformed_json", "binary_not_supported", "malformed_json"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(st.text(max_size=400), st.binary(max_size=200).map(lambda b: b.hex())))
def test_any_body_gets_a_200_and_one_frame(aws, handlers, context, body):
    frame = _reply(handlers["message"].handler(_message(body), context))
    assert frame["type"] in {"error", "pong", "subscribed", "unsubscribed"}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(body='{"action": "ping", "action": "subscribe", "topic": "x"}')
@example(body='{"action": "ping", "n": ' + "[" * 986 + "]" * 986 + "}")
@given(body=json_texts)
def test_any_json_shaped_frame_gets_a_200_and_one_frame(aws, handlers, context, body):
    # Given a frame with duplicate keys, nesting around every bound, huge numbers or lone
    # surrogates, built from the keys the routes read / Then it gets one frame, never raises
    frame = _reply(handlers["message"].handler(_message(body), context))
    assert frame["type"] in {"error", "pong", "subscribed", "unsubscribed", "presence", "resumed"}
