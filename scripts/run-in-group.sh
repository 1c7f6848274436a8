#!/usr/bin/env bash
# Run a command in its own process group and kill the whole group when it ends, so that
# a failed `terraform test` cannot leave provider processes behind.
set -uo pipefail
setsid "$@" &
child=$!
cleanup() { kill -TERM -- "-$child" 2>/dev/null; sleep 1; kill -KILL -- "-$child" 2>/dev/null; }
trap 'cleanup; exit 130' INT TERM
wait "$child"
status=$?
cleanup
exit "$status"
