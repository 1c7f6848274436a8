import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _build() -> dict[str, str]:
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["./build.sh"], cwd=ROOT, env=env, check=True, capture_output=True)
    return {
        zip_path.name: hashlib.sha256(zip_path.read_bytes()).hexdigest()
        for zip_path in sorted((ROOT / "dist").glob("*.zip"))
    }


def test_build_is_byte_identical_across_runs_and_ignores_timestamps():
    # Given one build
    first = _build()
    # When the sources are touched (new mtimes, same content) and it is built again
    for package in (
        ROOT / "lambdas" / "wspush",
        ROOT / "examples" / "order_status" / "lambdas",
        ROOT / "examples" / "chat_moderation" / "lambdas",
    ):
        for source in package.rglob("*.py"):
            os.utime(source)
    second = _build()
    # Then every zip is byte-identical
    assert first == second
    # One zip per package: every wspush function runs the same code
    assert set(first) == {"wspush.zip", "order_status.zip", "chat_moderation.zip"}


def test_zips_hold_the_package_without_boto3_or_caches_and_the_manifest_matches():
    manifest = json.loads((ROOT / "dist" / "manifest.json").read_text())
    assert set(manifest) == {
        "authorizer", "connect", "disconnect", "message", "publish", "push",
        "order_status_place_order", "chat_moderation_moderate",
    }  # fmt: skip
    example_zips = {"order_status_": "order_status.zip", "chat_moderation_": "chat_moderation.zip"}
    for function, entry in manifest.items():
        prefix = next((p for p in example_zips if function.startswith(p)), None)
        assert entry["zip"] == (example_zips[prefix] if prefix else "wspush.zip")
        assert entry["version"] == (ROOT / "VERSION").read_text().strip()
        path = ROOT / "dist" / entry["zip"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert path.stat().st_size == entry["size"]
        names = zipfile.ZipFile(path).namelist()
        handler_module = entry["handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert handler_module in names
        if prefix is not None:
            # An example's function is its own package alone: no wspush, no dependencies.
            assert {n.split("/")[0] for n in names} == {prefix.rstrip("_")}
        else:
            assert f"wspush/handlers/{function}.py" in names
            assert "aws_lambda_powertools/__init__.py" in names
            # The signature libraries of identity providers' tokens, pure Python.
            assert {"rsa/__init__.py", "ecdsa/__init__.py"} <= set(names)
            assert not [n for n in names if n.startswith(("rsa/", "ecdsa/")) and n.endswith(".so")]
            # the backend SDK is the wheel's, not the functions'
            assert not [n for n in names if n.startswith("wspush/sdk/")]
        assert not [n for n in names if n.startswith(("boto3/", "botocore/"))]
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert names == sorted(names)


def _release(checkout: Path) -> str:
    """``make release``'s script in ``checkout``, with this interpreter (its build and
    setuptools): SHA256SUMS."""
    subprocess.run(
        [sys.executable, "scripts/release.py"], cwd=checkout, check=True, capture_output=True
    )
    return (checkout / "dist" / "release" / "SHA256SUMS").read_text()


def test_two_clones_at_different_paths_release_byte_identical_artifacts(tmp_path):
    # Given two clean clones of this commit, at different paths (one with older mtimes)
    clones = [tmp_path / "one" / "wspush", tmp_path / "elsewhere" / "deeper" / "wspush"]
    for clone in clones:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    for source in (clones[1] / "lambdas").rglob("*.py"):
        os.utime(source, (1, 1))
    # When each makes the release
    first, second = (_release(clone) for clone in clones)
    # Then every artifact is byte-identical (and SHA256SUMS names them all)
    assert first == second
    version = (ROOT / "VERSION").read_text().strip()
    assert {line.split("  ")[1] for line in first.splitlines()} == {
        f"wspush-lambda-{version}.zip",
        f"wspush-order-status-lambda-{version}.zip",
        f"wspush-chat-moderation-lambda-{version}.zip",
        f"wspush-{version}-py3-none-any.whl",
        f"wspush-{version}.tar.gz",
        f"wspush-client-{version}.tgz",
    }
    release = clones[1] / "dist" / "release"
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=release, capture_output=True)
    assert check.returncode == 0, check.stdout
    # And nothing in the function zip depends on where it was built
    archive = zipfile.ZipFile(release / f"wspush-lambda-{version}.zip")
    assert not [name for name in archive.namelist() if name.startswith("bin/")]
    records = [name for name in archive.namelist() if name.endswith(".dist-info/RECORD")]
    assert records and not [name for name in records if b"../" in archive.read(name)]
