"""Write a module README's inputs and outputs tables from its variables.tf and outputs.tf.

The tables take terraform-docs' markdown-table layout (Requirements, Inputs, Outputs) and
go between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->``; everything else in the
README is left alone. ``--check`` changes nothing and fails when a README is out of date.

The parser reads the subset of HCL that variable, output and terraform blocks are written
in: top-level blocks, their ``name = expression`` attributes (an expression runs until its
brackets close) and nested blocks (validation, required_providers), with strings, heredocs
and comments skipped while brackets are matched. Expressions are shown as written.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
DEFAULT_MODULES = [Path(__file__).resolve().parents[1] / "terraform" / "modules" / "wspush"]
_BLOCK_START = re.compile(r'^(variable|output|terraform)\b\s*(?:"([^"]+)")?\s*\{', re.MULTILINE)
_ATTRIBUTE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)\s*=(?!=)\s*")
_NESTED_BLOCK = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*(?:"[^"]*"\s*)*\{')
_HEREDOC = re.compile(r"<<-?([A-Za-z_]+)\n")


class ModuleDocsError(RuntimeError):
    """A file the parser cannot read, or a README without the markers."""


@dataclass(frozen=True)
class Variable:
    name: str
    description: str
    type: str
    default: str | None  # the expression as written; None when the variable is required


@dataclass(frozen=True)
class Output:
    name: str
    description: str


def _skip_string(text: str, start: int) -> int:
    """The index after the string literal that opens at ``start``."""
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return index + 1
        index += 1
    raise ModuleDocsError(f"unterminated string at offset {start}")


def _skip_trivia(text: str, index: int) -> int | None:
    """The index after a comment, string or heredoc opening at ``index``; None if none."""
    if text.startswith(("#", "//"), index):
        end = text.find("\n", index)
        return len(text) if end == -1 else end
    if text.startswith("/*", index):
        return text.index("*/", index) + 2
    if text[index] == '"':
        return _skip_string(text, index)
    heredoc = _HEREDOC.match(text, index)
    if heredoc:
        end = re.compile(rf"^\s*{heredoc.group(1)}\s*$", re.MULTILINE).search(text, heredoc.end())
        if end is None:
            raise ModuleDocsError(f"unterminated heredoc at offset {index}")
        return end.end()
    return None


def _expression_end(text: str, start: int) -> int:
    """Where the expression starting at ``start`` ends: a newline outside brackets."""
    depth = 0
    index = start
    while index < len(text):
        skipped = _skip_trivia(text, index)
        if skipped is not None:
            if text[index] in "#/" and depth == 0:
                return index
            index = skipped
            continue
        character = text[index]
        if character in "([{":
            depth += 1
        elif character in ")]}":
            if depth == 0:
                return index
            depth -= 1
        elif character == "\n" and depth == 0:
            return index
        index += 1
    return index


def _block_body(text: str, opening: int) -> tuple[str, int]:
    """The body of the block whose ``{`` is at ``opening``, and the index after its ``}``."""
    depth = 0
    index = opening
    while index < len(text):
        skipped = _skip_trivia(text, index)
        if skipped is not None:
            index = skipped
            continue
        if text[index] in "([{":
            depth += 1
        elif text[index] in ")]}":
            depth -= 1
            if depth == 0:
                return text[opening + 1 : index], index + 1
        index += 1
    raise ModuleDocsError(f"unclosed block at offset {opening}")


def _attributes(body: str) -> tuple[dict[str, str], dict[str, str]]:
    """The body's attributes (name -> expression) and nested blocks (name -> body)."""
    attributes: dict[str, str] = {}
    blocks: dict[str, str] = {}
    index = 0
    while index < len(body):
        skipped = _skip_trivia(body, index)
        if skipped is not None:
            index = skipped
            continue
        if body[index].isspace():
            index += 1
            continue
        attribute = _ATTRIBUTE.match(body, index)
        if attribute:
            end = _expression_end(body, attribute.end())
            attributes[attribute.group(1)] = body[attribute.end() : end].strip()
            index = end
            continue
        nested = _NESTED_BLOCK.match(body, index)
        if nested:
            inner, index = _block_body(body, nested.end() - 1)
            blocks.setdefault(nested.group(1), inner)
            continue
        raise ModuleDocsError(f"cannot read {body[index : index + 40]!r}")
    return attributes, blocks


