"""The README as a front door, and the documentation site: every code block of the README
is run or checked by a test, and a broken link or anchor fails the strict site build."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tests.snippets import ROOT, blocks, named_snippets, snippet
from wspush_local.cli.main import parser

README = ROOT / "README.md"
# Every code block of the README, and the test that runs it.
COVERED = {
    "quickstart-two-commands": "test_the_make_targets_the_readme_names_exist (here)",
    "quickstart-schedule": "test_the_schedule_options_are_the_clis_and_terraforms (here)",
    "quickstart-commands": "tests/e2e/test_readme.py",
    "sdk-mint": "tests/e2e/test_packages.py (the wheel)",
    "js-page": "tests/e2e/test_packages.py (the npm tarball)",
    "sdk-publish": "tests/e2e/test_packages.py (the wheel)",
    "deploy": "test_the_make_targets_the_readme_names_exist (here); "
    "tests/e2e/test_deploy_rehearsal.py runs make deploy and make destroy",
}


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.MULTILINE))


def _shell_commands(name: str) -> list[list[str]]:
    lines = snippet(README, name).splitlines()
    return [shlex.split(line, comments=True) for line in lines if line.strip()]


def test_the_readme_is_a_short_front_door() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 250
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings[:4] == [
        "When to choose it",
        "Quickstart",
        "Integrate in three steps",
        "Deploying",
    ]


def test_every_readme_code_block_is_named_and_run_by_a_test() -> None:
    assert set(named_snippets(README)) == set(COVERED)
    assert len(blocks(README)) == len(COVERED)


def test_the_make_targets_the_readme_names_exist() -> None:
    targets = _makefile_targets()
    for name in ("quickstart-two-commands", "quickstart-commands", "deploy"):
        for command in _shell_commands(name):
            if command[0] == "make":
                assert command[1] in targets, command
            else:
                assert command[:2] == ["cp", "terraform/terraform.tfvars.example"], command
                assert (ROOT / command[1]).is_file()
    assert {"docs", "run", "test", "deploy", "destroy"} <= targets


def test_the_schedule_options_are_the_clis_and_terraforms() -> None:
    variables = (ROOT / "terraform" / "variables.tf").read_text()
    for command in _shell_commands("quickstart-schedule"):
        assert command[:2] == ["make", "run"]
        (run_args,) = [arg.removeprefix("RUN_ARGS=") for arg in command[2:]]
        args = parser().parse_args(["run", *shlex.split(run_args)])
        for assignment in args.var:
            name = assignment.partition("=")[0]
            assert f'variable "{name}"' in variables, name


def test_the_readme_links_resolve() -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text()):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_a_broken_anchor_fails_the_strict_site_build(tmp_path: Path) -> None:
    # Given a copy of the site's sources with one link to a heading that does not exist
    for name in ("mkdocs.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "clients" / "js").mkdir(parents=True)
    shutil.copy(ROOT / "clients" / "js" / "README.md", tmp_path / "clients" / "js" / "README.md")
    with (tmp_path / "docs" / "sdk.md").open("a") as page:
        page.write("\nSee [the protocol](protocol.md#no-such-heading).\n")
    # When the site is built as `make docs` builds it
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Then it fails, naming the anchor
    assert result.returncode != 0
    assert "does not contain an anchor '#no-such-heading'" in result.stderr
