"""Events the emulator's EventBridge hands to Lambda targets have EventBridge's shape, and
the emulator refuses to start on a busy port instead of waiting forever (docs/parity.md)."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from wspush_local.emulator.server import Emulator, as_delivered
from wspush_local.runtime.service import LocalLambda, environment_for_workers
from wspush_local.stack.claim import PortRequest, bind

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:wspush-test-target"
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html
DOCUMENTED_FIELDS = {
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
}


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """The emulator's URL and the (rule ARN, target, event) of every Lambda delivery."""
    sock = bind(PortRequest("AWS emulator", "--emulator-port", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    runtime = LocalLambda(
        tmp_path_factory.mktemp("functions"), environment_for_workers(url, "us-east-1")
    )
    deliveries: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    arrived = threading.Condition()

    def capture(rule_arn: str, target: dict[str, Any], event: dict[str, Any]) -> None:
        with arrived:
            deliveries.append((rule_arn, target, event))
            arrived.notify_all()

    server = Emulator(runtime, capture, port, sock=sock)
    server.start()
    yield url, deliveries, arrived
    server.stop()
    sock.close()


def _events(url: str) -> Any:
    return boto3.client(
        "events",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_a_lambda_target_gets_the_event_as_eventbridge_sends_it(delivered):
    url, deliveries, arrived = delivered
    # Given a rule with a Lambda target
    events = _events(url)
    events.put_rule(Name="to-lambda", EventPattern=json.dumps({"source": ["wspush.test"]}))
    events.put_targets(Rule="to-lambda", Targets=[{"Id": "fn", "Arn": FUNCTION_ARN}])
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    # When an event with a time of its own is put on the bus
    events.put_events(
        Entries=[
            {
                "Source": "wspush.test",
                "DetailType": "wspush.notification",
                "Detail": json.dumps({"entityId": "alice"}),
                "Time": at,
            }
        ]
    )
    with arrived:
        assert arrived.wait_for(lambda: deliveries, timeout=10)
    # Then the target gets exactly EventBridge's fields, the time in ISO 8601
    _, target, event = deliveries[-1]
    assert target["Arn"] == FUNCTION_ARN
    assert set(event) == DOCUMENTED_FIELDS
    assert "ingestion-time" not in event
    assert event["time"] == "2026-03-04T05:06:07Z"
    assert event["detail"] == {"entityId": "alice"}
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"


def test_moto_epoch_seconds_become_iso_8601_and_ingestion_time_goes():
    before = datetime.now(UTC).replace(microsecond=0)
    event = as_delivered(
        {"version": "0", "id": "x", "time": time.time(), "ingestion-time": time.time()}
    )
    assert set(event) == {"version", "id", "time"}
    stamped = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamped <= datetime.now(UTC)
    # an ISO time (a scheduled event's) is kept as it is
    assert as_delivered({"time": "2026-01-01T00:00:00Z"}) == {"time": "2026-01-01T00:00:00Z"}


def test_the_emulator_refuses_a_busy_port_instead_of_waiting(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        runtime = LocalLambda(tmp_path, environment_for_workers(url, "us-east-1"))
        emulator = Emulator(runtime, lambda *_: None, port)
        failed: list[BaseException] = []

        def start() -> None:
            try:
                emulator.start()
            except RuntimeError as error:
                failed.append(error)

        starter = threading.Thread(target=start, daemon=True)
        starter.start()
        starter.join(timeout=30)
        assert not starter.is_alive(), "the emulator waited forever on a busy port"
        assert failed and str(port) in str(failed[0])
