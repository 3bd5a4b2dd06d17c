#!/usr/bin/env bash
# Runs every Go fuzz target for the given time each (default 30s).
# `make test` already runs each target's seed corpus as a plain test.
set -euo pipefail
t="${1:-30s}"
cd "$(dirname "$0")/.."
for pkg in $(go list ./...); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  for target in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u); do
    echo "== $pkg $target ($t)"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$t"
  done
done
