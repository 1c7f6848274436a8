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
