"""Shard and hand-on tasks: the largest push API Gateway can send fits one, whatever its
text, and every task carries the envelope byte for byte."""

import json

import pytest

from wspush.dal.shard_invoker import MAX_HAND_ON_BYTES
from wspush.logic import envelope
from wspush.logic.channels import with_position
from wspush.logic.shards import (
    HAND_ON_TASK,
    SHARD_TASK,
    PushState,
    Sharding,
    shard_task,
    task_request,
    without_payload,
)
from wspush.models.channel import Position
from wspush.models.push import DeliveryReport, InvalidPushRequest, parse_push_request
from wspush.models.shard import ItemKey, Shard, encode_task

LONGEST = "x" * 128  # the longest topic, entity, connection and message id


def _largest_push(unit: str) -> tuple[dict, dict, bytes]:
    """A request with every field at its longest, and its numbered envelope filled with
    ``unit`` up to exactly API Gateway's message limit."""
    body = {
        "topic": LONGEST,
        "type": "t" * 64,
        "id": LONGEST,
        "excludeConnectionId": LONGEST,
        "payload": "",
    }

    def numbered(payload: str) -> dict:
        request = parse_push_request({**body, "payload": payload})
        message = envelope.for_push(request, "unused")
        return with_position(message, f"topic:{LONGEST}", Position(2**53, "f" * 8))

    room = envelope.MAX_MESSAGE_BYTES - len(envelope.encode(numbered("")))
    unit_bytes = len(json.dumps(unit, ensure_ascii=False).encode()) - 2
    payload = unit * (room // unit_bytes) + "a" * (room % unit_bytes)
    message = numbered(payload)
    encoded = envelope.encode(message)
    assert len(encoded) == envelope.MAX_MESSAGE_BYTES
    return {**body, "payload": payload}, message, encoded


def _busiest_state(body: dict, message: dict) -> PushState:
    """A hand-on at its largest: the most shards a push runs at once (each resuming after the
    longest key) and the most failed connection ids a report keeps."""
    last = ItemKey(f"topic#{LONGEST}", LONGEST)
    pending = [Shard(partition=last.partition_key, after=last, through=LONGEST) for _ in range(100)]
    report = DeliveryReport(targeted=10**9, sent=10**9, failed_connection_ids=[LONGEST] * 50)
    state = PushState(request=without_payload(body), envelope=message, report=report)
    state.pending.extend(pending)
    state.next_range, state.ranges_left = last, True
    return state


@pytest.mark.parametrize(
    "unit",
    [
        pytest.param("a", id="ascii"),
        pytest.param('"', id="escaped-ascii"),
        pytest.param("漢", id="cjk"),
        pytest.param("😀", id="astral"),
    ],
)
def test_the_largest_push_fits_a_task_and_travels_byte_for_byte(unit):
    body, message, encoded = _largest_push(unit)
    state = _busiest_state(body, message)
    sharding = Sharding(shard_size=5000, parallelism=100, rate_limit=100000)
    tasks = {
        HAND_ON_TASK: state.as_task(),
        SHARD_TASK: shard_task(state, state.pending[0], 2**41, sharding, 1000.0),
    }
    for kind, task in tasks.items():
        payload = encode_task(task)
        # The payload once, as the envelope's bytes: well under the invoke payload limit
        assert len(payload) <= MAX_HAND_ON_BYTES, kind
        assert payload.count(encoded) == 1
        # And the worker sends exactly the coordinator's bytes, for exactly the request
        received = json.loads(payload)[kind]
        assert envelope.encode(received["envelope"]) == encoded
        again = task_request(received["request"], received["envelope"])
        assert again == parse_push_request(body)
    again = PushState.from_task(json.loads(encode_task(state.as_task())))
    assert envelope.encode(again.envelope) == encoded
    assert again.push_request() == parse_push_request(body)


def test_a_task_from_the_previous_version_with_its_payload_still_parses():
    body, message, _ = _largest_push("a")
    assert task_request(body, message) == task_request(without_payload(body), message)


@pytest.mark.parametrize("message", [{}, {"id": "x"}, "not an envelope"])
def test_a_task_without_an_envelope_data_is_refused(message):
    with pytest.raises(InvalidPushRequest):
        task_request({"broadcast": True}, message)
