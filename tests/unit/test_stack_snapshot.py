"""The stack's snapshot: keyed by what the apply reads; same key restores, another applies,
an untrustworthy one is rebuilt."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from wspush_local.emulator.state import EmulatorStateError
from wspush_local.stack import deploy as deploy_module
from wspush_local.stack.deploy import deploy
from wspush_local.stack.project import TerraformError
from wspush_local.stack.snapshot import EMULATOR_FILE, Inputs, Snapshots, inputs_of

VARIABLES = {"emulator_endpoint": "http://127.0.0.1:5100", "stage_name": "local"}
VERSIONS = {"terraform": "1.11.0", "moto": "5.2.5"}


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "terraform" / "modules" / "m").mkdir(parents=True)
    (root / "terraform" / "main.tf").write_text('module "m" { source = "./modules/m" }\n')
    (root / "terraform" / "modules" / "m" / "main.tf").write_text("# module\n")
    (root / "terraform" / ".terraform.lock.hcl").write_text("# lock\n")
    (root / "dist").mkdir()
    (root / "dist" / "fn.zip").write_bytes(b"zip")
    (root / "emulator.py").write_text("# the emulator's code\n")
    return root


def _inputs(
    root: Path, variables: dict[str, str] | None = None, versions: dict[str, str] | None = None
) -> Inputs:
    return inputs_of(
        root,
        [root / "terraform"],
        variables or VARIABLES,
        None,
        versions or VERSIONS,
        emulator=[root / "emulator.py"],
    )


def test_the_key_follows_every_input_of_the_apply(tmp_path):
    root = _project(tmp_path)
    key = _inputs(root).key
    assert _inputs(root).key == key

    for changed in (
        root / "terraform" / "modules" / "m" / "main.tf",
        root / "terraform" / ".terraform.lock.hcl",
        root / "dist" / "fn.zip",
    ):
        original = changed.read_bytes()
        changed.write_bytes(original + b"# changed\n")
        assert _inputs(root).key != key, changed
        changed.write_bytes(original)
    assert _inputs(root).key == key

    assert _inputs(root, {**VARIABLES, "stage_name": "other"}).key != key
    assert _inputs(root, {**VARIABLES, "extra": "1"}).key != key
    assert _inputs(root, versions={**VERSIONS, "moto": "6"}).key != key
    (root / "emulator.py").write_text("# changed\n")
    assert _inputs(root).key != key
    (root / "emulator.py").write_text("# the emulator's code\n")
    assert _inputs(root).key == key
    var_file = root / "local.tfvars"
    var_file.write_text('x = "1"\n')
    assert inputs_of(root, [root / "terraform"], VARIABLES, var_file, VERSIONS).key != key


def test_the_emulator_address_tests_and_docs_are_not_inputs(tmp_path):
    root = _project(tmp_path)
    key = _inputs(root).key
    assert _inputs(root, {**VARIABLES, "emulator_endpoint": "http://127.0.0.1:41234"}).key == key
    (root / "terraform" / "tests").mkdir()
    (root / "terraform" / "tests" / "a.tftest.hcl").write_text("run {}\n")
    (root / "terraform" / "README.md").write_text("# docs\n")
    (root / "terraform" / ".terraform").mkdir()
    (root / "terraform" / ".terraform" / "x").write_text("provider\n")
    assert _inputs(root).key == key


def test_changed_since_names_what_changed(tmp_path):
    root = _project(tmp_path)
    before = _inputs(root).digests
    (root / "terraform" / "main.tf").write_text("# changed\n")
    (root / "terraform" / "extra.tf").write_text("# new\n")
    changed = _inputs(root, {**VARIABLES, "stage_name": "x"}).changed_since(before)
    assert changed == ["file:terraform/extra.tf", "file:terraform/main.tf", "variable:stage_name"]


class FakeTerraform:
    """The Terraform calls ``deploy`` makes, recorded; apply writes the state."""

    def __init__(self, state: Path, emulator: FakeEmulator, fail_applies: int = 0) -> None:
        self.state = state
        self.emulator = emulator
        # What an apply leaves in the emulator.
        self.deployed = "deployed v1"
        self.calls: list[str] = []
        self.fail_applies = fail_applies
        self.initialised = False
        self.failure = "boom"

    def init(self) -> None:
        self.calls.append("init")
        self.initialised = True

    def apply(self, variables: dict[str, str]) -> None:
        self.calls.append("apply")
        if self.fail_applies:
            self.fail_applies -= 1
            raise TerraformError(f"terraform apply failed:\n{self.failure}")
        self.state.write_text(json.dumps({"version": 4, "applied": len(self.calls)}))
        self.emulator.contents = self.deployed

    def outputs(self) -> dict[str, Any]:
        self.calls.append("outputs")
        return {"api_id": "a1"}


class FakeEmulator:
    """The emulator's state as a string: what save writes, load reads."""

    def __init__(self) -> None:
        self.contents = "empty"
        self.calls: list[str] = []

    def save(self, path: Path) -> None:
        self.calls.append("save")
        path.write_text(self.contents)

    def load(self, path: Path) -> None:
        self.calls.append("load")
        text = path.read_text()
        if not text.startswith("deployed"):
            raise EmulatorStateError(f"cannot load {path}")
        self.contents = text

    def reset(self) -> None:
        self.calls.append("reset")
        self.contents = "empty"


