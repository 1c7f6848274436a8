import pytest

from wspush.models.push import Audience, InvalidPushRequest, parse_push_request


@pytest.mark.parametrize(
    ("body", "audience"),
    [
        ({"entityId": "u1", "payload": 1}, Audience(entity_id="u1")),
        ({"topic": "news", "payload": 1}, Audience(topic="news")),
        ({"connectionId": "Ab1=", "payload": 1}, Audience(connection_id="Ab1=")),
        ({"broadcast": True, "payload": 1}, Audience(broadcast=True)),
        ({"entityId": "u1", "topic": None, "payload": 1}, Audience(entity_id="u1")),
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
        # Anything but true next to another audience is an error, never read as absent
        ({"broadcast": 0, "entityId": "u1", "payload": 1}, "must be true when present; got 0"),
        ({"broadcast": False, "entityId": "u1", "payload": 1}, "must be true.*got false"),
        ({"broadcast": None, "topic": "t", "payload": 1}, "must be true.*got null"),
        ({"broadcast": 1, "payload": 1}, "must be true.*got 1"),
        ({"broadcast": [True], "payload": 1}, "must be true"),
        ({"entityId": 0, "payload": 1}, "invalid entityId"),
        ({"broadcast": True, "payload": 1, "type": ""}, "type"),
    ],
)
def test_invalid_requests_are_refused_with_a_reason(body, message):
    with pytest.raises(InvalidPushRequest, match=message):
        parse_push_request(body)


def test_id_and_excluded_connection_are_read():
    # Given a request naming its message id and the sender's connection
    body = {"entityId": "m-1", "payload": 1, "id": "order-42", "excludeConnectionId": "Ab1="}
    # When it is parsed
    request = parse_push_request(body)
    # Then both survive, and they stay optional
    assert (request.id, request.exclude_connection_id) == ("order-42", "Ab1=")
    bare = parse_push_request({"entityId": "m-1", "payload": 1})
    assert (bare.id, bare.exclude_connection_id) == (None, None)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"id": ""}, '"id"'),
        ({"id": "has space"}, '"id"'),
        ({"id": 7}, '"id"'),
        ({"id": "x" * 129}, '"id"'),
        ({"excludeConnectionId": ""}, "excludeConnectionId"),
        ({"excludeConnectionId": 5}, "excludeConnectionId"),
        ({"excludeConnectionId": "c" * 129}, "excludeConnectionId"),
    ],
)
def test_invalid_id_or_excluded_connection_is_refused(extra, message):
    with pytest.raises(InvalidPushRequest, match=message):
        parse_push_request({"entityId": "m-1", "payload": 1, **extra})


def test_the_validated_body_is_kept_and_parses_to_the_same_request():
    # Shards and hand-ons carry the body and parse it again: nothing may be lost on the way
    body = {"topic": "chat", "payload": 1, "id": "order-42:shipped", "excludeConnectionId": "Ab1="}
    request = parse_push_request(body)
    assert request.body == body and parse_push_request(request.body) == request
