#!/usr/bin/env bash
# Admission latency of the freeze webhook with 100 active FreezeWindows: p50,
# p90, p99 and max of the Showtime validator's decision, read from a real
# informer cache against an envtest API server. See hack/bench/admission.
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$(hack/envtest-bins.sh kube-apiserver etcd)}"
go run ./hack/bench/admission -root . -windows "${WINDOWS:-100}" -n "${N:-5000}"
