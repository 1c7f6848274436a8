import pytest

from wspush.models.push import Audience, InvalidPushRequest, parse_push_request


@pytest.mark.parametrize(
    ("body", "audience"),
    [
        ({"entityId": "u1", "payload": 1}, Audience(entity_id="u1")),
        ({"topic": "news", "payload": 1}, Audience(topic="news")),
        ({"connectionId": "Ab1=", "payload": 1}, Audience(connection_id="Ab1=")),
        ({"broadcast": True, "payload": 1}, Audience(broadcast=True)),
        ({"broadcast": False, "entityId": "u1", "payload": 1}, Audience(entity_id="u1")),
    ],
)
def test_each_audience_is_read(body, audience):
    assert parse_push_request(body).audience == audience


def test_type_defaults_and_can_be_set():
    assert parse_push_request({"broadcast": True, "payload": None}).message_type == "notification"
    assert parse_push_request({"broadcast": True, "payload": 1, "type": "x"}).message_type == "x"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"payload": 1}, "exactly one audience"),
        ({"entityId": "u", "topic": "t", "payload": 1}, "exactly one audience"),
        ({"entityId": "u"}, "payload"),
        ({"entityId": "topic#x", "payload": 1}, "invalid entityId"),
        ({"topic": "a b", "payload": 1}, "invalid topic"),
        ({"broadcast": "yes", "payload": 1}, "must be true"),
        ({"broadcast": True, "payload": 1, "type": ""}, "type"),
    ],
)
def test_invalid_requests_are_refused_with_a_reason(body, message):
    with pytest.raises(InvalidPushRequest, match=message):
        parse_push_request(body)


def test_id_and_exclude_connection_are_read_and_the_body_is_kept():
    body = {"topic": "chat", "payload": 1, "id": "order-42:shipped", "excludeConnectionId": "Ab1="}
    request = parse_push_request(body)
    assert (request.id, request.exclude_connection_id) == ("order-42:shipped", "Ab1=")
    assert parse_push_request(request.body) == request


@pytest.mark.parametrize("bad_id", ["", "x" * 129, "has space", "new\nline", 42, "<script>"])
def test_an_unsafe_id_is_refused(bad_id):
    with pytest.raises(InvalidPushRequest, match='"id"'):
        parse_push_request({"broadcast": True, "payload": 1, "id": bad_id})


@pytest.mark.parametrize("bad", ["", "x" * 129, 7])
def test_an_invalid_exclude_connection_is_refused(bad):
    with pytest.raises(InvalidPushRequest, match="excludeConnectionId"):
        parse_push_request({"broadcast": True, "payload": 1, "excludeConnectionId": bad})
