"""Metrics are emitted where things happen, once, as CloudWatch EMF with service + stage."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import load_event
from tests.integration.conftest import SECRET, TABLE
from wspush.logic import tokens


def _metrics(output: str) -> list[tuple[str, float, str, dict[str, str]]]:
    """(name, value, unit, dimensions) for every metric in the captured EMF documents."""
    found = []
    for line in output.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document: dict[str, Any] = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names = {name for dimension_set in directive["Dimensions"] for name in dimension_set}
            dimensions = {name: document[name] for name in names}
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    found.append((metric["Name"], value, metric["Unit"], dimensions))
    return found


def _named(found, name):
    return [entry for entry in found if entry[0] == name]


def test_push_counts_every_outcome_once_with_service_and_stage(
    aws, handlers, context, connections_endpoint, capsys
):
    for connection in ("a", "b", "c"):
        aws["dynamodb"].put_item(
            TableName=TABLE, Item={"entityId": {"S": "u"}, "connectionId": {"S": connection}}
        )
    connections_endpoint.live.update({"a", "b"})
    connections_endpoint.script["b"] = [429]
    capsys.readouterr()

    handlers["push"].handler({"entityId": "u", "payload": 1}, context)

    found = _metrics(capsys.readouterr().out)
    expected = {
        "PushTargeted": 3,
        "PushSent": 2,
        "PushGone": 1,
        "PushConnectionsFailed": 0,
        "PushDelivered": 1,
        "PushThrottled": 1,
    }
    for name, value in expected.items():
        (entry,) = _named(found, name)
        assert entry[1] == value and entry[2] == "Count"
        assert entry[3] == {"service": "wspush", "stage": "test"}
    (duration,) = _named(found, "PushDuration")
    assert duration[2] == "Milliseconds" and duration[1] > 0


def test_denied_connects_are_counted_by_reason(aws, handlers, context, capsys):
    expired = tokens.issue("u", SECRET.encode(), ttl_seconds=1, now=1_000_000)
    event = load_event("authorizer_connect")
    event["queryStringParameters"] = {"token": expired}
    capsys.readouterr()

    handlers["authorizer"].handler(event, context)

    found = _metrics(capsys.readouterr().out)
    (by_reason,) = _named(found, "ConnectDeniedByReason")
    assert by_reason[1] == 1
    assert by_reason[3] == {"service": "wspush", "stage": "test", "reason": "expired"}
    assert [entry[1] for entry in _named(found, "ConnectDenied")] == [1]
    assert _named(found, "ConnectAuthorized") == []


def test_message_errors_are_counted_by_kind(aws, handlers, context, connections_endpoint, capsys):
    event = load_event("message")
    event["body"] = "{broken"
    capsys.readouterr()

    handlers["message"].handler(event, context)

    found = _metrics(capsys.readouterr().out)
    (by_kind,) = _named(found, "MessageErrorsByKind")
    assert by_kind[3]["kind"] == "malformed_json"
    assert [entry[1] for entry in _named(found, "MessagesReceived")] == [1]
    assert [entry[1] for entry in _named(found, "MessageErrors")] == [1]


def test_connections_opened_and_closed_are_counted(aws, handlers, context, capsys):
    capsys.readouterr()
    handlers["connect"].handler(load_event("connect"), context)
    handlers["disconnect"].handler(load_event("disconnect"), context)
    found = _metrics(capsys.readouterr().out)
    assert [entry[1] for entry in _named(found, "ConnectionsOpened")] == [1]
    assert [entry[1] for entry in _named(found, "ConnectionsClosed")] == [1]
