import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
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
    for package in (ROOT / "lambdas" / "wspush", ROOT / "examples" / "order_status" / "lambdas"):
        for source in package.rglob("*.py"):
            os.utime(source)
    second = _build()
    # Then every zip is byte-identical
    assert first == second
    assert set(first) == {
        f"{f}.zip" for f in ("authorizer", "connect", "disconnect", "message", "publish", "push")
    } | {"order_status_place_order.zip"}


def test_zips_hold_the_package_without_boto3_or_caches_and_the_manifest_matches():
    manifest = json.loads((ROOT / "dist" / "manifest.json").read_text())
    for function, entry in manifest.items():
        path = ROOT / "dist" / entry["zip"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert path.stat().st_size == entry["size"]
        names = zipfile.ZipFile(path).namelist()
        handler_module = entry["handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert handler_module in names
        if function == "order_status_place_order":
            # The example's function is its own package alone: no wspush, no dependencies.
            assert {n.split("/")[0] for n in names} == {"order_status"}
        else:
            assert f"wspush/handlers/{function}.py" in names
            assert "aws_lambda_powertools/__init__.py" in names
            # the backend SDK is the wheel's, not the functions'
            assert not [n for n in names if n.startswith("wspush/sdk/")]
        assert not [n for n in names if n.startswith(("boto3/", "botocore/"))]
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert names == sorted(names)


def test_two_checkouts_at_different_paths_build_byte_identical_zips(tmp_path):
    # Given this checkout's build
    here = _build()
    # And a second checkout at another path, with its own virtualenv (pip writes that
    # interpreter's path into console scripts and their RECORD hashes)
    clone = tmp_path / "elsewhere" / "wspush"
    clone.mkdir(parents=True)
    shutil.copy2(ROOT / "build.sh", clone / "build.sh")
    shutil.copytree(ROOT / "scripts", clone / "scripts")
    for sources in ("lambdas", "examples"):
        shutil.copytree(
            ROOT / sources,
            clone / sources,
            ignore=shutil.ignore_patterns("__pycache__", ".terraform"),
        )
    venv.EnvBuilder(with_pip=True).create(clone / "venv")
    # When it is built from scratch there
    subprocess.run(
        ["./build.sh"],
        cwd=clone,
        env={**os.environ, "PYTHON": str(clone / "venv" / "bin" / "python")},
        check=True,
        capture_output=True,
    )
    there = {
        zip_path.name: hashlib.sha256(zip_path.read_bytes()).hexdigest()
        for zip_path in sorted((clone / "dist").glob("*.zip"))
    }
    # Then the zips are byte-identical, so source_code_hash does not move between machines
    assert here == there
    archive = zipfile.ZipFile(clone / "dist" / "push.zip")
    assert not [name for name in archive.namelist() if name.startswith("bin/")]
    records = [name for name in archive.namelist() if name.endswith(".dist-info/RECORD")]
    assert records and not [name for name in records if b"../" in archive.read(name)]