@pytest.fixture
def emulator(monkeypatch) -> FakeEmulator:
    fake = FakeEmulator()
    monkeypatch.setattr(deploy_module, "emulator_state", fake)
    fake.EmulatorStateError = EmulatorStateError  # type: ignore[attr-defined]
    return fake


def _deploy(tmp_path: Path, terraform: FakeTerraform, inputs: Inputs, **kwargs: Any):
    return deploy(terraform, VARIABLES, inputs, Snapshots(tmp_path / "snapshots"), "root", **kwargs)


def test_first_run_applies_and_saves_then_an_unchanged_run_restores_without_applying(
    tmp_path, emulator
):
    root = _project(tmp_path)
    terraform = FakeTerraform(tmp_path / "work" / "terraform.tfstate", emulator)
    terraform.state.parent.mkdir()

    first = _deploy(tmp_path, terraform, _inputs(root))
    assert first.how == "applied"
    assert terraform.calls == ["init", "apply", "outputs"]
    assert emulator.calls == ["save"]  # a fresh emulator is empty already

    terraform.state.unlink()  # a new work directory: only the snapshot knows the state
    emulator.reset()
    terraform.calls.clear()
    emulator.calls.clear()
    second = _deploy(tmp_path, terraform, _inputs(root))
    assert second.how == "restored"
    assert second.outputs == {"api_id": "a1"}
    assert terraform.calls == []
    assert emulator.calls == ["load"]
    assert emulator.contents == "deployed v1"
    assert json.loads(terraform.state.read_text())["applied"] == 2


def test_a_changed_configuration_is_always_applied(tmp_path, emulator, caplog):
    root = _project(tmp_path)
    terraform = FakeTerraform(tmp_path / "terraform.tfstate", emulator)
    _deploy(tmp_path, terraform, _inputs(root))
    (root / "terraform" / "modules" / "m" / "main.tf").write_text("# module, changed\n")
    terraform.calls.clear()
    emulator.calls.clear()

    caplog.set_level(logging.INFO, logger="wspush.stack")
    changed = _deploy(tmp_path, terraform, _inputs(root))
    assert changed.how == "applied changes"
    # Restored first, so Terraform changes only what changed; then saved anew.
    assert emulator.calls == ["load", "save"]
    assert terraform.calls == ["apply", "outputs"]  # this work directory ran init already
    assert "changed since the last run: file:terraform/modules/m/main.tf" in caplog.text

    terraform.calls.clear()
    assert _deploy(tmp_path, terraform, _inputs(root)).how == "restored"
    assert terraform.calls == []


def test_a_failed_incremental_apply_falls_back_to_an_apply_from_scratch(tmp_path, emulator):
    root = _project(tmp_path)
    terraform = FakeTerraform(tmp_path / "terraform.tfstate", emulator)
    _deploy(tmp_path, terraform, _inputs(root))
    (root / "terraform" / "main.tf").write_text("# changed\n")
    terraform.calls.clear()
    emulator.calls.clear()
    terraform.fail_applies = 1

    result = _deploy(tmp_path, terraform, _inputs(root))
    assert result.how == "applied"
    assert terraform.calls == ["apply", "apply", "outputs"]
    assert emulator.calls == ["load", "reset", "save"]


