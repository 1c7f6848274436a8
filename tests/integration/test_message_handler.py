import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import load_event
from tests.integration.conftest import rows

CONNECTION = "Tq7QmcfmIAMCJBA="


def _message(body, is_base64=False):
    event = load_event("message")
    assert "headers" not in event  # message events carry no headers
    event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def _replies(endpoint):
    return [json.loads(frame) for frame in endpoint.received[CONNECTION]]


def test_ping_replies_pong_through_connections(aws, handlers, context, connections_endpoint):
    connections_endpoint.live.add(CONNECTION)
    response = handlers["message"].handler(_message('{"action":"ping"}'), context)
    assert response == {"statusCode": 200}
    assert _replies(connections_endpoint) == [{"type": "pong"}]


def test_subscribe_stores_a_topic_row(aws, handlers, context, connections_endpoint):
    handlers["connect"].handler(load_event("connect"), context)
    connections_endpoint.live.add(CONNECTION)
    handlers["message"].handler(_message('{"action":"subscribe","topic":"news"}'), context)
    assert rows(aws["dynamodb"]) == {("user-1", CONNECTION), ("topic#news", CONNECTION)}
    handlers["message"].handler(_message('{"action":"unsubscribe","topic":"news"}'), context)
    assert rows(aws["dynamodb"]) == {("user-1", CONNECTION)}
    assert [r["type"] for r in _replies(connections_endpoint)] == ["subscribed", "unsubscribed"]


def test_malformed_and_binary_messages_get_error_frames_and_a_200(
    aws, handlers, context, connections_endpoint
):
    connections_endpoint.live.add(CONNECTION)
    for event in (_message("{oops"), _message("AAEC", is_base64=True), _message(None)):
        assert handlers["message"].handler(event, context) == {"statusCode": 200}
    codes = [r["code"] for r in _replies(connections_endpoint)]
    assert codes == ["malformed_json", "binary_not_supported", "malformed_json"]


def test_a_reply_to_a_vanished_client_is_not_an_error(aws, handlers, context, connections_endpoint):
    # The endpoint answers 410 for a connection it does not know.
    assert handlers["message"].handler(_message('{"action":"ping"}'), context)["statusCode"] == 200


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(st.text(max_size=400), st.binary(max_size=200).map(lambda b: b.hex())))
def test_any_body_gets_a_200_and_one_frame(aws, handlers, context, connections_endpoint, body):
    connections_endpoint.live.add(CONNECTION)
    before = len(connections_endpoint.received[CONNECTION])
    assert handlers["message"].handler(_message(body), context) == {"statusCode": 200}
    frames = connections_endpoint.received[CONNECTION][before:]
    assert len(frames) == 1
    assert json.loads(frames[0])["type"] in {"error", "pong", "subscribed", "unsubscribed"}
