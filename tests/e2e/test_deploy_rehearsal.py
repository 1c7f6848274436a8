"""The README's AWS path, rehearsed: from a clean copy of the checkout, `make deploy`,
`terraform output`, a real client on the deployment, `make destroy`, unattended
(TF_CLI_ARGS_apply=-auto-approve), against a moto server standing in for the AWS account
(the local stack's emulator, whose Lambda runs the deployed zips), with all state in a
throwaway directory.

The account is brand new: API Gateway has no CloudWatch role, so the first `make deploy`
is stopped by its preflight, and `make account-logging` is the fix it names.

The copy holds what a clone holds (tracked and new files, no build outputs, no state, no
.terraform); only the virtualenv and the downloaded Lambda dependencies are shared with
this checkout, to keep the rehearsal short (a build from scratch at another path is
tests/integration/test_build.py's job).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
import websockets

from tests.e2e.conftest import ROOT
from wspush.logic.tokens import issue, parse_secrets
from wspush_local.emulator.scheduler import QueueSender, RuleTargets
from wspush_local.emulator.server import Emulator
from wspush_local.gateway.websocket import Limits
from wspush_local.runtime.service import LocalLambda, environment_for_workers
from wspush_local.stack.project import lost_connection
from wspush_local.stack.run import clients_for, free_port, gateway_for_deployment, serve_app

# A new account's Lambda concurrency: less than one push's coordinator and ten shards.
NEW_ACCOUNT_CONCURRENCY = 10


def _clean_checkout(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    shutil.copytree(ROOT / "build" / "lambda-deps", target / "build" / "lambda-deps")
    return target


@pytest.fixture
def emulator(tmp_path):
    """The stand-in account: moto, with Lambda invokes run from the deployed zips."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sqs = boto3.client("sqs", endpoint_url=url, region_name="us-east-1")
    runtime = LocalLambda(
        tmp_path / "functions",
        environment_for_workers(url, "us-east-1"),
        dead_letter=QueueSender(sqs),
        account_concurrency=NEW_ACCOUNT_CONCURRENCY,
    )
    server = Emulator(runtime, RuleTargets(runtime, QueueSender(sqs)).deliver, port)
    server.start()
    yield server, runtime
    server.stop()


async def _client_on_the_deployment(
    outputs: dict, runtime: LocalLambda, emulator_url: str, dist: Path
) -> None:
    """Serve the deployment through the local gateway; a client connects with a token
    signed by the deployed secret, pings, and receives a push sent through Lambda."""
    runtime.loop = asyncio.get_running_loop()
    clients = clients_for(emulator_url)
    port = free_port()
    stage = outputs["stage_name"]
    connections_url = f"http://127.0.0.1:{port}/{stage}"
    gateway = gateway_for_deployment(outputs, clients, runtime, dist, connections_url, Limits())
    runner = await serve_app(gateway.app, port)
    try:
        parameter = clients["ssm"].get_parameter(
            Name=outputs["token_secret_parameter_name"], WithDecryption=True
        )
        token = issue("rehearsal", parse_secrets(parameter["Parameter"]["Value"])[0], 300)
        async with websockets.connect(f"ws://127.0.0.1:{port}/{stage}?token={token}") as ws:
            await ws.send(json.dumps({"action": "ping"}))
            pong = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert pong["type"] == "pong" and pong["connectionId"]
            request = {"entityId": "rehearsal", "payload": {"text": "deployed"}}
            response = await asyncio.to_thread(
                clients["lambda"].invoke,
                FunctionName=outputs["function_names"]["push"],
                Payload=json.dumps(request).encode(),
            )
            assert json.loads(response["Payload"].read())["sent"] == 1
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert (frame["type"], frame["data"]) == ("notification", {"text": "deployed"})
    finally:
        await gateway.close_all()
        await runner.cleanup()
        await runtime.stop()


