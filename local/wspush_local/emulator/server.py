"""The embedded AWS emulator: a moto server in this process, with Lambda made real.

moto stores functions but cannot run them without Docker, and its EventBridge cannot
deliver to Lambda targets. Both are routed here to the local Lambda runtime, so the
Invoke API, ``wspush push`` and events put on the bus run the deployed zips.

Step Functions executions run too (moto's ASL interpreter, its
``stepfunctions.execute_state_machine`` setting): Wait states wait, and service
integrations such as ``events:putEvents`` call back into this server, so the events they
put reach the rules and the runtime like any other.

Rules AWS enforces when Terraform applies, and moto does not, are enforced here with AWS's
errors (``enforce_apply_time_rules``), so that a configuration AWS would refuse fails
locally too: the account's API Gateway CloudWatch role for WebSocket access logging (a
fresh emulated account has none), Lambda's 4 KB of environment variables, IAM's
64-character role names and Lambda's permission statement ids.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from moto.apigateway.models import Account, apigateway_backends
from moto.apigatewayv2.exceptions import BadRequestException
from moto.apigatewayv2.models import ApiGatewayV2Backend, Stage
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.awslambda.exceptions import InvalidParameterValueException, ValidationException
from moto.awslambda.models import LambdaBackend
from moto.core.config import default_user_config
from moto.dynamodb.responses import DynamoHandler
from moto.events.models import Rule
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.exceptions import ValidationError
from moto.iam.models import AWSManagedPolicy, IAMBackend, ManagedPolicy
from moto.server import ThreadedMotoServer
from moto.stepfunctions.responses import StepFunctionResponse

from wspush_local.emulator import lambda_account
from wspush_local.emulator.moto_transactions import back_up_touched_items_only
from wspush_local.runtime.service import InvocationError, InvokeRefused, LocalLambda

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


# --- Apply-time rules AWS enforces and moto does not ------------------------------------

# API Gateway's answer to a WebSocket (or REST) stage with access logging while the account
# has no CloudWatch role in the region: https://repost.aws/knowledge-center/api-gateway-cloudwatch-logs
ACCOUNT_LOGGING_ROLE_MISSING = (
    "CloudWatch Logs role ARN must be set in account settings to enable logging"
)
# "Total size of environment variables: 4 KB", measured as the JSON of the variables
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
IAM_ROLE_NAME_MAX_LENGTH = 64
# AddPermission's StatementId: 1-100 characters of ([a-zA-Z0-9-_]+)
# (https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html).
STATEMENT_ID_PATTERN = "([a-zA-Z0-9-_]+)"
STATEMENT_ID_MAX_LENGTH = 100


def _require_account_logging_role(
    backend: ApiGatewayV2Backend, api_id: str, config: dict[str, Any]
) -> None:
    api = backend.get_api(api_id)
    if api.protocol_type != "WEBSOCKET" or not config.get("accessLogSettings"):
        return
    account = apigateway_backends[backend.account_id][backend.region_name].account
    if not account.cloudwatch_role_arn:
        raise BadRequestException(ACCOUNT_LOGGING_ROLE_MISSING)


def _create_stage(backend: ApiGatewayV2Backend, api_id: str, config: dict[str, Any]) -> Stage:
    _require_account_logging_role(backend, api_id, config)
    stage: Stage = backend.get_api(api_id).create_stage(config)
    return stage


def _update_stage(
    backend: ApiGatewayV2Backend, api_id: str, stage_name: str, config: dict[str, Any]
) -> Stage:
    """UpdateStage, which moto lacks: the settings the request names replace the stage's."""
    _require_account_logging_role(backend, api_id, config)
    stage: Stage = backend.get_stage(api_id, stage_name)
    settings = {
        "accessLogSettings": "access_log_settings",
        "autoDeploy": "auto_deploy",
        "clientCertificateId": "client_certificate_id",
        "defaultRouteSettings": "default_route_settings",
        "description": "description",
        "routeSettings": "route_settings",
        "stageVariables": "stage_variables",
    }
    for key, attribute in settings.items():
        if key in config:
            setattr(stage, attribute, config[key])
    stage.updated = datetime.now()
    return stage


def _update_stage_response(response: ApiGatewayV2Response) -> tuple[int, dict[str, str], str]:
    api_id, stage_name = response.path.split("/")[-3], unquote(response.path.split("/")[-1])
    stage = _update_stage(
        response.apigatewayv2_backend, api_id, stage_name, json.loads(response.body)
    )
    return 200, {}, json.dumps(stage.to_json())


