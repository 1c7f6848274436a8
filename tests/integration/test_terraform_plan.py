"""The root configuration plans cleanly with the example variables, with the real aws
provider (against the moto server, so no AWS account is needed), and hands every setting
to the module."""

import re
from typing import Any

import pytest

from wspush_local.stack.project import Terraform, project_root

# The root's own settings, for its provider: everything else is the module's.
PROVIDER_SETTINGS = {"aws_region", "emulator_endpoint", "tags"}


@pytest.fixture(scope="module")
def planned(moto_url, tmp_path_factory) -> tuple[str, dict[str, Any]]:
    """The plan's output and its JSON (`terraform show -json`)."""
    root = project_root()
    scratch = tmp_path_factory.mktemp("plan")
    terraform = Terraform(
        root,
        data_dir=scratch / "data",
        state=scratch / "terraform.tfstate",
        environment={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    terraform.init()
    output = terraform.plan(
        {"emulator_endpoint": moto_url},
        var_file=root / "terraform" / "terraform.tfvars.example",
        out=scratch / "root.tfplan",
    )
    return output, terraform.show_plan(scratch / "root.tfplan")


def test_the_example_variables_plan_cleanly(planned):
    output, _ = planned
    # The one warning: reset_on_delete is deprecated in provider 5.x only because 6.0 makes
    # it the default, and without it destroying the account setting would leave it behind.
    warnings = re.findall(r"Warning: (.+)\n\n(?:.*\n)*?\n(.+)", output)
    assert warnings == [
        (
            "Attribute Deprecated",
            'The "reset_on_delete" attribute will be removed in a future version of the',
        )
    ], output
    assert "to add, 0 to change, 0 to destroy" in output
    assert 'schedule_expression = "rate(5 minutes)"' in " ".join(output.split())


def test_every_root_variable_reaches_the_module_under_its_own_name(planned):
    _, plan = planned
    configuration = plan["configuration"]["root_module"]
    call = configuration["module_calls"]["wspush"]
    root_variables = set(configuration["variables"])
    passed = {
        name
        for name, expression in call["expressions"].items()
        if f"var.{name}" in expression.get("references", [])
    }
    assert root_variables - PROVIDER_SETTINGS - passed == set(), (
        "root variables the module never sees"
    )
    assert set(call["module"]["variables"]) - root_variables == set(), (
        "module settings the root cannot set"
    )
    provider = plan["configuration"]["provider_config"]["aws"]["expressions"]
    assert "var.aws_region" in provider["region"]["references"]
