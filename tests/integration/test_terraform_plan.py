"""The root configuration plans cleanly with the example variables, with the real aws
provider (against the moto server, so no AWS account is needed)."""

import re
from pathlib import Path

from wspush_local.project import Terraform, project_root


def test_the_example_variables_plan_cleanly(moto_url, tmp_path: Path):
    root = project_root()
    terraform = Terraform(
        root,
        data_dir=tmp_path / "data",
        state=tmp_path / "terraform.tfstate",
        environment={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    terraform.init()
    output = terraform.plan(
        {"emulator_endpoint": moto_url},
        var_file=root / "terraform" / "terraform.tfvars.example",
    )
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
