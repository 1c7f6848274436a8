"""The module README's inputs and outputs tables are generated from the module and cannot
drift (scripts/module_docs.py, `make docs-tables`)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "terraform" / "modules" / "wspush"
module_docs = load_script("module_docs")


def test_the_readme_tables_are_up_to_date():
    current, wanted = module_docs.updated_readme(MODULE)
    assert current == wanted, "terraform/modules/wspush/README.md is stale: run make docs-tables"


def test_every_variable_and_output_is_listed():
    readme = (MODULE / "README.md").read_text()
    declared = {
        "input": re.findall(r'^variable "([^"]+)"', (MODULE / "variables.tf").read_text(), re.M),
        "output": re.findall(r'^output "([^"]+)"', (MODULE / "outputs.tf").read_text(), re.M),
    }
    for kind, names in declared.items():
        assert names
        listed = re.findall(rf'<a name="{kind}_([^"]+)"></a>', readme)
        assert sorted(listed) == sorted(names)


def test_a_new_variable_makes_the_readme_stale(tmp_path: Path):
    module = tmp_path / "wspush"
    shutil.copytree(MODULE, module, ignore=shutil.ignore_patterns(".terraform*", "tests"))
    with (module / "variables.tf").open("a") as variables:
        variables.write('\nvariable "added" {\n  type        = string\n  description = "New."\n}\n')
    current, wanted = module_docs.updated_readme(module)
    assert current != wanted
    assert (
        '| <a name="input_added"></a> [added](#input\\_added) | New. | `string` | n/a | yes |'
        in wanted
    )


def test_the_parser_reads_what_variables_are_written_in(tmp_path: Path):
    (tmp_path / "variables.tf").write_text(
        """# A comment with a brace {
variable "shape" {
  type = object({
    size = optional(number) # inline comment }
  })
  description = "A \\"quoted\\" | piped $${interpolation} with <angles>."
  default     = { size = 1 }

  validation {
    condition     = var.shape.size > 0 && !strcontains("}", "{")
    error_message = "size must be positive: } is not the end."
  }
}

variable "script" {
  type        = string
  description = "A heredoc default."
  default     = <<-EOT
    echo "{"
  EOT
}

variable "required" {
  type        = list(string)
  description = "No default."
}
"""
    )
    (tmp_path / "outputs.tf").write_text('output "o" {\n  description = "Out."\n  value = {}\n}\n')
    variables = {v.name: v for v in module_docs.read_variables(tmp_path)}
    assert variables["shape"].description == 'A "quoted" | piped ${interpolation} with <angles>.'
    assert variables["shape"].type.startswith("object({") and variables["shape"].type.endswith("})")
    assert variables["shape"].default == "{ size = 1 }"
    assert variables["script"].default.startswith("<<-EOT") and "EOT" in variables["script"].default
    assert variables["required"].default is None
    tables = module_docs.tables(tmp_path)
    assert 'A "quoted" \\| piped ${interpolation} with &lt;angles&gt;.' in tables
    assert "| `list(string)` | n/a | yes |" in tables
    assert [o.name for o in module_docs.read_outputs(tmp_path)] == ["o"]
