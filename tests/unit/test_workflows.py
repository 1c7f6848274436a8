"""The GitHub workflows parse, run on what they should, and only call make targets that
exist: everything they do can be done locally with the same command."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
MAKE_TARGETS = set(re.findall(r"^([a-zA-Z0-9_-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def _workflow(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as true.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def _commands(workflow: dict[str, Any]) -> list[str]:
    return [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]


@pytest.mark.parametrize("name", ["ci.yml", "release.yml"])
def test_every_command_is_ci_run_make_or_publishing(name: str):
    commands = _commands(_workflow(name))
    assert commands
    for command in commands:
        if command.startswith("make "):
            target = command.split()[1]
            assert target in MAKE_TARGETS, f"{name} runs make {target}, which the Makefile lacks"
        else:
            assert command == ".ci/run" or command.startswith("gh release create "), command
    assert ".ci/run" in commands


@pytest.mark.parametrize("name", ["ci.yml", "release.yml"])
def test_terraform_is_the_pinned_version(name: str):
    pinned = (ROOT / ".terraform-version").read_text().strip()
    versions = [
        step["with"]["terraform_version"]
        for job in _workflow(name)["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").startswith("hashicorp/setup-terraform@")
    ]
    assert versions == [pinned]


def test_ci_runs_on_every_push_and_pull_request():
    triggers = _workflow("ci.yml")["on"]
    assert set(triggers) == {"push", "pull_request"}
    assert triggers["push"]["branches"] == ["**"]


def test_a_version_tag_releases_what_make_release_wrote():
    workflow = _workflow("release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    commands = _commands(workflow)
    assert 'make release TAG="$GITHUB_REF_NAME"' in commands
    (publish,) = [c for c in commands if c.startswith("gh release create ")]
    assert '"$GITHUB_REF_NAME" dist/release/* --verify-tag' in publish
    assert "--notes-file dist/release-notes.md" in publish
    # The tests pass before anything is published.
    assert commands.index(".ci/run") < commands.index('make release TAG="$GITHUB_REF_NAME"')
