#!/usr/bin/env bash
# Stop `make destroy` before it starts when the state holds a DynamoDB table with
# deletion_protection on: Terraform would delete everything else, then fail on the table.
set -euo pipefail

dir=${1:?usage: check-deletion-protection.sh <terraform directory>}
protected=$(cd "$dir" && ${TERRAFORM:-terraform} show -json -no-color | python3 -c '
import json, sys

state = json.loads(sys.stdin.read() or "{}")
modules = [state.get("values", {}).get("root_module", {})]
while modules:
    module = modules.pop()
    modules.extend(module.get("child_modules", []))
    for resource in module.get("resources", []):
        values = resource.get("values") or {}
        if resource.get("type") == "aws_dynamodb_table" and values.get("deletion_protection_enabled"):
            print(values.get("name", resource["address"]))
')

if [[ -n "$protected" ]]; then
  tables=$(paste -sd ' ' <<<"$protected")
  cat >&2 <<MESSAGE
make destroy: nothing was destroyed.

deletion_protection is on for these DynamoDB tables: $tables
AWS refuses to delete them, and Terraform would stop half-way after deleting everything
else. To destroy the whole deployment:

  1. set   deletion_protection = false   in terraform/terraform.tfvars
  2. make deploy     (changes only the tables' protection)
  3. make destroy

Keep deletion_protection on in production: the tables hold every live connection and
the channels' history.
MESSAGE
  exit 1
fi
