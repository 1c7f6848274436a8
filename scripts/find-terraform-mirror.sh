#!/usr/bin/env bash
# Print the directory of a local Terraform provider mirror holding hashicorp/aws, or
# nothing. TF_PLUGIN_MIRROR wins; then Terraform's implied mirror locations; then
# mirrors packaged under /opt (offline build machines).
set -euo pipefail

if [[ -n "${TF_PLUGIN_MIRROR:-}" ]]; then
  echo "$TF_PLUGIN_MIRROR"
  exit 0
fi
candidates=("$HOME/.terraform.d/plugins" "$HOME/.local/share/terraform/plugins"
  /usr/local/share/terraform/plugins /usr/share/terraform/plugins)
for dir in /opt/*/; do candidates+=("${dir%/}"); done
for dir in "${candidates[@]}"; do
  if [[ -d "$dir/registry.terraform.io/hashicorp/aws" ]]; then
    echo "$dir"
    exit 0
  fi
done
