"""Checks `make deploy` runs before `terraform apply`, so that an apply AWS would refuse
half-way stops before it creates anything, with a message that names the fix.

What the deploy would do is read from Terraform itself: ``terraform plan -out`` and
``terraform show -json`` give the effective values (the module's defaults, the user's
tfvars, the region the provider resolved), so the checks never re-implement Terraform's
variable handling.

    deploy_preflight.py check <terraform dir>          exit 1 with a message, or 0
    deploy_preflight.py account-variables <terraform dir>
        the region and emulator endpoint the deploy uses, as a tfvars JSON document for
        terraform/account/ (``make account-logging``), so the setting lands where
        ``make deploy`` deploys
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

# API Gateway's answer to CreateStage/UpdateStage with access logging while the account
# has no CloudWatch role: the failure this check exists to prevent.
MISSING_ROLE_ERROR = "CloudWatch Logs role ARN must be set in account settings to enable logging"


@dataclass(frozen=True)
class Target:
    """Where the plan deploys: the region the provider resolved, and the emulator endpoint
    (the deploy rehearsal's stand-in account) when the configuration points at one."""

    region: str
    endpoint_url: str | None

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)


def _modules(root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pending = [root]
    while pending:
        module = pending.pop()
        pending.extend(module.get("child_modules", []))
        yield module


def target_of(plan: dict[str, Any]) -> Target:
    """The region from the aws_region data source the plan read (what the provider really
    uses, whether it came from aws_region, AWS_REGION or a profile); the root's aws_region
    variable when the plan read none."""
    variables = plan.get("variables", {})
    regions = [
        resource["values"]["name"]
        for module in _modules(plan.get("prior_state", {}).get("values", {}).get("root_module", {}))
        for resource in module.get("resources", [])
        if resource.get("mode") == "data"
        and resource.get("type") == "aws_region"
        and resource.get("values", {}).get("name")
    ]
    region = regions[0] if regions else variables.get("aws_region", {}).get("value")
    if not region:
        raise SystemExit("deploy preflight: the plan names no region (set aws_region)")
    endpoint = variables.get("emulator_endpoint", {}).get("value")
    return Target(region=region, endpoint_url=endpoint or None)


def _will_exist(change: dict[str, Any]) -> bool:
    return change["change"]["actions"] != ["delete"]


def logged_websocket_stages(plan: dict[str, Any]) -> list[str]:
    """Addresses of the WebSocket stages the apply creates or updates with access logging
    (the calls API Gateway refuses without the account's CloudWatch role). A stage's API
    is the aws_apigatewayv2_api of its own module."""
    changes = plan.get("resource_changes", [])
    websocket_modules = {
        change.get("module_address", "")
        for change in changes
        if change["type"] == "aws_apigatewayv2_api"
        and _will_exist(change)
        and (change["change"].get("after") or {}).get("protocol_type") == "WEBSOCKET"
    }
    return [
        change["address"]
        for change in changes
        if change["type"] == "aws_apigatewayv2_stage"
        and change.get("module_address", "") in websocket_modules
        and {"create", "update"} & set(change["change"]["actions"])
        and (change["change"].get("after") or {}).get("access_log_settings")
    ]


def sets_account_role(plan: dict[str, Any]) -> bool:
    """The configuration manages the account setting itself (manage_api_gateway_account):
    Terraform sets it before the stage."""
    return any(
        change["type"] == "aws_api_gateway_account" and _will_exist(change)
        for change in plan.get("resource_changes", [])
    )


def _account_id(target: Target) -> str:
    try:
        identity: dict[str, str] = target.client("sts").get_caller_identity()
        return identity["Account"]
    except (BotoCoreError, ClientError):
        return "(unknown)"


def check_api_gateway_logging_role(plan: dict[str, Any], target: Target) -> str | None:
    """A message when the apply would create or update a WebSocket stage with access
    logging in an account and region whose API Gateway has no CloudWatch role."""
    stages = logged_websocket_stages(plan)
    if not stages or sets_account_role(plan):
        return None
    try:
        settings = target.client("apigateway").get_account()
    except (BotoCoreError, ClientError) as error:
        print(
            f"deploy preflight: could not read API Gateway's account settings ({error}); "
            "going on without checking the CloudWatch Logs role",
            file=sys.stderr,
        )
        return None
    if settings.get("cloudwatchRoleArn"):
        return None
    return f"""make deploy: nothing was created.

API Gateway has no CloudWatch Logs role in account {_account_id(target)}, region {target.region}
(`aws apigateway get-account` shows no cloudwatchRoleArn), and every new account starts
without one. The WebSocket stage writes access logs, which API Gateway refuses until the
role is set: the apply would stop half-way at {stages[0]} with
"{MISSING_ROLE_ERROR}".

Fix it once for this account and region, either way:

  make account-logging
      creates the role and sets it (terraform/account/, a state of its own, since every
      API in the region shares the setting); then run make deploy again.

  manage_api_gateway_account = true     (in terraform/terraform.tfvars)
      this deployment creates and owns the setting, and resets it when destroyed. Do
      this in at most one deployment per account and region.

See "First deploy" in docs/operations.md."""


# Every check reads the plan and the account; each returns a message when the apply must
# not start.
CHECKS: tuple[Callable[[dict[str, Any], Target], str | None], ...] = (
    check_api_gateway_logging_role,
)


def _terraform(terraform: str, directory: Path, *args: str, stdin: str | None = None) -> str:
    run = subprocess.run(
        [terraform, f"-chdir={directory}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        raise SystemExit(f"deploy preflight: terraform {args[0]} failed")
    return run.stdout


def read_plan(terraform: str, directory: Path) -> dict[str, Any]:
    """The plan `terraform apply` would make, as JSON. -refresh=false: what the checks read
    comes from the configuration and the state, and a refresh would double the time."""
    with tempfile.TemporaryDirectory() as scratch:
        plan_file = Path(scratch) / "preflight.tfplan"
        _terraform(
            terraform,
            directory,
            "plan",
            "-input=false",
            "-refresh=false",
            "-lock=false",
            "-no-color",
            f"-out={plan_file}",
        )
        plan: dict[str, Any] = json.loads(
            _terraform(terraform, directory, "show", "-json", "-no-color", str(plan_file))
        )
        return plan


def account_variables(terraform: str, directory: Path) -> dict[str, Any]:
    """aws_region and emulator_endpoint as the deploy's configuration resolves them
    (terraform.tfvars, *.auto.tfvars, TF_VAR_*), evaluated by terraform console."""
    expression = (
        "jsonencode({ aws_region = var.aws_region, emulator_endpoint = var.emulator_endpoint })"
    )
    printed = _terraform(terraform, directory, "console", stdin=expression + "\n").strip()
    # console prints the JSON document as a quoted string
    values: dict[str, Any] = json.loads(json.loads(printed))
    return {name: value for name, value in values.items() if value is not None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "account-variables"])
    parser.add_argument("directory", type=Path, help="the Terraform root make deploy applies")
    parser.add_argument("--terraform", default="terraform", help="terraform binary")
    args = parser.parse_args()

    if args.command == "account-variables":
        print(json.dumps(account_variables(args.terraform, args.directory), indent=2))
        return 0
    plan = read_plan(args.terraform, args.directory)
    target = target_of(plan)
    refusals = [message for check in CHECKS if (message := check(plan, target))]
    for message in refusals:
        print(message, file=sys.stderr)
    return 1 if refusals else 0


if __name__ == "__main__":
    sys.exit(main())
