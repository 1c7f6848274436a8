"""The embedded AWS emulator: a moto server in this process, with Lambda made real.

moto stores functions but cannot run them without Docker, and its EventBridge cannot
deliver to Lambda targets. Both are routed here to the local Lambda runtime, so the
Invoke API, ``wspush push`` and events put on the bus run the deployed zips.

Step Functions executions run too (moto's ASL interpreter, its
``stepfunctions.execute_state_machine`` setting): Wait states wait, and service
integrations such as ``events:putEvents`` call back into this server, so the events they
put reach the rules and the runtime like any other.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.core.config import default_user_config
from moto.dynamodb.responses import DynamoHandler
from moto.events.models import Rule
from moto.server import ThreadedMotoServer
from moto.stepfunctions.responses import StepFunctionResponse

from wspush_local import lambda_account
from wspush_local.moto_transactions import back_up_touched_items_only
from wspush_local.runtime import InvocationError, InvokeRefused, LocalLambda

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
        # The caller's X-Ray trace header (an SDK inside a function sends it): recursion
        # detection follows the chain through it.
        trace_header = headers.get("X-Amzn-Trace-Id")
        if headers.get("X-Amz-Invocation-Type") == "Event":
            runtime.invoke_async_from_thread(function_name, event, trace_header)
            return b""
        try:
            result = runtime.invoke_from_thread(function_name, event, trace_header=trace_header)
        except InvokeRefused as refused:
            raise lambda_account.refused_invoke(refused) from None
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
    value. Idempotent. Transactions back up only the items they name, as their cost in
    DynamoDB does not grow with the table (``moto_transactions``)."""
    back_up_touched_items_only()
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


def _validate_state_machine_definition(response: StepFunctionResponse) -> str:
    """ValidateStateMachineDefinition, which the Terraform provider calls before it creates
    a state machine and moto lacks: the definition is parsed by moto's own ASL parser,
    the one that will run it."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    try:
        AmazonStateLanguageParser.parse(response._get_param("definition"))
    except Exception as error:  # any parse failure is a diagnostic, as AWS reports it
        diagnostic = {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": str(error),
        }
        return json.dumps({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})
    return json.dumps({"result": "OK", "diagnostics": [], "truncated": False})


def _list_state_machine_versions(response: StepFunctionResponse) -> str:
    """ListStateMachineVersions, which the Terraform provider reads and moto lacks."""
    machine = response.stepfunction_backend.describe_state_machine(
        response._get_param("stateMachineArn")
    )
    versions = [
        {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date}
        for _, version in sorted(machine.versions.items(), reverse=True)
    ]
    return json.dumps({"stateMachineVersions": versions}, default=str)


def answer_terraform_stepfunctions_calls() -> None:
    """Two Step Functions calls the Terraform provider makes that moto lacks. Idempotent."""
    StepFunctionResponse.validate_state_machine_definition = (  # type: ignore[attr-defined]
        _validate_state_machine_definition
    )
    StepFunctionResponse.list_state_machine_versions = (  # type: ignore[attr-defined]
        _list_state_machine_versions
    )


class Emulator:
    def __init__(self, runtime: LocalLambda, deliver: TargetDelivery, port: int) -> None:
        LambdaBackend.invoke = _lambda_invoke(runtime)  # type: ignore[method-assign]
        lambda_account.install(runtime)
        Rule.send_to_targets = _rule_delivery(deliver)  # type: ignore[method-assign]
        serialise_dynamodb()
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        answer_terraform_stepfunctions_calls()
        # moto's state machines reach the other services at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(port)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> None:
        self._server.start()
        log.info("AWS emulator on %s", self.url)

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()
