"""Lambda's account rules as the local stack enforces them, through the emulator's Invoke
API and the runtime running real zips: recursive loop detection (following the X-Ray
trace header the SDK sends from inside a function), the recursion config that turns it
off, and the account's concurrency, answered with TooManyRequestsException."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from wspush_local.emulator.server import Emulator
from wspush_local.gateway.deployment import read_functions
from wspush_local.runtime.service import RECURSION_LIMIT, LocalLambda, environment_for_workers
from wspush_local.stack.run import free_port

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"

HANDLERS = """
import json, time
from concurrent.futures import ThreadPoolExecutor

import boto3

from wspush.dal.shard_invoker import ShardInvoker, shard_client_config
from wspush.models.shard import ShardThrottled


def chain(event, context):
    # Each invocation starts the next, asynchronously, as a push hands on.
    if event["n"] >= event["until"]:
        raise RuntimeError(f"reached {event['n']}")
    boto3.client("lambda").invoke(
        FunctionName=context.function_name,
        InvocationType="Event",
        Payload=json.dumps({**event, "n": event["n"] + 1}),
    )


def fan(event, context):
    # Shards as the push runs them: synchronous self-invokes through the ShardInvoker.
    if "sleep" in event:
        time.sleep(event["sleep"])
        return {"slept": event["sleep"]}
    client = boto3.client("lambda", config=shard_client_config(event["fan"]))
    invoker = ShardInvoker(client, context.function_name)

    def one(_):
        try:
            invoker.run({"sleep": 1.5})
            return "ran"
        except ShardThrottled:
            return "throttled"

    with ThreadPoolExecutor(event["fan"]) as pool:
        return sorted(pool.map(one, range(event["fan"])))
"""


def _package(tmp_path: Path) -> Path:
    """The handlers above with the wspush package beside them, as in the deployed zips."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLERS)
        for source in (ROOT / "lambdas" / "wspush").rglob("*.py"):
            archive.write(source, source.relative_to(ROOT / "lambdas").as_posix())
    package = tmp_path / "app.zip"
    package.write_bytes(buffer.getvalue())
    return package


@pytest.fixture
def account(tmp_path):
    """An emulated account with a concurrency limit of 3, two functions deployed to it
    (as Terraform would: moto holds them, the runtime runs their zip), and the records
    of failed asynchronous invocations."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    records: list[dict] = []
    runtime = LocalLambda(
        tmp_path / "functions",
        environment_for_workers(url, REGION),
        dead_letter=lambda target, record, attributes: records.append(record),
        account_concurrency=3,
    )
    server = Emulator(runtime, lambda *delivery: None, port)
    server.start()
    # moto's backends live in this process: start from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local")
    lambda_client = session.client("lambda", endpoint_url=url, region_name=REGION)
    iam = session.client("iam", endpoint_url=url, region_name=REGION)
    role = iam.create_role(
        RoleName="app",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    package = _package(tmp_path)
    dist = tmp_path / "dist"
    dist.mkdir()
    manifest = {}
    for name in ("chain", "fan"):
        created = lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler=f"app.{name}",
            Code={"ZipFile": package.read_bytes()},
            Timeout=30,
        )
        lambda_client.put_function_event_invoke_config(
            FunctionName=name,
            MaximumRetryAttempts=0,
            DestinationConfig={
                "OnFailure": {"Destination": f"arn:aws:sqs:{REGION}:123456789012:dlq"}
            },
        )
        manifest[name] = {"zip": package.name, "code_sha256": created["CodeSha256"]}
    (dist / package.name).write_bytes(package.read_bytes())
    (dist / "manifest.json").write_text(json.dumps(manifest))

    def deploy() -> None:
        """Register the functions as the stack does: read back from the emulator."""
        for spec in read_functions(lambda_client, ["chain", "fan"], dist):
            runtime.register(spec, concurrency=8)

    yield lambda_client, runtime, deploy, records
    server.stop()


async def _until(condition, seconds: float = 60.0) -> None:
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def _chain(account, until: int) -> dict:
    """Deploy, start a chain of asynchronous self-invocations that would end at ``until``,
    and return the one invocation record it leaves at the destination."""
    _, runtime, deploy, records = account
    runtime.loop = asyncio.get_running_loop()
    deploy()
    try:
        runtime.invoke_async("chain", {"n": 1, "until": until})
        await _until(lambda: records)
    finally:
        await runtime.stop()
    [record] = records
    return record


async def test_a_chain_of_invocations_is_stopped_after_lambdas_limit(account):
    # Given a function whose recursion config is Lambda's default (Terminate)
    lambda_client = account[0]
    config = lambda_client.get_function_recursion_config(FunctionName="chain")
    assert config["RecursiveLoop"] == "Terminate"
    # When it starts a chain of invocations of itself, longer than the limit
    record = await _chain(account, until=RECURSION_LIMIT + 10)
    # Then the invocation after the limit never ran: its event went to the destination
    assert record["requestPayload"]["n"] == RECURSION_LIMIT + 1
    assert record["responsePayload"]["errorType"] == "RecursiveInvocationException"


async def test_a_function_whose_recursion_config_allows_it_runs_on(account):
    # Given the recursion config Terraform's aws_lambda_function_recursion_config sets
    account[0].put_function_recursion_config(FunctionName="chain", RecursiveLoop="Allow")
    # When the chain is longer than the limit
    record = await _chain(account, until=RECURSION_LIMIT + 4)
    # Then it ran to its end (which fails on purpose, to be seen at the destination)
    assert record["requestPayload"]["n"] == RECURSION_LIMIT + 4
    assert record["responsePayload"]["errorMessage"] == f"reached {RECURSION_LIMIT + 4}"


def test_a_recursion_config_outside_lambdas_values_is_refused(account):
    lambda_client, *_ = account
    with pytest.raises(ClientError) as refused:
        lambda_client.put_function_recursion_config(FunctionName="chain", RecursiveLoop="Never")
    assert refused.value.response["Error"]["Code"] == "ValidationException"


async def test_synchronous_invokes_over_the_account_concurrency_are_throttled(account):
    # Given an account that runs at most 3 invocations at once
    lambda_client, runtime, deploy, _ = account
    runtime.loop = asyncio.get_running_loop()
    deploy()
    settings = lambda_client.get_account_settings()["AccountLimit"]
    assert settings["ConcurrentExecutions"] == settings["UnreservedConcurrentExecutions"] == 3
    hold: list[asyncio.Future] = []
    try:
        # When one invocation starts four others at once and waits for them
        outcome = await asyncio.to_thread(
            lambda_client.invoke, FunctionName="fan", Payload=json.dumps({"fan": 4})
        )
        # Then two of them ran beside it, and the shard invoker saw the other two throttled
        assert json.loads(outcome["Payload"].read()) == ["ran", "ran", "throttled", "throttled"]
        # And the API answers as Lambda's does: 429, with the reason (three invocations
        # hold the account's three executions for longer than the test needs them)
        await _until(lambda: runtime.executions == 0)
        hold += [asyncio.ensure_future(runtime.invoke("fan", {"sleep": 60})) for _ in range(3)]
        await _until(lambda: runtime.executions == 3)
        with pytest.raises(ClientError) as throttled:
            await asyncio.to_thread(
                lambda_client.invoke, FunctionName="fan", Payload=json.dumps({"sleep": 0})
            )
        error = throttled.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error["Error"]["Code"] == "TooManyRequestsException"
        assert error["Reason"] == "ConcurrentInvocationLimitExceeded"
    finally:
        await runtime.stop()
        await asyncio.gather(*hold, return_exceptions=True)  # ended by the stop