@pytest.mark.parametrize("damage", ["truncated", "format", "key_file", "state"])
def test_a_corrupt_or_old_snapshot_is_discarded_and_rebuilt(tmp_path, emulator, damage, caplog):
    root = _project(tmp_path)
    terraform = FakeTerraform(tmp_path / "terraform.tfstate", emulator)
    _deploy(tmp_path, terraform, _inputs(root))
    slot = tmp_path / "snapshots" / "root"
    if damage == "truncated":
        (slot / EMULATOR_FILE).write_text("deployed v")
    elif damage == "format":
        meta = json.loads((slot / "key.json").read_text())
        (slot / "key.json").write_text(json.dumps({**meta, "format": 0}))
    elif damage == "key_file":
        (slot / "key.json").write_text("{not json")
    else:
        (slot / "terraform.tfstate").write_text("")
    terraform.calls.clear()
    emulator.calls.clear()

    caplog.set_level(logging.WARNING, logger="wspush.stack")
    result = _deploy(tmp_path, terraform, _inputs(root))
    assert result.how == "applied"
    assert "snapshot not usable" in caplog.text
    assert terraform.calls == ["apply", "outputs"]
    assert emulator.calls == ["save"]  # never loaded: the emulator is still empty
    # Rebuilt: the next run restores it.
    assert Snapshots(tmp_path / "snapshots").find("root") is not None
    assert _deploy(tmp_path, terraform, _inputs(root)).how == "restored"


def test_an_emulator_state_that_does_not_load_is_rebuilt(tmp_path, emulator):
    root = _project(tmp_path)
    terraform = FakeTerraform(tmp_path / "terraform.tfstate", emulator)
    terraform.deployed = "unloadable"  # saved whole (digests match), refused on load
    _deploy(tmp_path, terraform, _inputs(root))
    terraform.deployed = "deployed v2"
    terraform.calls.clear()
    emulator.calls.clear()
    assert _deploy(tmp_path, terraform, _inputs(root)).how == "applied"
    assert emulator.calls == ["load", "reset", "save"]


def test_fresh_applies_even_when_the_snapshot_matches(tmp_path, emulator):
    root = _project(tmp_path)
    terraform = FakeTerraform(tmp_path / "terraform.tfstate", emulator)
    _deploy(tmp_path, terraform, _inputs(root))
    terraform.calls.clear()
    assert _deploy(tmp_path, terraform, _inputs(root), use_snapshot=False).how == "applied"
    assert terraform.calls == ["apply", "outputs"]


def test_an_init_terraform_finds_stale_runs_again(tmp_path, emulator, caplog):
    root = _project(tmp_path)
    terraform = FakeTerraform(tmp_path / "terraform.tfstate", emulator)
    _deploy(tmp_path, terraform, _inputs(root))
    (root / "terraform" / "main.tf").write_text('module "new" { source = "./modules/m" }\n')
    terraform.calls.clear()
    terraform.fail_applies = 1
    terraform.failure = 'Error: Module not installed ... run "terraform init".'
    caplog.set_level(logging.INFO, logger="wspush.stack")
    assert _deploy(tmp_path, terraform, _inputs(root)).how == "applied changes"
    assert terraform.calls == ["apply", "init", "apply", "outputs"]
    assert "terraform asks for init" in caplog.text


@pytest.mark.parametrize("change", ["moto", "emulator code"])
def test_a_snapshot_of_another_emulator_is_never_loaded(tmp_path, emulator, change, caplog):
    root = _project(tmp_path)
    terraform = FakeTerraform(tmp_path / "terraform.tfstate", emulator)
    _deploy(tmp_path, terraform, _inputs(root))
    versions = VERSIONS
    if change == "moto":
        versions = {**VERSIONS, "moto": "5.3.0"}
    else:
        (root / "emulator.py").write_text("# changed\n")
    terraform.calls.clear()
    emulator.calls.clear()
    caplog.set_level(logging.INFO, logger="wspush.stack")
    assert _deploy(tmp_path, terraform, _inputs(root, versions=versions)).how == "applied"
    assert "made by another emulator" in caplog.text
    assert emulator.calls == ["save"]  # never "load"


def test_before_apply_runs_on_the_emulator_each_apply_finds(tmp_path, emulator):
    # The stack uploads the functions' zip here: after a restore or a reset (which would
    # lose an earlier upload), before Terraform reads it; a restore alone needs none.
    root = _project(tmp_path)
    terraform = FakeTerraform(tmp_path / "terraform.tfstate", emulator)
    staged: list[str] = []

    def before_apply() -> None:
        staged.append(emulator.calls[-1] if emulator.calls else "nothing yet")
        terraform.calls.append("before_apply")

    _deploy(tmp_path, terraform, _inputs(root), before_apply=before_apply)
    assert terraform.calls[:3] == ["before_apply", "init", "apply"]
    assert _deploy(tmp_path, terraform, _inputs(root), before_apply=before_apply).how == "restored"
    assert len(staged) == 1
    (root / "terraform" / "main.tf").write_text("# changed\n")
    terraform.fail_applies = 1
    assert _deploy(tmp_path, terraform, _inputs(root), before_apply=before_apply).how == "applied"
    assert staged == ["nothing yet", "load", "reset"]
