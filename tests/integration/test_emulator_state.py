"""The emulator's state saved to a file and loaded back: what Terraform created is there
again, usable, and a damaged file is refused without touching the emulator."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import boto3
import pytest
from moto import mock_aws

from wspush_local.emulator import state

REGION = "us-east-1"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def _create_some_of_everything() -> dict[str, str]:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps({}))["Role"]["Arn"]
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="fn",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip()},
    )
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="connections",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="dlq")["QueueUrl"]
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/wspush/secret", Value="s3cret", Type="SecureString"
    )
    key = boto3.client("kms", region_name=REGION).create_key(
        KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY"
    )["KeyMetadata"]["KeyId"]
    boto3.client("events", region_name=REGION).put_rule(
        Name="schedule", ScheduleExpression="rate(1 minute)"
    )
    api = boto3.client("apigatewayv2", region_name=REGION).create_api(
        Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    return {"queue": queue, "key": key, "api": api, "role": role}


@mock_aws
def test_saved_state_loads_back_whole_and_usable(tmp_path):
    created = _create_some_of_everything()
    path = tmp_path / "emulator.pickle"
    state.save(path)
    state.reset()
    assert boto3.client("lambda", region_name=REGION).list_functions()["Functions"] == []

    state.load(path)
    lambda_client = boto3.client("lambda", region_name=REGION)
    assert (
        lambda_client.get_function(FunctionName="fn")["Configuration"]["Role"] == (created["role"])
    )
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.put_item(TableName="connections", Item={"pk": {"S": "c1"}})
    assert dynamodb.get_item(TableName="connections", Key={"pk": {"S": "c1"}})["Item"]
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.send_message(QueueUrl=created["queue"], MessageBody="x")
    assert sqs.receive_message(QueueUrl=created["queue"])["Messages"][0]["Body"] == "x"
    parameter = boto3.client("ssm", region_name=REGION).get_parameter(
        Name="/wspush/secret", WithDecryption=True
    )
    assert parameter["Parameter"]["Value"] == "s3cret"
    signed = boto3.client("kms", region_name=REGION).sign(
        KeyId=created["key"], Message=b"m", SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256"
    )
    assert signed["Signature"]
    events = boto3.client("events", region_name=REGION)
    assert [r["Name"] for r in events.list_rules()["Rules"]] == ["schedule"]
    apis = boto3.client("apigatewayv2", region_name=REGION).get_apis()["Items"]
    assert [a["ApiId"] for a in apis] == [created["api"]]


@mock_aws
@pytest.mark.parametrize(
    "contents",
    [b"", b"not a pickle", pickle.dumps({"format": -1, "backends": {}})],
    ids=["empty", "garbage", "other-format"],
)
def test_a_damaged_file_is_refused_and_the_emulator_is_untouched(tmp_path, contents):
    _create_some_of_everything()
    path = tmp_path / "emulator.pickle"
    path.write_bytes(contents)
    with pytest.raises(state.EmulatorStateError):
        state.load(path)
    assert [
        f["FunctionName"]
        for f in boto3.client("lambda", region_name=REGION).list_functions()["Functions"]
    ] == ["fn"]


@mock_aws
def test_a_truncated_save_is_refused(tmp_path):
    _create_some_of_everything()
    path = tmp_path / "emulator.pickle"
    state.save(path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(state.EmulatorStateError, match="cannot load"):
        state.load(path)
