"""The publish function against moto (audience counts) and a Lambda Invoke endpoint that
answers reports, 202s, throttles, function errors and slow replies."""

from __future__ import annotations

import base64
import importlib
import json
import os
import time
from types import ModuleType
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fakes import FakeLambdaEndpoint
from tests.hostile import hostile_bytes, json_texts
from tests.integration.conftest import HISTORY_TABLE, TABLE
from wspush.dal.history_table import HistoryTable
from wspush.dal.push_invoker import PushInvoker, invoke_client_config
from wspush.models.push import parse_push_request

PUSH = "wspush-test-push"
SYNC_MAX_TARGETS = 2
WAIT_SECONDS = 1


@pytest.fixture(scope="module")
def lambda_endpoint():
    endpoint = FakeLambdaEndpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="module")
def publish_module(handlers, lambda_endpoint) -> ModuleType:
    os.environ.update(
        {
            "PUSH_FUNCTION_NAME": PUSH,
            "PUBLISH_SYNC_MAX_TARGETS": str(SYNC_MAX_TARGETS),
            "PUBLISH_SYNC_WAIT_SECONDS": str(WAIT_SECONDS),
        }
    )
    module = importlib.import_module("wspush.handlers.publish")
    client = boto3.client(
        "lambda",
        endpoint_url=lambda_endpoint.url,
        region_name="us-east-1",
        config=invoke_client_config(WAIT_SECONDS),
    )
    module.invoker = PushInvoker(client, PUSH)
    return module


@pytest.fixture
def publish(publish_module, aws, lambda_endpoint, context):
    lambda_endpoint.reset()

    def call(
        document: Any,
        raw: bytes | None = None,
        base64_encoded: bool = False,
        event_body: str | None = None,
    ):
        body = raw if raw is not None else json.dumps(document).encode()
        if event_body is not None:
            body = b""
        event = {
            "version": "2.0",
            "routeKey": "POST /publish",
            "requestContext": {
                "requestId": "req-1",
                "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/orders"}},
            },
            "isBase64Encoded": base64_encoded,
            "body": base64.b64encode(body).decode() if base64_encoded else body.decode(),
        }
        if event_body is not None:
            event["body"] = event_body
        response = publish_module.handler(event, context)
        assert response["headers"]["content-type"] == "application/json"
        return response["statusCode"], json.loads(response["body"])

    return call


def _connections(aws, entity: str, count: int) -> None:
    for n in range(count):
        aws["dynamodb"].put_item(
            TableName=TABLE,
            Item={"entityId": {"S": entity}, "connectionId": {"S": f"{entity}-c{n}="}},
        )


def test_a_merchant_with_few_staff_online_gets_the_delivery_report(publish, aws, lambda_endpoint):
    # Given merchant m-small with two connections (at the synchronous limit)
    _connections(aws, "m-small", SYNC_MAX_TARGETS)
    # When an order notification is published to it
    status, answer = publish({"entityId": "m-small", "type": "order.placed", "payload": {}})
    # Then the push function ran synchronously and its report is the answer
    assert status == 200 and answer["status"] == "delivered"
    assert answer["report"]["sent"] == 2
    ((function, kind, payload),) = lambda_endpoint.calls
    assert (function, kind) == (PUSH, "RequestResponse")
    assert payload["id"] == answer["id"] and payload["entityId"] == "m-small"


def test_a_merchant_over_the_limit_is_pushed_in_the_background(publish, aws, lambda_endpoint):
    _connections(aws, "m-big", SYNC_MAX_TARGETS + 1)
    status, answer = publish({"entityId": "m-big", "payload": 1, "excludeConnectionId": "x="})
    assert status == 202 and answer["status"] == "accepted"
    ((_, kind, payload),) = lambda_endpoint.calls
    assert kind == "Event" and payload["excludeConnectionId"] == "x="


