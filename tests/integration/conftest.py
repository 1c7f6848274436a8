"""Integration fixtures: a moto server (DynamoDB, SSM) and a fake ``@connections`` endpoint.

The handler modules read their configuration at import, like a Lambda cold start, so the
environment is set before they are imported and the moto state is reset between tests.
"""

from __future__ import annotations

import importlib
import json
import os
import urllib.request
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.fakes import FakeConnectionsEndpoint
from wspush.logic.messages import ChannelServices, InboundMessage, Reply, handle_message
from wspush_local.emulator.table import create_connections_table, create_history_table

TABLE = "wspush-test-connections"
HISTORY_TABLE = "wspush-test-history"
EVENT_BUS = "wspush-test"
ACK_TIMEOUT_QUEUE = "wspush-test-ack-timeouts"
ACK_TIMEOUT_DLQ = "wspush-test-ack-timeouts-dlq"
SECRET_PARAMETER = "/wspush/test/token-secret"
SECRET = "integration-secret-of-at-least-32-bytes"
MAX_SUBSCRIPTIONS = 5
PUBLIC_TOPIC_PATTERNS = "public.*"


@pytest.fixture(scope="session")
def connections_endpoint():
    endpoint = FakeConnectionsEndpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="session")
def handlers(moto_url, connections_endpoint) -> dict[str, ModuleType]:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "CONNECTIONS_TABLE": TABLE,
            "HISTORY_TABLE": HISTORY_TABLE,
            "LIFECYCLE_EVENT_BUS": EVENT_BUS,
            "PUSH_EVENT_BUS": EVENT_BUS,
            "ACK_TIMEOUT_SECONDS": "5",
            "ACK_TIMEOUT_QUEUE_URL": f"{moto_url}/123456789012/{ACK_TIMEOUT_QUEUE}",
            "ACK_TIMEOUT_DLQ_URL": f"{moto_url}/123456789012/{ACK_TIMEOUT_DLQ}",
            "RESUME_MAX_MESSAGES": "5",
            "CONNECTIONS_ENDPOINT": connections_endpoint.url,
            "TOKEN_SECRET_PARAMETER": SECRET_PARAMETER,
            "PUSH_CONCURRENCY": "8",
            "AWS_LAMBDA_FUNCTION_NAME": "wspush-test-push",
            "PUSH_SHARD_SIZE": "1000",
            "PUSH_SHARD_PARALLELISM": "3",
            "PUSH_RATE_LIMIT": "5000",
            "PUSH_DEADLINE_MARGIN_SECONDS": "2",
            "SCHEDULED_MESSAGE": '{"text": "tick"}',
            "PUBLIC_TOPIC_PATTERNS": PUBLIC_TOPIC_PATTERNS,
            "MAX_SUBSCRIPTIONS_PER_CONNECTION": str(MAX_SUBSCRIPTIONS),
        }
    )
    names = ("authorizer", "connect", "disconnect", "message", "push")
    return {name: importlib.import_module(f"wspush.handlers.{name}") for name in names}


@pytest.fixture
def aws(moto_url, handlers, connections_endpoint):
    """A clean emulator with the table and the secret, and a clean endpoint."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    connections_endpoint.reset()
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url)
    create_connections_table(dynamodb, TABLE)
    create_history_table(dynamodb, HISTORY_TABLE)
    events = boto3.client("events", endpoint_url=moto_url)
    events.create_event_bus(Name=EVENT_BUS)
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    for queue in (ACK_TIMEOUT_QUEUE, ACK_TIMEOUT_DLQ):
        sqs.create_queue(QueueName=queue)
    ssm = boto3.client("ssm", endpoint_url=moto_url)
    ssm.put_parameter(Name=SECRET_PARAMETER, Value=SECRET, Type="SecureString")
    return {"dynamodb": dynamodb, "ssm": ssm, "events": events}


class LambdaContext:
    function_name = "wspush-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:wspush-test"
    aws_request_id = "5b1a7a4c-0c3e-4a4b-9a43-6f3f4a1f0e11"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


def rows(dynamodb: Any) -> set[tuple[str, str]]:
    items = dynamodb.scan(TableName=TABLE)["Items"]
    return {(i["entityId"]["S"], i["connectionId"]["S"]) for i in items}


def occupancy(dynamodb: Any, topic: str, now: float) -> int:
    """How many subscribers a topic's counter item counts at ``now``."""
    item = dynamodb.get_item(
        TableName=HISTORY_TABLE,
        Key={"channel": {"S": f"occupancy#{topic}"}, "seq": {"N": "0"}},
        ConsistentRead=True,
    ).get("Item", {})
    return sum(
        int(value["N"])
        for name, value in item.items()
        if name.startswith("until") and int(name[len("until") :]) > now
    )


CONNECTION_TTL = 7800


class RecordedEvents:
    """A lifecycle event sink that keeps what was published: (detail-type, detail)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.published.append((detail_type, detail))

    @property
    def types(self) -> list[str]:
        return [detail_type for detail_type, _ in self.published]


def send_frame(
    table: Any,
    channels: ChannelServices,
    connection_id: str,
    entity_id: str,
    frame: dict[str, Any],
    now: int,
) -> Reply:
    """What the message route answers ``frame`` from a connection granted every topic."""
    message = InboundMessage(json.dumps(frame), False, connection_id, entity_id, ("*",))
    return handle_message(
        message, table, now=now, ttl_seconds=CONNECTION_TTL, max_bytes=4096, channels=channels
    )
