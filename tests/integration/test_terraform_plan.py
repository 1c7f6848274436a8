"""The root configuration plans cleanly with the example variables, with the real aws
provider (against the moto server, so no AWS account is needed)."""

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
    assert "Warning" not in output
    assert "to add, 0 to change, 0 to destroy" in output
    assert 'schedule_expression = "rate(5 minutes)"' in " ".join(output.split())