def _blocks(path: Path, kind: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    text = path.read_text() if path.is_file() else ""
    found = []
    for match in _BLOCK_START.finditer(text):
        if match.group(1) == kind:
            body, _ = _block_body(text, match.end() - 1)
            found.append((match.group(2) or "", *_attributes(body)))
    return found


def _string(expression: str) -> str:
    """The value of a quoted HCL string (escapes and ``$${`` resolved)."""
    if not (expression.startswith('"') and expression.endswith('"')):
        raise ModuleDocsError(f"description must be a quoted string: {expression[:40]}")
    inner = expression[1:-1].replace("$${", "${").replace("%%{", "%{")
    return re.sub(
        r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), inner
    )


def read_variables(module: Path) -> list[Variable]:
    return sorted(
        (
            Variable(
                name=name,
                description=_string(attributes.get("description", '""')),
                type=attributes.get("type", "any"),
                default=attributes.get("default"),
            )
            for name, attributes, _ in _blocks(module / "variables.tf", "variable")
        ),
        key=lambda variable: variable.name,
    )


def read_outputs(module: Path) -> list[Output]:
    return sorted(
        (
            Output(name=name, description=_string(attributes.get("description", '""')))
            for name, attributes, _ in _blocks(module / "outputs.tf", "output")
        ),
        key=lambda output: output.name,
    )


def read_requirements(module: Path) -> list[tuple[str, str]]:
    requirements = []
    for _, attributes, blocks in _blocks(module / "versions.tf", "terraform"):
        if "required_version" in attributes:
            requirements.append(("terraform", _string(attributes["required_version"])))
        providers, _ = _attributes(blocks.get("required_providers", ""))
        for name, expression in sorted(providers.items()):
            version = re.search(r'version\s*=\s*("(?:[^"\\]|\\.)*")', expression)
            requirements.append((name, _string(version.group(1)) if version else "n/a"))
    return requirements


def _cell(text: str, html: bool = True) -> str:
    """A table cell: pipes escaped, line breaks as <br> (terraform-docs does the same), and
    angle brackets escaped where Markdown would read them as HTML."""
    if html:
        text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.strip().replace("|", "\\|").replace("\n", "<br>")


def _code(expression: str) -> str:
    """An expression as written; a multi-line one dedented under its first line."""
    first, *rest = expression.split("\n")
    if not rest:
        return f"`{_cell(expression, html=False)}`"
    return f"<pre>{_cell(first + chr(10) + textwrap.dedent(chr(10).join(rest)))}</pre>"


def _anchor(kind: str, name: str) -> str:
    escaped = name.replace("_", "\\_")
    return f'<a name="{kind}_{name}"></a> [{name}](#{kind}\\_{escaped})'


def tables(module: Path) -> str:
    lines = ["## Requirements", "", "| Name | Version |", "|------|---------|"]
    lines += [f"| {_anchor('requirement', n)} | {_cell(v)} |" for n, v in read_requirements(module)]
    lines += ["", "## Inputs", ""]
    lines += ["| Name | Description | Type | Default | Required |"]
    lines += ["|------|-------------|------|---------|:--------:|"]
    for variable in read_variables(module):
        default = "n/a" if variable.default is None else _code(variable.default)
        required = "yes" if variable.default is None else "no"
        lines.append(
            f"| {_anchor('input', variable.name)} | {_cell(variable.description)} | "
            f"{_code(variable.type)} | {default} | {required} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    lines += [
        f"| {_anchor('output', o.name)} | {_cell(o.description)} |" for o in read_outputs(module)
    ]
    return "\n".join(lines) + "\n"


def updated_readme(module: Path) -> tuple[str, str]:
    """The README as it is, and as it should be."""
    readme = module / "README.md"
    current = readme.read_text()
    if current.count(BEGIN) != 1 or current.count(END) != 1:
        raise ModuleDocsError(f"{readme} needs one {BEGIN} and one {END} line")
    head, rest = current.split(BEGIN)
    _, tail = rest.split(END)
    return current, f"{head}{BEGIN}\n{tables(module)}{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when a README is out of date")
    parser.add_argument("modules", nargs="*", type=Path, default=DEFAULT_MODULES)
    args = parser.parse_args()
    stale = []
    try:
        for module in args.modules:
            current, wanted = updated_readme(module)
            if current == wanted:
                continue
            if args.check:
                stale.append(str(module / "README.md"))
            else:
                (module / "README.md").write_text(wanted)
                print(f"module-docs: wrote {module / 'README.md'}")
    except ModuleDocsError as error:
        print(f"module-docs: {error}", file=sys.stderr)
        return 1
    if stale:
        print(
            f"module-docs: out of date (run make docs-tables): {', '.join(stale)}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