def _reset_account_role(apply_patch_operations: Callable[..., Account]) -> Callable[..., Account]:
    """UpdateAccount's ``replace /cloudwatchRoleArn`` with no value clears the role, which is
    how ``reset_on_delete`` resets it; moto expects a value."""

    @functools.wraps(apply_patch_operations)
    def apply(account: Account, patch_operations: list[dict[str, Any]]) -> Account:
        operations = [
            {"value": None, **op} if op.get("path") == "/cloudwatchRoleArn" else op
            for op in patch_operations
        ]
        return apply_patch_operations(account, operations)

    return apply


def _require_small_environment(environment: dict[str, Any] | None) -> None:
    variables = (environment or {}).get("Variables") or {}
    measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > LAMBDA_ENVIRONMENT_LIMIT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided exceeded the 4KB limit. "
            f"String measured: {measured}"
        )


def _require_valid_statement_id(raw: str) -> None:
    statement_id = str(json.loads(raw or "{}").get("StatementId", ""))
    if len(statement_id) > STATEMENT_ID_MAX_LENGTH:
        raise ValidationException(
            statement_id,
            "statementId",
            f"Member must have length less than or equal to {STATEMENT_ID_MAX_LENGTH}",
        )
    if not re.fullmatch(STATEMENT_ID_PATTERN, statement_id):
        raise ValidationException(
            statement_id,
            "statementId",
            f"Member must satisfy regular expression pattern: {STATEMENT_ID_PATTERN}",
        )


def _require_short_role_name(role_name: str) -> None:
    if len(role_name) > IAM_ROLE_NAME_MAX_LENGTH:
        raise ValidationError(
            f"1 validation error detected: Value '{role_name}' at 'roleName' failed to "
            "satisfy constraint: Member must have length less than or equal to "
            f"{IAM_ROLE_NAME_MAX_LENGTH}"
        )


def _checked(method: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
    """``method``, refusing first what ``check`` raises for (it gets the same arguments)."""

    @functools.wraps(method)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        check(*args, **kwargs)
        return method(self, *args, **kwargs)

    checked.enforced = True  # type: ignore[attr-defined]
    return checked


def enforce_apply_time_rules() -> None:
    """Make moto refuse what AWS refuses when a configuration is applied. Idempotent."""
    if getattr(LambdaBackend.create_function, "enforced", False):
        return
    Account.apply_patch_operations = _reset_account_role(  # type: ignore[method-assign]
        Account.apply_patch_operations
    )
    ApiGatewayV2Backend.create_stage = _create_stage  # type: ignore[method-assign]
    ApiGatewayV2Backend.update_stage = _update_stage  # type: ignore[attr-defined]
    ApiGatewayV2Response.update_stage = _update_stage_response  # type: ignore[attr-defined]
    LambdaBackend.create_function = _checked(  # type: ignore[method-assign]
        LambdaBackend.create_function,
        lambda spec: _require_small_environment(spec.get("Environment")),
    )
    LambdaBackend.update_function_configuration = _checked(  # type: ignore[method-assign]
        LambdaBackend.update_function_configuration,
        lambda function_name, qualifier, body: _require_small_environment(body.get("Environment")),
    )
    LambdaBackend.add_permission = _checked(  # type: ignore[method-assign]
        LambdaBackend.add_permission,
        lambda function_name, qualifier, raw: _require_valid_statement_id(raw),
    )
    IAMBackend.create_role = _checked(  # type: ignore[method-assign]
        IAMBackend.create_role,
        lambda role_name, *args, **kwargs: _require_short_role_name(role_name),
    )


# The AWS managed policies the configurations attach. moto knows none unless told to load
# all of them (about 1,600, for every account it creates).
AWS_MANAGED_POLICIES = ("AmazonAPIGatewayPushToCloudWatchLogs",)


def _aws_managed_policies(backend: IAMBackend) -> list[ManagedPolicy]:
    known = json.loads(aws_managed_policies_data)
    return [
        AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, known[name])
        for name in AWS_MANAGED_POLICIES
    ]


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
        enforce_apply_time_rules()
        IAMBackend._init_aws_policies = _aws_managed_policies  # type: ignore[method-assign]
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
