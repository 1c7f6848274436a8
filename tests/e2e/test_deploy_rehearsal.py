"""The README's AWS path, rehearsed: from a clean copy of the checkout, `make deploy`,
`terraform output`, `make destroy`, unattended (TF_CLI_ARGS_apply=-auto-approve), against a
moto server standing in for the AWS account, with all state in a throwaway directory.

The copy holds what a clone holds (tracked and new files, no build outputs, no state, no
.terraform); only the virtualenv and the downloaded Lambda dependencies are shared with
this checkout, to keep the rehearsal short (a build from scratch at another path is
tests/integration/test_build.py's job).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3

from tests.e2e.conftest import ROOT


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


def _make(checkout: Path, target: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", target], cwd=checkout, env=environment, capture_output=True, text=True
    )


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


def test_make_deploy_then_make_destroy_from_a_clean_checkout(tmp_path, moto_url):
    # Given a clean checkout whose terraform.tfvars points at the stand-in account
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

    # When it is deployed exactly as the README says
    deployed = _make(checkout, "deploy", environment)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

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
