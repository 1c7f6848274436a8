"""The local stack stages the functions' zip in the emulator's S3 and deploys the root
configuration from it (the provider creates S3-sourced functions in parallel)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import boto3
from moto import mock_aws

from wspush_local.stack.artifacts import ARTIFACT_BUCKET, StagedPackage
from wspush_local.stack.run import Stack, StackOptions


def _zip(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_the_key_names_the_zips_content(tmp_path):
    staged = StagedPackage.of(_zip(tmp_path / "wspush.zip", b"code v1"))
    assert staged.key == f"wspush/{hashlib.sha256(b'code v1').hexdigest()}.zip"
    assert json.loads(staged.variable()) == {"s3_bucket": ARTIFACT_BUCKET, "s3_key": staged.key}
    assert StagedPackage.of(_zip(tmp_path / "wspush.zip", b"code v2")).key != staged.key


@mock_aws
def test_upload_creates_the_bucket_and_keeps_only_the_current_zip(tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    first = StagedPackage.of(_zip(tmp_path / "v1.zip", b"code v1"))
    first.upload(s3)
    first.upload(s3)  # an unchanged zip: nothing to do, no error
    assert s3.get_object(Bucket=ARTIFACT_BUCKET, Key=first.key)["Body"].read() == b"code v1"

    second = StagedPackage.of(_zip(tmp_path / "v2.zip", b"code v2"))
    second.upload(s3)
    listed = s3.list_objects_v2(Bucket=ARTIFACT_BUCKET)["Contents"]
    assert [item["Key"] for item in listed] == [second.key]


@mock_aws
def test_a_function_from_the_staged_object_has_the_zips_code_sha256(tmp_path):
    # read_functions finds a function's zip in dist/ by CodeSha256: from S3 it must be
    # the same hash as a ZipFile upload of the same bytes.
    content = b"PK\x05\x06" + b"\x00" * 18  # an empty zip
    staged = StagedPackage.of(_zip(tmp_path / "wspush.zip", content))
    staged.upload(boto3.client("s3", region_name="us-east-1"))
    role = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="r", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    created = boto3.client("lambda", region_name="us-east-1").create_function(
        FunctionName="f",
        Runtime="python3.12",
        Role=role,
        Handler="h.handler",
        Code={"S3Bucket": staged.bucket, "S3Key": staged.key},
    )
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(content).digest()).decode()


def _stack(tmp_path: Path, **options: object) -> Stack:
    stack = Stack(StackOptions(work_dir=tmp_path / ".wspush", **options))  # type: ignore[arg-type]
    stack.root = tmp_path
    return stack


def test_the_root_configuration_is_deployed_from_the_staged_zip(tmp_path):
    _zip(tmp_path / "dist" / "wspush.zip", b"code")
    stack = _stack(tmp_path)
    variables = stack._variables("http://127.0.0.1:1")
    assert stack.staged_package == StagedPackage.of(tmp_path / "dist" / "wspush.zip")
    assert json.loads(variables["lambda_package"]) == {
        "s3_bucket": ARTIFACT_BUCKET,
        "s3_key": stack.staged_package.key,
    }


def test_an_example_or_a_package_of_the_users_is_not_staged(tmp_path):
    _zip(tmp_path / "dist" / "wspush.zip", b"code")
    example = _stack(tmp_path, example="order_status")
    assert "lambda_package" not in example._variables("http://127.0.0.1:1")
    assert example.staged_package is None
    own = _stack(tmp_path, variables={"lambda_package": '{"path": "x.zip"}'})
    assert own._variables("http://127.0.0.1:1")["lambda_package"] == '{"path": "x.zip"}'
    assert own.staged_package is None
