"""One source of truth for the Lambda target: lambdas/runtime.json names the runtime and
architecture that modules/lambda_function deploys, and build.sh installs the
dependencies for that same target (scripts/package.py --pip-target)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("package", ROOT / "scripts" / "package.py")
assert _spec and _spec.loader
package = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(package)


def test_the_deployed_target_is_python_3_13_on_arm64():
    target = json.loads((ROOT / "lambdas" / "runtime.json").read_text())
    assert target == {"runtime": "python3.13", "architecture": "arm64"}
    assert package.pip_target(ROOT / "lambdas" / "runtime.json") == (
        "3.13",
        "manylinux2014_aarch64",
    )


def test_build_sh_reads_the_same_file_terraform_reads():
    module = (ROOT / "terraform" / "modules" / "lambda_function" / "main.tf").read_text()
    assert 'file("${path.module}/../../../lambdas/runtime.json")' in module
    assert "runtime                        = local.lambda_target.runtime" in module
    assert "architectures                  = [local.lambda_target.architecture]" in module
    assert "--pip-target lambdas/runtime.json" in (ROOT / "build.sh").read_text()


def test_an_x86_target_installs_x86_wheels(tmp_path):
    runtime = tmp_path / "runtime.json"
    runtime.write_text(json.dumps({"runtime": "python3.12", "architecture": "x86_64"}))
    printed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), "--pip-target", str(runtime)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert printed == ["3.12", "manylinux2014_x86_64"]


@pytest.mark.parametrize(
    "target",
    [
        {"runtime": "nodejs22.x", "architecture": "arm64"},
        {"runtime": "python3.13", "architecture": "sparc"},
    ],
)
def test_a_target_pip_cannot_build_for_is_refused(tmp_path, target):
    runtime = tmp_path / "runtime.json"
    runtime.write_text(json.dumps(target))
    with pytest.raises(ValueError, match="not a Python runtime on a Lambda architecture"):
        package.pip_target(runtime)


def test_the_deployed_zip_runs_on_the_local_python(tmp_path):
    # The zip's only native code is wrapt's optional extension (through aws-xray-sdk),
    # built for the Lambda target; elsewhere wrapt uses its pure-Python implementation.
    import zipfile

    with zipfile.ZipFile(ROOT / "dist" / "wspush.zip") as archive:
        native = [name for name in archive.namelist() if name.endswith(".so")]
        archive.extractall(tmp_path)
    assert all(name.startswith("wrapt/") for name in native)
    probe = "import wrapt.wrappers as w; print(w.__file__, w.ObjectProxy.__module__)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(tmp_path),
            "PATH": "/usr/bin:/bin",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "CONNECTIONS_TABLE": "t",
            "HISTORY_TABLE": "h",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    origin, implementation = loaded.stdout.split()
    assert origin.startswith(str(tmp_path)) and implementation == "wrapt.wrappers"
