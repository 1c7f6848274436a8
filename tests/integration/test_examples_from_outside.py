"""The examples work where a user puts them: copied out of the repository, with the wspush
modules sourced by git at the release tag and the functions' code from the release zips.

The repository is cloned (HEAD, committed work only) and tagged with the project's version;
each example is copied from that clone to a directory of its own, its canonical
``git::https://github.com/wspush/wspush.git//...`` sources are pointed at the clone
(``git::file://``), and it is initialised (offline, from the provider mirror), validated and
planned against the moto server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from wspush_local.emulator.server import answer_terraform_stepfunctions_calls

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text().strip()
CANONICAL_SOURCE = "git::https://github.com/wspush/wspush.git//"
# What a release holds (make release): the example's code zips under their release names.
RELEASE_ZIPS = {
    "lambda_package": ("wspush.zip", f"wspush-lambda-{VERSION}.zip"),
    "place_order_package": ("order_status.zip", f"wspush-order-status-lambda-{VERSION}.zip"),
    "moderate_package": ("chat_moderation.zip", f"wspush-chat-moderation-lambda-{VERSION}.zip"),
}


@pytest.fixture(scope="module")
def tagged_clone(tmp_path_factory) -> Path:
    clone = tmp_path_factory.mktemp("upstream") / "wspush"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "tag", f"v{VERSION}"], check=True)
    return clone


@pytest.fixture(scope="module")
def plugin_cache(tmp_path_factory) -> Path:
    """One copy of the provider for both examples: init links it instead of copying it."""
    return tmp_path_factory.mktemp("plugin-cache")


@pytest.fixture(scope="module")
def emulator_url(moto_url) -> str:
    """The moto server, with the Step Functions calls the provider plans with."""
    answer_terraform_stepfunctions_calls()
    return moto_url


@pytest.fixture(scope="module")
def release_zips(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("release")
    zips = {}
    for variable, (built, released) in RELEASE_ZIPS.items():
        zips[variable] = directory / released
        shutil.copyfile(ROOT / "dist" / built, zips[variable])
    return zips


def _terraform(
    directory: Path, moto_url: str, plugin_cache: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(ROOT / "build" / "terraform.rc"),
        "TF_PLUGIN_CACHE_DIR": str(plugin_cache),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        # The examples' providers name no endpoint: the emulator stands in for every service,
        # and answers at once or never (a retry of a call it lacks would wait for minutes).
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    environment.pop("TF_DATA_DIR", None)
    return subprocess.run(
        ["terraform", f"-chdir={directory}", *args, "-no-color"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def _copied_out(clone: Path, example: str, destination: Path) -> Path:
    """The example as a user copies it, its module sources pointed at the tagged clone."""
    directory = destination / example
    shutil.copytree(clone / "examples" / example, directory)
    sources = 0
    for path in directory.glob("*.tf"):
        text = path.read_text()
        sources += text.count(CANONICAL_SOURCE)
        path.write_text(text.replace(CANONICAL_SOURCE, f"git::file://{clone}//"))
    assert sources, f"examples/{example} sources no module from {CANONICAL_SOURCE}"
    assert f"?ref=v{VERSION}" in (directory / "main.tf").read_text()
    return directory


def _package_variables(example: Path, zips: dict[str, Path]) -> dict[str, str]:
    declared = "\n".join(path.read_text() for path in example.glob("*.tf"))
    return {
        variable: f'{{ path = "{path}" }}'
        for variable, path in zips.items()
        if f'variable "{variable}"' in declared
    }


RESET_ON_DELETE_DEPRECATED = 'The "reset_on_delete" attribute will be removed'


def _plan(directory: Path, moto_url: str, plugin_cache: Path, variables: dict[str, str]):
    flags = [f"-var={name}={value}" for name, value in variables.items()]
    result = _terraform(directory, moto_url, plugin_cache, "plan", "-input=false", *flags)
    return result, " ".join((result.stdout + result.stderr).split())


@pytest.mark.parametrize("example", ["basic", "order_status", "cognito", "chat_moderation"])
def test_the_example_plans_from_outside_the_repository_at_the_release_tag(
    example, tagged_clone, release_zips, emulator_url, plugin_cache, tmp_path
):
    # Given the example copied out of the repository, sourcing wspush at the tag
    directory = _copied_out(tagged_clone, example, tmp_path)
    assert not str(directory).startswith(str(ROOT))
    # When it is initialised, validated and planned with the release zips
    for command in (["init", "-input=false", "-lockfile=readonly"], ["validate"]):
        result = _terraform(directory, emulator_url, plugin_cache, *command)
        assert result.returncode == 0, result.stdout + result.stderr
    packages = _package_variables(directory, release_zips)
    assert "lambda_package" in packages
    result, output = _plan(directory, emulator_url, plugin_cache, packages)
    # Then every resource plans, the functions from the release zip
    assert result.returncode == 0, output
    assert "to add, 0 to change, 0 to destroy" in output
    # The one warning allowed: reset_on_delete is deprecated in provider 5.x only because
    # 6.0 makes it the default (test_terraform_plan.py says why the module sets it).
    warnings = output.split("Warning: ")[1:]
    assert all(RESET_ON_DELETE_DEPRECATED in warning for warning in warnings), output
    assert f'filename = "{release_zips["lambda_package"]}"' in output
    if example == "basic":
        # And without a lambda_package, the module says what to set (once is enough)
        result, output = _plan(
            directory, emulator_url, plugin_cache, {**packages, "lambda_package": "null"}
        )
        assert result.returncode != 0
        assert "Set lambda_package to the release's wspush-lambda-<version>.zip" in output
