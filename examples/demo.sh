#!/usr/bin/env bash
# The main job on the embedded defaults: a sample project in a temporary folder.
# Usage: examples/demo.sh [path/to/coditect]
set -euo pipefail
coditect=$(realpath "${1:-coditect}" 2>/dev/null || command -v coditect)
plan=$(realpath "$(dirname "$0")/tasklist.md")
workdir=$(mktemp -d -t coditect-demo.XXXXXX)
trap 'rm -rf "$workdir"' EXIT
cd "$workdir"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ coditect %s%s\n' "$bold" "$*" "$plain"; "$coditect" "$@"; }

step init --name bookshelf
step plan import "$plan"
step report
step task ready
step task next
step task graph
printf '\nThe demo project lived in %s (removed on exit).\n' "$workdir"
