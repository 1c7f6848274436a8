"""The emulator's state and the Terraform state, saved together after an apply.

A snapshot is keyed by everything the apply reads: every file of the configuration and of
the modules it uses (``terraform/``, and the example's directory for ``--example``), the
provider lock, the variables and the var file, the built function zips in ``dist/``, the
Terraform and moto versions and the emulator's own code (which decides what an apply
creates). The emulator's address is the one variable left out: it only says where the
provider connects, and no resource records it.

- Same key: the emulator's state is loaded and the Terraform state copied back; nothing is
  applied (a few seconds instead of a minute).
- Another key: the snapshot is restored and Terraform applies the difference (the log names
  what changed); a failed apply falls back to applying everything to an empty emulator.
  A changed configuration is always applied, never skipped.
- A snapshot that is unreadable, of another format, or whose files do not match the
  digests recorded with them is discarded and rebuilt by applying from scratch.
- One made by another emulator (moto's version or the emulator's code changed) is never
  loaded either: its saved objects may not fit this one.

Each configuration (the root one, each example) has its own slot, written whole into a new
directory and then swapped in, so a reader sees the old snapshot, the new one, or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Bump when the layout changes: older snapshots are then rebuilt, never read.
FORMAT = 1
KEY_FILE = "key.json"
EMULATOR_FILE = "emulator.pickle"
STATE_FILE = "terraform.tfstate"
OUTPUTS_FILE = "outputs.json"
# The digests of the emulator's own code are named so.
EMULATOR_INPUT = "emulator:"
# Where the provider connects: not part of the key (see the module docstring).
ADDRESS_VARIABLES = frozenset({"emulator_endpoint"})
# Files in a configuration directory that the apply does not read.
_NOT_READ_DIRECTORIES = frozenset({".terraform", "tests", "__pycache__"})
_NOT_READ_SUFFIXES = (".md", ".tfstate", ".tfstate.backup", ".tftest.hcl")


class SnapshotError(RuntimeError):
    """A snapshot cannot be used; the caller applies from scratch instead."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def configuration_files(directory: Path) -> Iterable[Path]:
    """The files of a configuration directory that an apply may read."""
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if not path.is_file() or _NOT_READ_DIRECTORIES.intersection(relative.parts[:-1]):
            continue
        hidden = path.name.startswith(".") and path.name != ".terraform.lock.hcl"
        if not hidden and not path.name.endswith(_NOT_READ_SUFFIXES):
            yield path


@dataclass(frozen=True)
class Inputs:
    """What an apply reads, each as a digest: ``file:<path>``, ``variable:<name>``,
    ``version:<tool>``."""

    digests: dict[str, str]

    @property
    def key(self) -> str:
        return _digest(json.dumps(sorted(self.digests.items())).encode())

    def emulator_changed_since(self, earlier: dict[str, str]) -> bool:
        """Whether ``earlier`` was made by another emulator (its code, or moto's version):
        its saved state may not load into this one as it was, so it is not a base."""
        return any(
            name.startswith(EMULATOR_INPUT) or name == "version:moto"
            for name in self.changed_since(earlier)
        )

    def changed_since(self, earlier: dict[str, str]) -> list[str]:
        """The inputs that differ from ``earlier``'s (added, removed or changed)."""
        names = set(self.digests) | set(earlier)
        return sorted(n for n in names if self.digests.get(n) != earlier.get(n))


def inputs_of(
    root: Path,
    directories: Iterable[Path],
    variables: dict[str, str],
    var_file: Path | None,
    versions: dict[str, str],
    emulator: Iterable[Path] = (),
) -> Inputs:
    """The inputs of an apply of the configuration in ``directories`` (the root module's
    and any others it reads), with ``variables`` and ``var_file``; ``versions`` are the
    tools' (terraform, moto), ``emulator`` the emulator's code: its digests are
    ``emulator:<path>``, and a snapshot made by another emulator is never loaded."""
    digests: dict[str, str] = {}
    files: set[Path] = set()
    for directory in directories:
        files.update(configuration_files(directory))
    if var_file is not None:
        files.add(var_file)
    dist = root / "dist"
    if dist.is_dir():
        files.update(p for p in dist.iterdir() if p.is_file())
    for path in sorted(files):
        resolved = path.resolve()
        shown = resolved.relative_to(root) if resolved.is_relative_to(root) else resolved
        digests[f"file:{shown}"] = _file_digest(path)
    for path in sorted(emulator):
        digests[f"{EMULATOR_INPUT}{path.name}"] = _file_digest(path)
    for variable, value in variables.items():
        if variable not in ADDRESS_VARIABLES:
            digests[f"variable:{variable}"] = _digest(value.encode())
    for tool, version in versions.items():
        digests[f"version:{tool}"] = version
    return Inputs(digests)


@dataclass(frozen=True)
class Snapshot:
    directory: Path
    key: str
    digests: dict[str, str]

    def restore(self, state: Path, load_emulator: Callable[[Path], None]) -> dict[str, Any]:
        """Load the emulator's state (``load_emulator``), copy the Terraform state to
        ``state``, and return the outputs saved with them."""
        try:
            outputs: dict[str, Any] = json.loads((self.directory / OUTPUTS_FILE).read_text())
        except (OSError, ValueError) as error:
            raise SnapshotError(f"{self.directory / OUTPUTS_FILE}: {error}") from error
        load_emulator(self.directory / EMULATOR_FILE)
        shutil.copyfile(self.directory / STATE_FILE, state)
        return outputs


class Snapshots:
    """The snapshots in ``directory``, one slot per configuration."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def find(self, slot: str) -> Snapshot | None:
        """The slot's snapshot, checked whole; None when there is none. Raises
        ``SnapshotError`` for one that cannot be trusted."""
        path = self.directory / slot
        if not (path / KEY_FILE).exists():
            return None
        try:
            meta = json.loads((path / KEY_FILE).read_text())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise SnapshotError(f"{path} is of another format")
            for name, expected in meta["files"].items():
                if _file_digest(path / name) != expected:
                    raise SnapshotError(f"{path / name} does not match its recorded digest")
            json.loads((path / STATE_FILE).read_text())
            return Snapshot(path, str(meta["key"]), dict(meta["inputs"]))
        except SnapshotError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise SnapshotError(f"{path} is unreadable: {error!r}") from error

    def save(
        self,
        slot: str,
        inputs: Inputs,
        state: Path,
        outputs: dict[str, Any],
        save_emulator: Callable[[Path], None],
    ) -> Path:
        """Write a new snapshot into ``slot``, replacing the one there."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fresh = self.directory / f".{slot}.new-{os.getpid()}"
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir()
        try:
            save_emulator(fresh / EMULATOR_FILE)
            shutil.copyfile(state, fresh / STATE_FILE)
            (fresh / OUTPUTS_FILE).write_text(json.dumps(outputs, indent=2))
            files = {
                name: _file_digest(fresh / name)
                for name in (EMULATOR_FILE, STATE_FILE, OUTPUTS_FILE)
            }
            meta = {"format": FORMAT, "key": inputs.key, "inputs": inputs.digests, "files": files}
            (fresh / KEY_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
            target = self.directory / slot
            old = self.directory / f".{slot}.old-{os.getpid()}"
            if target.exists():
                target.rename(old)
            fresh.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        return target

    def discard(self, slot: str) -> None:
        shutil.rmtree(self.directory / slot, ignore_errors=True)