def test_a_batch_is_answered_per_message(publish, aws, lambda_endpoint):
    _connections(aws, "m-small", 1)
    batch = {"messages": [{"entityId": "m-small", "payload": 1}, {"broadcast": True, "payload": 2}]}
    status, answer = publish(batch)
    assert status == 202
    assert [r["status"] for r in answer["results"]] == ["delivered", "accepted"]
    kinds = sorted(kind for _, kind, _ in lambda_endpoint.calls)
    assert kinds == ["Event", "RequestResponse"]


def test_a_throttled_synchronous_push_runs_in_the_background(publish, aws, lambda_endpoint):
    _connections(aws, "m-small", 1)
    lambda_endpoint.script = [(429, "TooManyRequestsException", 0.0)]
    status, answer = publish({"entityId": "m-small", "payload": 1})
    assert status == 202 and answer["status"] == "accepted"
    assert [kind for _, kind, _ in lambda_endpoint.calls] == ["RequestResponse", "Event"]


def test_a_push_slower_than_the_wait_is_accepted_not_retried(publish, aws, lambda_endpoint):
    _connections(aws, "m-small", 1)
    lambda_endpoint.script = [(0, None, WAIT_SECONDS + 1.0)]
    status, answer = publish({"entityId": "m-small", "payload": 1})
    assert status == 202 and answer["status"] == "accepted"
    # One attempt only: a retried synchronous invoke would push the message twice.
    assert len(lambda_endpoint.calls) == 1


def test_a_failed_push_or_an_unavailable_function_is_a_503_naming_why(
    publish, aws, lambda_endpoint
):
    _connections(aws, "m-small", 1)
    lambda_endpoint.function_error = {
        "errorType": "StoreError",
        "errorMessage": "table unavailable",
    }
    status, answer = publish({"entityId": "m-small", "payload": 1})
    assert status == 503 and "table unavailable" in answer["reason"]
    lambda_endpoint.reset()
    lambda_endpoint.script = [(500, "ServiceException", 0.0)]
    status, answer = publish({"broadcast": True, "payload": 1})
    assert status == 503 and "ServiceException" in answer["reason"]


def test_a_reused_id_with_other_content_is_a_409_naming_it(publish, aws, lambda_endpoint):
    # Given a push to m-small already claimed its id
    _connections(aws, "m-small", 1)
    first = {"entityId": "m-small", "id": "order-7", "payload": {"total": 10}}
    assert publish(first)[0] == 200
    request = parse_push_request(first)
    HistoryTable(aws["dynamodb"], HISTORY_TABLE).claim(
        "order-7", "entity:m-small", request.fingerprint(), int(time.time()), 2**40
    )
    lambda_endpoint.reset()
    # When another push to m-small reuses the id with another payload
    status, answer = publish({"entityId": "m-small", "id": "order-7", "payload": {"total": 99}})
    # Then it is refused before the push function is invoked
    assert (status, answer["error"], answer["id"]) == (409, "id_conflict", "order-7")
    assert lambda_endpoint.calls == []
    # And one that races past the check is refused by the push function: 409 as well
    lambda_endpoint.function_error = {"errorType": "IdConflict", "errorMessage": "id_conflict: x"}
    status, answer = publish({"entityId": "m-small", "id": "order-8", "payload": 1})
    assert (status, answer["error"], answer["status"]) == (409, "id_conflict", "conflict")


def test_a_push_another_attempt_is_delivering_is_accepted(publish, aws, lambda_endpoint):
    # Given the push function answers that another attempt of this push delivers it
    _connections(aws, "m-small", 1)
    lambda_endpoint.answer = {"duplicateInProgress": True, "reason": "being numbered"}
    # When it is published / Then it is accepted (it runs), not reported as delivered to 0
    status, answer = publish({"entityId": "m-small", "id": "dup-1", "payload": 1})
    assert (status, answer) == (202, {"id": "dup-1", "status": "accepted"})


def test_a_throttled_event_is_retried(publish, lambda_endpoint):
    lambda_endpoint.script = [(429, "TooManyRequestsException", 0.0)]
    status, _ = publish({"broadcast": True, "payload": 1})
    assert status == 202 and len(lambda_endpoint.calls) == 2


