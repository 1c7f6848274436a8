#!/usr/bin/env bash
# The browser test drives Debian's Chromium (through playwright-core, which downloads no
# browser). Install it with apt-get when it is missing: directly as root (CI), through
# `sudo -n` otherwise. CHROMIUM_PATH points at another binary.
set -euo pipefail

binary="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ -x "$binary" ]]; then
  exit 0
fi
if [[ -n "${CHROMIUM_PATH:-}" ]]; then
  echo "ensure-chromium: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable" >&2
  exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "ensure-chromium: Chromium is missing; install it with: sudo apt-get install -y chromium" >&2
  exit 1
fi

echo "ensure-chromium: installing Debian's chromium package (once)"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$binary" --version
