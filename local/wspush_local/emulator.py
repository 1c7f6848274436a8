"""The embedded AWS emulator: a moto server in this process, with Lambda made real.

moto stores functions but cannot run them without Docker, and its EventBridge cannot
deliver to Lambda targets. Both are routed here to the local Lambda runtime, so the
Invoke API, ``wspush push`` and events put on the bus run the deployed zips.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.dynamodb.responses import DynamoHandler
from moto.events.models import Rule
from moto.server import ThreadedMotoServer

from wspush_local.runtime import InvocationError, LocalLambda

log = logging.getLogger("wspush.emulator")

# Called with (rule ARN, target, event) for every event a rule sends to a Lambda target.
TargetDelivery = Callable[[str, dict[str, Any], dict[str, Any]], None]


def _lambda_invoke(runtime: LocalLambda) -> Callable[..., bytes]:
    def invoke(
        backend: LambdaBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        backend.get_function(function_name, qualifier)  # 404 for an unknown function, as moto does
        event = json.loads(body) if body else {}
        if headers.get("X-Amz-Invocation-Type") == "Event":
            runtime.invoke_async_from_thread(function_name, event)
            return b""
        try:
            result = runtime.invoke_from_thread(function_name, event)
        except InvocationError as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {"errorType": error.error_type, "errorMessage": error.message}
            ).encode()
        return json.dumps(result).encode()

    return invoke


# What EventBridge delivers to a target with no input transformer (moto adds its own
# "ingestion-time").
EVENT_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)


def _takes_whole_event(target: dict[str, Any]) -> bool:
    service = target["Arn"].split(":")[2] if target["Arn"].count(":") >= 5 else ""
    return service in ("sqs", "logs") and not (
        target.get("InputTransformer") or target.get("Input") or target.get("InputPath")
    )


def _rule_delivery(deliver: TargetDelivery) -> Callable[..., None]:
    original = Rule.send_to_targets

    def send_to_targets(rule: Rule, event: dict[str, Any], transform_input: bool = True) -> None:
        if not rule.event_pattern.matches_event(event):
            return
        lambda_targets = [t for t in rule.targets if ":lambda:" in t["Arn"]]
        for target in lambda_targets:
            deliver(rule.arn, target, event)
        # A target with no input transformer gets the whole event, as EventBridge sends it;
        # moto's default template would drop its "account".
        whole = [t for t in rule.targets if _takes_whole_event(t) and t not in lambda_targets]
        others = [t for t in rule.targets if t not in lambda_targets and t not in whole]
        as_sent = {key: value for key, value in event.items() if key in EVENT_KEYS}
        for targets, sent, transform in ((whole, as_sent, False), (others, event, transform_input)):
            if targets:
                clone = copy.copy(rule)
                clone.targets = targets
                original(clone, sent, transform)

    return send_to_targets


def serialise_dynamodb() -> None:
    """Run moto's DynamoDB requests one at a time. DynamoDB applies every write to an item
    atomically (an ``ADD`` counter, ``if_not_exists``, a condition); moto reads, changes
    and stores the item without a lock, so two concurrent updates could both read the old
    value. Idempotent."""
    call_action = DynamoHandler.call_action
    if getattr(call_action, "serialised", False):
        return
    lock = threading.Lock()

    @functools.wraps(call_action)
    def serialised(self: DynamoHandler) -> Any:
        with lock:
            return call_action(self)

    serialised.serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = serialised  # type: ignore[method-assign]


class Emulator:
    def __init__(self, runtime: LocalLambda, deliver: TargetDelivery, port: int) -> None:
        LambdaBackend.invoke = _lambda_invoke(runtime)  # type: ignore[method-assign]
        Rule.send_to_targets = _rule_delivery(deliver)  # type: ignore[method-assign]
        serialise_dynamodb()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> None:
        self._server.start()
        host, port = self._server.get_host_and_port()
        log.info("AWS emulator on http://%s:%s", host, port)

    def stop(self) -> None:
        self._server.stop()
