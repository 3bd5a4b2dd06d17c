#!/usr/bin/env bash
# Fails when `make manifests generate` changed committed files: generated
# CRDs, RBAC and deepcopy code must be committed and current. Outside CI it
# only warns, so work in progress is not blocked.
set -euo pipefail
paths=(config/crd config/rbac/role.yaml config/webhook api charts/boxoffice/crds charts/boxoffice/files)
changed="$(git status --porcelain -- "${paths[@]}" 2>/dev/null | grep -v '^??' || true)"
untracked="$(git status --porcelain -- "${paths[@]}" 2>/dev/null | grep '^??' | grep -E 'zz_generated|config/' || true)"
if [ -n "$changed$untracked" ]; then
  echo "generated files are not current; run 'make manifests generate' and commit:" >&2
  echo "$changed$untracked" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
fi
