import json
import uuid
from datetime import UTC, datetime

import pytest

from wspush.logic import envelope


def test_envelope_has_type_id_timestamp_and_data():
    message = envelope.build(
        "notification", {"a": 1}, now=datetime(2026, 11, 21, 6, 44, tzinfo=UTC)
    )
    assert message["type"] == "notification"
    assert uuid.UUID(message["id"]).version == 4
    assert message["ts"] == "2026-11-21T06:44:00.000Z"
    assert message["data"] == {"a": 1}


def test_every_envelope_gets_a_new_id():
    assert envelope.build("t", 1)["id"] != envelope.build("t", 1)["id"]


def test_encode_is_compact_utf8_json():
    assert envelope.encode({"text": "héllo"}) == '{"text":"héllo"}'.encode()


def test_a_message_at_the_limit_is_accepted_and_one_byte_over_is_refused():
    overhead = len(json.dumps({"x": ""}, separators=(",", ":")))
    exact = {"x": "a" * (envelope.MAX_MESSAGE_BYTES - overhead)}
    assert len(envelope.encode(exact)) == envelope.MAX_MESSAGE_BYTES
    with pytest.raises(envelope.PayloadTooLarge, match="over the 131072-byte limit"):
        envelope.encode({"x": exact["x"] + "a"})


def test_a_push_envelope_takes_the_callers_id_else_the_fallback():
    from wspush.models.push import parse_push_request

    keyed = parse_push_request({"broadcast": True, "payload": 1, "id": "k-1"})
    plain = parse_push_request({"broadcast": True, "payload": 1, "type": "t"})
    assert envelope.for_push(keyed, "event-id")["id"] == "k-1"
    message = envelope.for_push(plain, "event-id")
    assert (message["id"], message["type"], message["data"]) == ("event-id", "t", 1)
