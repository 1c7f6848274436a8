"""The rules AWS enforces when a configuration is applied, which moto alone does not: the
local stack's emulator refuses the same calls with AWS's errors (docs/parity.md)."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError

from wspush_local.emulator.server import Emulator
from wspush_local.runtime.service import LocalLambda, environment_for_workers
from wspush_local.stack.run import free_port

ROLE_ARN = "arn:aws:iam::123456789012:role/wspush-test"
LOG_GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/test"


@pytest.fixture(scope="module")
def emulator_url(tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runtime = LocalLambda(
        tmp_path_factory.mktemp("functions"), environment_for_workers(url, "us-east-1")
    )
    server = Emulator(runtime, lambda *_: None, port)
    server.start()
    # The role every function here runs with (Lambda checks it exists)
    trust = {"Version": "2012-10-17", "Statement": []}
    _client("iam", url).create_role(
        RoleName="wspush-test", AssumeRolePolicyDocument=json.dumps(trust)
    )
    yield url
    server.stop()


def _client(service: str, url: str, region: str = "us-east-1"):
    return boto3.client(service, endpoint_url=url, region_name=region)


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


# --- (i) the account's CloudWatch role for WebSocket access logging -----------------------


def test_a_logged_websocket_stage_needs_the_accounts_cloudwatch_role(emulator_url):
    # Given a fresh emulated account (in a region nothing else uses)
    apigatewayv2 = _client("apigatewayv2", emulator_url, "eu-north-1")
    apigateway = _client("apigateway", emulator_url, "eu-north-1")
    assert not apigateway.get_account().get("cloudwatchRoleArn")
    api_id = apigatewayv2.create_api(
        Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    logged = {"DestinationArn": LOG_GROUP_ARN, "Format": "$context.requestId"}

    # When a stage with access logging is created, Then API Gateway's error answers
    with pytest.raises(ClientError) as refused:
        apigatewayv2.create_stage(ApiId=api_id, StageName="prod", AccessLogSettings=logged)
    assert _error(refused) == (
        "BadRequestException",
        "CloudWatch Logs role ARN must be set in account settings to enable logging",
    )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert apigatewayv2.get_stages(ApiId=api_id)["Items"] == []

    # And turning logging on for an existing stage is refused the same way
    apigatewayv2.create_stage(ApiId=api_id, StageName="quiet")
    with pytest.raises(ClientError) as refused_update:
        apigatewayv2.update_stage(ApiId=api_id, StageName="quiet", AccessLogSettings=logged)
    assert _error(refused_update)[0] == "BadRequestException"

    # When the account's role is set (what aws_api_gateway_account does)
    apigateway.update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ROLE_ARN}]
    )
    # Then both succeed, and the update is kept
    apigatewayv2.create_stage(ApiId=api_id, StageName="prod", AccessLogSettings=logged)
    apigatewayv2.update_stage(ApiId=api_id, StageName="quiet", AccessLogSettings=logged)
    stage = apigatewayv2.get_stage(ApiId=api_id, StageName="quiet")
    assert stage["AccessLogSettings"] == logged

    # And resetting the role (reset_on_delete sends no value) makes logging refused again
    apigateway.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn"}])
    assert not apigateway.get_account().get("cloudwatchRoleArn")
    with pytest.raises(ClientError):
        apigatewayv2.create_stage(ApiId=api_id, StageName="again", AccessLogSettings=logged)


def test_http_api_stages_log_without_the_role(emulator_url):
    # HTTP APIs write their access logs without the account's CloudWatch role.
    apigatewayv2 = _client("apigatewayv2", emulator_url, "eu-south-1")
    api_id = apigatewayv2.create_api(Name="http", ProtocolType="HTTP")["ApiId"]
    logged = {"DestinationArn": LOG_GROUP_ARN, "Format": "$context.requestId"}
    apigatewayv2.create_stage(ApiId=api_id, StageName="prod", AccessLogSettings=logged)


# --- (ii) Lambda's 4 KB of environment variables -----------------------------------------


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _environment(size: int) -> dict[str, str]:
    """Variables whose JSON ({"VALUE":"xx…"}) is exactly ``size`` bytes."""
    overhead = len(json.dumps({"VALUE": ""}, separators=(",", ":")))
    return {"VALUE": "x" * (size - overhead)}


def _create_function(lambda_client, name: str, variables: dict[str, str]):
    return lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=ROLE_ARN,
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
        Environment={"Variables": variables},
    )


def test_environment_variables_over_4_kb_are_refused(emulator_url):
    lambda_client = _client("lambda", emulator_url)
    # Exactly 4 KB is allowed
    _create_function(lambda_client, "env-at-the-limit", _environment(4096))
    # One byte more is refused, with Lambda's message and what it measured
    with pytest.raises(ClientError) as refused:
        _create_function(lambda_client, "env-over-the-limit", _environment(4097))
    code, message = _error(refused)
    assert code == "InvalidParameterValueException"
    assert message.startswith(
        "Lambda was unable to configure your environment variables because the environment "
        'variables you have provided exceeded the 4KB limit. String measured: {"VALUE":"xxx'
    )
    assert "env-over-the-limit" not in [
        f["FunctionName"] for f in lambda_client.list_functions()["Functions"]
    ]

    # And an update that grows them past it is refused too; the function keeps its own
    with pytest.raises(ClientError) as refused_update:
        lambda_client.update_function_configuration(
            FunctionName="env-at-the-limit", Environment={"Variables": _environment(5000)}
        )
    assert _error(refused_update)[0] == "InvalidParameterValueException"
    stored = lambda_client.get_function_configuration(FunctionName="env-at-the-limit")
    assert stored["Environment"]["Variables"] == _environment(4096)


def test_the_limit_counts_bytes_not_characters(emulator_url):
    lambda_client = _client("lambda", emulator_url)
    # 2,100 two-byte characters: under 4,096 characters, over 4 KB
    with pytest.raises(ClientError) as refused:
        _create_function(lambda_client, "env-multibyte", {"VALUE": "é" * 2100})
    assert _error(refused)[0] == "InvalidParameterValueException"


# --- (iii) IAM's 64-character role names -------------------------------------------------


def test_role_names_over_64_characters_are_refused(emulator_url):
    iam = _client("iam", emulator_url)
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    iam.create_role(RoleName="r" * 64, AssumeRolePolicyDocument=trust)
    with pytest.raises(ClientError) as refused:
        iam.create_role(RoleName="r" * 65, AssumeRolePolicyDocument=trust)
    assert _error(refused) == (
        "ValidationError",
        f"1 validation error detected: Value '{'r' * 65}' at 'roleName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64",
    )


# --- (iv) Lambda permission statement ids -------------------------------------------------


@pytest.mark.parametrize(
    ("statement_id", "constraint"),
    [
        (
            "AllowApiGatewayRoute-order.place",
            "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
        ),
        (
            "AllowApiGatewayRoute-$default",
            "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
        ),
        ("s" * 101, "Member must have length less than or equal to 100"),
    ],
    ids=["dot", "dollar", "too-long"],
)
def test_statement_ids_outside_lambdas_pattern_are_refused(
    emulator_url, request, statement_id, constraint
):
    lambda_client = _client("lambda", emulator_url)
    name = f"permissions-{request.node.callspec.id}"
    _create_function(lambda_client, name, {})
    with pytest.raises(ClientError) as refused:
        lambda_client.add_permission(
            FunctionName=name,
            StatementId=statement_id,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
        )
    assert _error(refused) == (
        "ValidationException",
        f"1 validation error detected: Value '{statement_id}' at 'statementId' failed to satisfy constraint: {constraint}",
    )
    # The ids wspush derives pass
    lambda_client.add_permission(
        FunctionName=name,
        StatementId="AllowApiGatewayRoute-order_place-0a1b2c3d",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
    )
