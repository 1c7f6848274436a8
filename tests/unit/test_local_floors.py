"""The local stack's folders are its floors, and imports only go down.

cli -> stack -> gateway, emulator -> runtime. gateway and emulator are one floor apart from
each other: neither imports the other, so each can change without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "local" / "wspush_local"

MAY_IMPORT = {
    "cli": {"cli", "stack", "gateway", "emulator", "runtime"},
    "stack": {"stack", "gateway", "emulator", "runtime"},
    "gateway": {"gateway", "runtime"},
    "emulator": {"emulator", "runtime"},
    "runtime": {"runtime"},
}


def _floors_imported(path: Path) -> set[str]:
    floors: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "wspush_local" and len(parts) > 1:
                floors.add(parts[1])
    return floors


def test_every_module_lives_on_a_floor() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert loose == []
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(
        MAY_IMPORT
    )


def test_imports_only_go_down() -> None:
    upward = []
    for floor, allowed in MAY_IMPORT.items():
        for module in sorted((PACKAGE / floor).glob("*.py")):
            for imported in sorted(_floors_imported(module) - allowed):
                upward.append(f"{floor}/{module.name} imports wspush_local.{imported}")
    assert upward == []


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from wspush_local.stack.run import Stack\nfrom wspush_local import cli\n")
    assert _floors_imported(module) == {"stack", "cli"}
