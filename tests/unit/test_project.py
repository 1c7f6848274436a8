"""Running Terraform for the local stack: a connection lost to the emulator is run again,
any other failure is not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from wspush_local.stack.project import Terraform, TerraformError

# A stand-in terraform: appends its arguments to calls.log, then fails with whatever
# failures.txt says for this call number (one line per call; an empty line succeeds).
FAKE_TERRAFORM = """#!/bin/sh
dir="$(dirname "$0")"
echo "$*" >> "$dir/calls.log"
n=$(wc -l < "$dir/calls.log")
message=$(sed -n "${n}p" "$dir/failures.txt")
if [ -n "$message" ]; then echo "Error: $message" >&2; exit 1; fi
"""


def _terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failures: list[str]) -> Terraform:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "terraform"
    fake.write_text(FAKE_TERRAFORM)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    (bin_dir / "failures.txt").write_text("\n".join(failures) + "\n")
    (bin_dir / "calls.log").touch()
    rc = tmp_path / "terraform.rc"
    rc.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    return Terraform(tmp_path, environment={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})


def _calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "bin" / "calls.log").read_text().splitlines()


def test_a_destroy_that_lost_its_connection_is_run_again(tmp_path, monkeypatch):
    terraform = _terraform(
        tmp_path,
        monkeypatch,
        [
            "deleting IAM Role (r): read tcp 127.0.0.1:1->127.0.0.1:2: use of closed network connection"
        ],
    )
    terraform.destroy({"name_prefix": "wspush-local"})
    calls = _calls(tmp_path)
    assert len(calls) == 2
    assert all(call.startswith("-chdir=") and " destroy " in call for call in calls)


def test_an_apply_that_lost_its_connection_twice_fails_with_the_output(tmp_path, monkeypatch):
    lost = "read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"
    terraform = _terraform(tmp_path, monkeypatch, [lost, lost])
    with pytest.raises(TerraformError, match="connection reset by peer"):
        terraform.apply({})
    assert len(_calls(tmp_path)) == 2


def test_any_other_failure_is_not_run_again(tmp_path, monkeypatch):
    terraform = _terraform(tmp_path, monkeypatch, ["creating Lambda Function: AccessDenied"])
    with pytest.raises(TerraformError, match="AccessDenied"):
        terraform.apply({})
    assert len(_calls(tmp_path)) == 1


# A stand-in provider: with -debug it announces a reattach configuration (naming its
# working directory and whether AWS_CA_BUNDLE reached it), then serves until stopped.
FAKE_PROVIDER = """#!/bin/sh
echo "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment variable with the following:"
echo ""
echo "	TF_REATTACH_PROVIDERS='{\\"cwd\\":\\"$(pwd)\\",\\"ca\\":\\"${AWS_CA_BUNDLE:-none}\\"}'"
exec sleep 60
"""
# A stand-in terraform that records the reattach configuration it was given.
FAKE_TERRAFORM_REATTACH = """#!/bin/sh
echo "${TF_REATTACH_PROVIDERS:-none}" >> "$(dirname "$0")/reattach.log"
"""


def _data_dir_with_provider(tmp_path: Path, script: str) -> Path:
    data_dir = tmp_path / "data"
    platform = data_dir / "providers/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64"
    platform.mkdir(parents=True)
    provider = platform / "terraform-provider-aws_v5.100.0_x5"
    provider.write_text(script)
    provider.chmod(provider.stat().st_mode | stat.S_IEXEC)
    return data_dir


def _reattaching_terraform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_script: str
) -> Terraform:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "terraform"
    fake.write_text(FAKE_TERRAFORM_REATTACH)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    rc = tmp_path / "terraform.rc"
    rc.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    (tmp_path / "terraform").mkdir()
    return Terraform(
        tmp_path,
        data_dir=_data_dir_with_provider(tmp_path, provider_script),
        environment={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )


def test_apply_shares_one_provider_started_in_the_configuration_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terraform = _reattaching_terraform(tmp_path, monkeypatch, FAKE_PROVIDER)

    terraform.apply({})

    [reattach] = (tmp_path / "bin" / "reattach.log").read_text().splitlines()
    # Started where terraform -chdir runs providers, without the CA bundle it refuses to
    # apply twice; and gone from the environment once the apply is over.
    assert reattach == f'{{"cwd":"{tmp_path / "terraform"}","ca":"none"}}'
    assert "TF_REATTACH_PROVIDERS" not in terraform.environment


def test_apply_falls_back_to_terraform_s_own_provider_when_the_shared_one_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    terraform = _reattaching_terraform(tmp_path, monkeypatch, "#!/bin/sh\nexit 3\n")

    terraform.apply({})

    assert (tmp_path / "bin" / "reattach.log").read_text().splitlines() == ["none"]
    assert "did not start serving" in caplog.text
