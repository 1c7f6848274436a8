"""make deploy's preflight (scripts/deploy_preflight.py): what it reads from Terraform's
JSON plan, and the API Gateway account check, against moto's API Gateway."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "deploy_preflight.py"
_spec = importlib.util.spec_from_file_location("deploy_preflight", SCRIPT)
assert _spec and _spec.loader
preflight = importlib.util.module_from_spec(_spec)
sys.modules["deploy_preflight"] = preflight
_spec.loader.exec_module(preflight)

API = "module.wspush.module.websocket_api"


def _change(address: str, kind: str, actions: list[str], after: dict[str, Any]) -> dict[str, Any]:
    module, _, _ = address.rpartition(f".{kind}.")
    return {
        "address": address,
        "module_address": module,
        "mode": "managed",
        "type": kind,
        "change": {"actions": actions, "after": after},
    }


def _plan(*changes: dict[str, Any], region: str | None = "eu-west-1") -> dict[str, Any]:
    """A plan as `terraform show -json` prints it, cut down to what the checks read."""
    data = (
        [
            {
                "mode": "data",
                "type": "aws_region",
                "address": "data.aws_region.current",
                "values": {"name": region},
            }
        ]
        if region
        else []
    )
    return {
        "variables": {"aws_region": {"value": "us-east-1"}, "emulator_endpoint": {"value": None}},
        "prior_state": {
            "values": {
                "root_module": {"child_modules": [{"address": "module.wspush", "resources": data}]}
            }
        },
        "resource_changes": list(changes),
    }


def _websocket_api(actions: list[str] | None = None, protocol: str = "WEBSOCKET") -> dict[str, Any]:
    return _change(
        f"{API}.aws_apigatewayv2_api.this",
        "aws_apigatewayv2_api",
        actions or ["create"],
        {"protocol_type": protocol},
    )


def _stage(actions: list[str] | None = None, logged: bool = True) -> dict[str, Any]:
    after = {"access_log_settings": [{"format": "{}"}] if logged else []}
    return _change(
        f"{API}.aws_apigatewayv2_stage.this", "aws_apigatewayv2_stage", actions or ["create"], after
    )


FIRST_DEPLOY = _plan(_websocket_api(), _stage())
TARGET = preflight.Target(region="eu-west-1", endpoint_url=None)


@pytest.fixture
def account():
    with mock_aws():
        yield boto3.client("apigateway", region_name="eu-west-1")


def test_a_new_account_is_refused_with_the_fix_named(account):
    # Given a brand-new account: API Gateway has no CloudWatch role in the region
    assert not account.get_account().get("cloudwatchRoleArn")
    # When a first deploy would create the logged WebSocket stage
    message = preflight.check_api_gateway_logging_role(FIRST_DEPLOY, TARGET)
    # Then the deploy stops, saying why, where and the two ways to fix it
    assert message is not None
    assert "nothing was created" in message and "region eu-west-1" in message
    assert "account 123456789012" in message
    assert (
        preflight.MISSING_ROLE_ERROR in message and f"{API}.aws_apigatewayv2_stage.this" in message
    )
    assert "make account-logging" in message and "manage_api_gateway_account = true" in message


def test_an_account_with_its_role_set_passes(account):
    role = "arn:aws:iam::123456789012:role/wspush-apigw-logs-eu-west-1"
    account.update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]
    )
    assert preflight.check_api_gateway_logging_role(FIRST_DEPLOY, TARGET) is None


def test_the_role_is_read_in_the_deploys_region(account):
    # A role set in another region does not count: the setting is per region.
    boto3.client("apigateway", region_name="us-east-1").update_account(
        patchOperations=[
            {
                "op": "replace",
                "path": "/cloudwatchRoleArn",
                "value": "arn:aws:iam::123456789012:role/r",
            }
        ]
    )
    assert preflight.check_api_gateway_logging_role(FIRST_DEPLOY, TARGET) is not None


def test_a_deploy_that_sets_the_role_itself_passes(account):
    sets_it = _change(
        "module.wspush.module.api_gateway_account[0].aws_api_gateway_account.this",
        "aws_api_gateway_account",
        ["create"],
        {"reset_on_delete": True},
    )
    assert (
        preflight.check_api_gateway_logging_role(_plan(_websocket_api(), _stage(), sets_it), TARGET)
        is None
    )


def test_a_deploy_that_destroys_the_role_it_set_is_checked(account):
    removes_it = _change(
        "module.wspush.module.api_gateway_account[0].aws_api_gateway_account.this",
        "aws_api_gateway_account",
        ["delete"],
        {},
    )
    plan = _plan(_websocket_api(), _stage(["update"]), removes_it)
    assert preflight.check_api_gateway_logging_role(plan, TARGET) is not None


@pytest.mark.parametrize(
    "plan",
    [
        _plan(_websocket_api(["no-op"]), _stage(["no-op"])),
        _plan(_websocket_api(), _stage(logged=False)),
        _plan(_websocket_api(protocol="HTTP"), _stage()),
        _plan(),
    ],
    ids=["stage-unchanged", "no-access-logs", "http-api", "nothing-to-do"],
)
def test_only_a_logged_websocket_stage_being_written_needs_the_role(account, plan):
    assert preflight.check_api_gateway_logging_role(plan, TARGET) is None


def test_an_updated_stage_is_checked_like_a_new_one(account):
    plan = _plan(_websocket_api(["no-op"]), _stage(["update"]))
    assert preflight.logged_websocket_stages(plan) == [f"{API}.aws_apigatewayv2_stage.this"]
    assert preflight.check_api_gateway_logging_role(plan, TARGET) is not None


def test_an_unreadable_account_setting_warns_and_lets_the_apply_decide(capsys):
    # Nothing answers on this endpoint: the check cannot read the setting
    unreachable = preflight.Target(region="eu-west-1", endpoint_url="http://127.0.0.1:9")
    assert preflight.check_api_gateway_logging_role(FIRST_DEPLOY, unreachable) is None
    assert "could not read API Gateway's account settings" in capsys.readouterr().err


def test_the_target_is_the_region_the_provider_resolved():
    plan = _plan(region="ap-southeast-4")
    plan["variables"]["emulator_endpoint"] = {"value": "http://127.0.0.1:5100"}
    assert preflight.target_of(plan) == preflight.Target("ap-southeast-4", "http://127.0.0.1:5100")


def test_without_a_region_data_source_the_root_variable_names_it():
    assert preflight.target_of(_plan(region=None)) == preflight.Target("us-east-1", None)
