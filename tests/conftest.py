"""Settings every test shares: a fixed region, fake credentials, tracing off; and a moto
server standing in for AWS, for the tests that need one."""

import json
import os
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "wspush",
        "POWERTOOLS_METRICS_NAMESPACE": "wspush",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "STAGE_NAME": "test",
    }
)
for leaked in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(leaked, None)

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


@pytest.fixture(scope="session")
def moto_url():
    from wspush_local.emulator.server import serialise_dynamodb

    serialise_dynamodb()  # each write atomic, as in DynamoDB (and in the local stack)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