def test_a_base64_body_is_read_and_bad_base64_is_a_400(publish, lambda_endpoint):
    status, _ = publish({"broadcast": True, "payload": 1}, base64_encoded=True)
    assert status == 202
    status, answer = publish(None, base64_encoded=True, event_body="not base64!")
    assert (status, answer["error"]) == (400, "malformed_body")
    status, answer = publish(None, raw=b"{}", base64_encoded=True)
    assert status == 400 and answer["error"] == "invalid_request"
    assert len(lambda_endpoint.calls) == 1


def test_invalid_requests_never_reach_the_push_function(publish, lambda_endpoint):
    status, answer = publish({"entityId": "m-1", "payload": 1, "id": "has space"})
    assert status == 400 and '"id"' in answer["message"]
    status, answer = publish({"messages": [{"broadcast": True, "payload": 1}] * 11})
    assert status == 400 and answer["error"] == "too_many_messages"
    assert lambda_endpoint.calls == []


def test_the_caller_is_the_jwt_subject_on_a_jwt_route(publish_module):
    # The authorizer context the JWT route passes (claims as strings, no scopes)
    event = {
        "requestContext": {
            "authorizer": {"jwt": {"claims": {"sub": "backend-1", "exp": "1"}, "scopes": None}}
        }
    }
    assert publish_module._caller(event) == "backend-1"


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(body={"event_body": '{"entityId": "\ud800", "payload": 1}'})
@example(body={"event_body": '{"broadcast": true, "payload": ' + "[" * 986 + "]" * 986 + "}"})
@given(
    body=st.one_of(
        json_texts.map(lambda text: {"event_body": text}),
        hostile_bytes.map(lambda raw: {"raw": raw, "base64_encoded": True}),
    )
)
def test_any_body_gets_a_json_answer_below_500(publish, body):
    # Given any body (text with lone surrogates, deep nesting, duplicate keys, huge numbers;
    # or any bytes, base64-encoded as API Gateway passes a binary body) / When published /
    # Then the answer is JSON and never a 5xx
    status, answer = publish(None, **body)
    assert status < 500 and isinstance(answer, dict)


def _get_trace(publish_module, context, push_id):
    event = {
        "version": "2.0",
        "routeKey": "GET /publish/{id}",
        "pathParameters": {"id": push_id},
        "requestContext": {
            "requestId": "req-2",
            "http": {"method": "GET", "path": f"/local/publish/{push_id}"},
            "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/orders"}},
        },
    }
    response = publish_module.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_get_publish_id_answers_the_push_trace(publish_module, aws, context):
    # Given a push's trace as the push function keeps it
    history = HistoryTable(aws["dynamodb"], HISTORY_TABLE)
    part = {
        "id": "o-1", "channel": "entity:m", "seq": 3, "audience": "entity:m",
        "status": "partial", "part": 1, "acceptedAt": 1.0, "invokedAt": 1.0, "endedAt": 2.0,
        "lastPostAt": 1.5, "totals": {"targeted": 2, "sent": 1, "gone": 0, "failed": 1,
        "throttled": 0, "shards": 0, "handOns": 0}, "pages": 1,
        "reasons": {"403 ForbiddenException": 1}, "shardsFailed": [],
        "attempts": [["c1", "sent", 200, None, 1000, 3.0], ["c2", "failed", 403, "ForbiddenException", 1001, 2.0]],
        "attemptsOmitted": 0,
    }  # fmt: skip
    history.put_trace_part("o-1", 1, part, int(time.time()) + 3600)
    # When it is read over GET /publish/{id}
    status, record = _get_trace(publish_module, context, "o-1")
    # Then the answer is the merged record; unknown ids are 404 and bad ones 400
    assert status == 200 and record["status"] == "partial"
    assert record["connections"][1] == {
        "connectionId": "c2", "outcome": "failed", "status": 403,
        "error": "ForbiddenException", "startMs": 1001, "durationMs": 2.0,
    }  # fmt: skip
    assert _get_trace(publish_module, context, "o-2")[0] == 404
    assert _get_trace(publish_module, context, "bad#id")[0] == 400
