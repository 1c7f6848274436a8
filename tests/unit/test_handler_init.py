"""Importing a handler (a cold start) leaves the garbage collector on, with init frozen."""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import gc, json, importlib, sys
importlib.import_module(sys.argv[1])
print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


@pytest.mark.parametrize(
    "handler", ["authorizer", "connect", "disconnect", "message", "publish", "push", "receipts"]
)
def test_init_turns_the_collector_back_on_and_freezes_what_it_built(handler):
    env = {
        **os.environ,
        "CONNECTIONS_TABLE": "t",
        "CONNECTIONS_ENDPOINT": "https://x.execute-api.us-east-1.amazonaws.com/prod",
        "TOKEN_SECRET_PARAMETER": "/p",
        "HISTORY_TABLE": "h",
        "LIFECYCLE_EVENT_BUS": "bus",
        "PUSH_EVENT_BUS": "bus",
        "ACK_TIMEOUT_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "f",  # Lambda sets it for every function
        "PUSH_FUNCTION_NAME": "wspush-prod-push",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE, f"wspush.handlers.{handler}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    state = json.loads(out)
    assert state["enabled"] is True
    assert state["frozen"] > 10_000