def _make(checkout: Path, target: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    """make deploy/destroy; run again, as the local stack does, if only a connection to the
    emulator broke (Terraform converges, so the rerun finishes what the first run left)."""
    for _attempt in range(2):
        run = subprocess.run(
            ["make", target], cwd=checkout, env=environment, capture_output=True, text=True
        )
        if run.returncode == 0 or not lost_connection(run.stdout + run.stderr):
            break
    return run


def _outputs(checkout: Path, environment: dict[str, str]) -> dict:
    raw = subprocess.run(
        ["terraform", "output", "-json"],
        cwd=checkout / "terraform",
        env={**environment, "TF_CLI_CONFIG_FILE": str(checkout / "build" / "terraform.rc")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name: value["value"] for name, value in json.loads(raw).items()}


# Four Terraform runs and a refused one, each planning ~100 resources: minutes on 2 cores.
@pytest.mark.timeout(900)
def test_make_deploy_then_make_destroy_from_a_clean_checkout(tmp_path, emulator):
    # Given a clean checkout whose terraform.tfvars points at the stand-in account
    server, runtime = emulator
    moto_url = server.url
    checkout = _clean_checkout(tmp_path / "wspush")
    tfvars = checkout / "terraform" / "terraform.tfvars"
    settings = [
        f'emulator_endpoint = "{moto_url}"',
        # moto has no saved Logs Insights queries (PutQueryDefinition)
        "monitoring_enabled = false",
    ]
    tfvars.write_text("\n".join(settings) + "\n")
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_", "MAKE", "MFLAGS", "AWS_ENDPOINT"))
    }
    environment.update(
        {
            "TF_CLI_ARGS_apply": "-auto-approve",
            "AWS_ACCESS_KEY_ID": "rehearsal",
            "AWS_SECRET_ACCESS_KEY": "rehearsal",
            "AWS_REGION": "us-east-1",
        }
    )
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1")
    lambda_client = boto3.client("lambda", endpoint_url=moto_url, region_name="us-east-1")
    apigateway = boto3.client("apigateway", endpoint_url=moto_url, region_name="us-east-1")

    # When it is deployed exactly as the README says to an account that never set
    # API Gateway's CloudWatch role
    refused_deploy = _make(checkout, "deploy", environment)
    # Then the preflight stops it before anything is created, naming the one-command fix
    assert refused_deploy.returncode != 0
    assert "nothing was created" in refused_deploy.stderr, refused_deploy.stderr[-3000:]
    assert "make account-logging" in refused_deploy.stderr
    assert lambda_client.list_functions()["Functions"] == []
    assert dynamodb.list_tables()["TableNames"] == []

    # When the fix is applied, once for the account and region
    account_logging = _make(checkout, "account-logging", environment)
    assert account_logging.returncode == 0, (
        account_logging.stdout[-3000:] + account_logging.stderr[-3000:]
    )
    role = apigateway.get_account()["cloudwatchRoleArn"]
    assert role.endswith(":role/wspush-apigw-logs-us-east-1")

    # Then the deploy goes through
    deployed = _make(checkout, "deploy", environment)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    # And the preflight said the account's concurrency is short of what a push runs
    assert "runs at most 10 Lambda invocations at once" in deployed.stderr

    # Then terraform output describes the deployment, and the account holds it
    outputs = _outputs(checkout, environment)
    assert outputs["websocket_url"].startswith("wss://") and outputs["websocket_url"].endswith(
        "/prod"
    )
    assert outputs["connections_table_deletion_protection"] is True
    table = dynamodb.describe_table(TableName=outputs["connections_table_name"])["Table"]
    assert table["DeletionProtectionEnabled"] is True
    push = outputs["function_names"]["push"]
    invoke_config = lambda_client.get_function_event_invoke_config(FunctionName=push)
    assert invoke_config["MaximumRetryAttempts"] == 0
    assert (
        invoke_config["DestinationConfig"]["OnFailure"]["Destination"]
        == outputs["dead_letter_queue_arn"]
    )
    assert (checkout / "terraform" / "terraform.tfstate").is_file()
    # And a real client can use it
    asyncio.run(_client_on_the_deployment(outputs, runtime, moto_url, checkout / "dist"))

    # When it is destroyed while the table is protected
    refused = _make(checkout, "destroy", environment)
    # Then nothing is destroyed, and the message says why and what to do
    assert refused.returncode != 0
    assert "deletion_protection" in refused.stderr and "nothing was destroyed" in refused.stderr
    assert dynamodb.describe_table(TableName=outputs["connections_table_name"])
    assert lambda_client.get_function(FunctionName=push)

    # When the protection is turned off as the message says, and it is destroyed again
    tfvars.write_text("\n".join([*settings, "deletion_protection = false"]) + "\n")
    # (the state is a minute old: no refresh needed to change one attribute)
    redeployed = _make(
        checkout, "deploy", {**environment, "TF_CLI_ARGS_apply": "-auto-approve -refresh=false"}
    )
    assert redeployed.returncode == 0, redeployed.stdout[-3000:] + redeployed.stderr[-3000:]
    destroyed = _make(checkout, "destroy", environment)
    assert destroyed.returncode == 0, destroyed.stdout[-3000:] + destroyed.stderr[-3000:]

    # Then the account is empty again
    assert outputs["connections_table_name"] not in dynamodb.list_tables()["TableNames"]
    assert push not in [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
    state = json.loads((checkout / "terraform" / "terraform.tfstate").read_text())
    assert state["resources"] == []
    # And the account setting, which outlives deployments, is still in place
    assert apigateway.get_account()["cloudwatchRoleArn"] == role
