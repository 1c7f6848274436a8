"""Getting the configuration onto the emulator: a snapshot restored, or Terraform applied.

``deploy`` decides with the snapshot of the configuration's slot (``stack.snapshot``):

- its key is the inputs' key: restore it, apply nothing;
- its key differs: restore it and apply (Terraform changes only what changed); should
  that apply fail, empty the emulator and apply everything;
- none, or one that cannot be trusted: apply everything to the empty emulator.

After every apply the emulator's state and the Terraform state are saved together as the
slot's new snapshot, before any function has run. Every step is logged with its time, so
the console says which path a start took and why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moto

from wspush_local.emulator import state as emulator_state
from wspush_local.stack.project import Terraform, TerraformError
from wspush_local.stack.snapshot import Inputs, Snapshot, SnapshotError, Snapshots, inputs_of

log = logging.getLogger("wspush.stack")
# Changed inputs named in the log before "and N more".
SHOWN_CHANGES = 5


@dataclass(frozen=True)
class Deployment:
    outputs: dict[str, Any]
    # "restored", "applied changes" or "applied"
    how: str
    seconds: float


def apply_inputs(
    root: Path, terraform: Terraform, variables: dict[str, str], emulator_code: Path
) -> Inputs:
    """What an apply of ``terraform``'s configuration with ``variables`` reads."""
    directories = {root / "terraform", terraform.directory}
    return inputs_of(
        root,
        sorted(directories),
        variables,
        terraform.var_file,
        {"terraform": terraform.version(), "moto": moto.__version__},
        emulator=sorted(emulator_code.glob("*.py")),
    )


def _describe(changes: list[str]) -> str:
    shown = ", ".join(changes[:SHOWN_CHANGES])
    more = len(changes) - SHOWN_CHANGES
    return shown + (f" and {more} more" if more > 0 else "")


def _trusted(snapshots: Snapshots, slot: str) -> Snapshot | None:
    try:
        return snapshots.find(slot)
    except SnapshotError as error:
        log.warning("snapshot not usable (%s): discarded, applying from scratch", error)
        snapshots.discard(slot)
        return None


def _apply(
    terraform: Terraform, variables: dict[str, str], before_apply: Callable[[], None] | None
) -> dict[str, Any]:
    """init (unless this work directory ran it already) and apply. An init found stale
    (a new module, another provider lock) fails the apply with Terraform's own "run
    terraform init"; then init runs and the apply again. ``before_apply`` runs on the
    emulator as the apply will find it (after a restore or a reset)."""
    if before_apply is not None:
        before_apply()
    initialised = terraform.initialised
    if not initialised:
        terraform.init()
    try:
        terraform.apply(variables)
    except TerraformError as error:
        if not initialised or "terraform init" not in str(error):
            raise
        log.info("terraform asks for init: running it, then the apply again")
        terraform.init()
        terraform.apply(variables)
    return terraform.outputs()


def _apply_from_scratch(
    terraform: Terraform,
    variables: dict[str, str],
    restored: bool,
    before_apply: Callable[[], None] | None,
) -> dict[str, Any]:
    """Apply everything to an empty emulator (emptied first when a snapshot was loaded)."""
    if restored:
        emulator_state.reset()
    if terraform.state is not None:
        terraform.state.unlink(missing_ok=True)
    return _apply(terraform, variables, before_apply)


def deploy(
    terraform: Terraform,
    variables: dict[str, str],
    inputs: Inputs,
    snapshots: Snapshots,
    slot: str,
    use_snapshot: bool = True,
    before_apply: Callable[[], None] | None = None,
) -> Deployment:
    """Blocking: run it in a thread. ``use_snapshot=False`` applies from scratch (and
    still saves the result). ``before_apply`` prepares the emulator for each apply (the
    stack stages the functions' zip in S3); a restore without an apply does not run it."""
    started = time.monotonic()
    assert terraform.state is not None, "the stack's Terraform has a state file of its own"
    saved = _trusted(snapshots, slot) if use_snapshot else None
    if saved is not None and inputs.emulator_changed_since(saved.digests):
        log.info("the snapshot was made by another emulator (moto or its code changed)")
        snapshots.discard(slot)
        saved = None
    outputs: dict[str, Any] | None = None
    how = "applied"
    restored = saved is not None
    if saved is not None:
        try:
            outputs = saved.restore(terraform.state, emulator_state.load)
        except (SnapshotError, emulator_state.EmulatorStateError, OSError) as error:
            log.warning("snapshot not usable (%s): discarded, applying from scratch", error)
            snapshots.discard(slot)
            saved = None
    if saved is not None and saved.key == inputs.key:
        log.info(
            "nothing the apply reads changed since the last run: emulator and Terraform "
            "state restored from %s, no apply",
            saved.directory,
        )
        assert outputs is not None
        return Deployment(outputs, "restored", time.monotonic() - started)
    if saved is not None:
        log.info(
            "changed since the last run: %s; terraform applies the change…",
            _describe(inputs.changed_since(saved.digests)),
        )
        try:
            outputs = _apply(terraform, variables, before_apply)
            how = "applied changes"
        except TerraformError as error:
            log.warning("applying the change failed; applying from scratch: %s", error)
            outputs = None
    if how == "applied" or outputs is None:
        log.info("terraform init + apply against the emulator…")
        outputs = _apply_from_scratch(terraform, variables, restored, before_apply)
    try:
        snapshots.save(slot, inputs, terraform.state, outputs, emulator_state.save)
    except (emulator_state.EmulatorStateError, OSError) as error:
        log.warning("could not save a snapshot (the next run applies again): %s", error)
    return Deployment(outputs, how, time.monotonic() - started)
