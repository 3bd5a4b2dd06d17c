#!/usr/bin/env bash
# Admission latency of the Showtime freeze webhook with 100 active
# FreezeWindows, against an envtest kube-apiserver and etcd on loopback
# (see test/bench/admission for the details). Prints p50, p90, p99 and max of:
#   - in process: the validator's ValidateUpdate alone, windows from an
#     informer cache (no TLS, AdmissionReview decoding or API server), for a
#     denied edit and an allowed rollback;
#   - end to end: dry-run Showtime updates sent by a client to the API server,
#     timed until its answer, through its TLS call to the real webhooks
#     (config/webhook, served by a manager with webhooks.Setup): a denied edit,
#     an allowed scale-up, and as baseline the same scale-up of a Showtime the
#     webhook is not called for; then the webhook's added p99 (difference and
#     ratio) and whether the denied case's p99 meets the 10 ms target.
# Times are reported, never asserted.
#
#   N=2000            end-to-end requests per case
#   INPROC_N=5000     in-process decisions per case
#   E2E_TIME=75s      time limit of the end-to-end measurement
#   WINDOWS=100       active FreezeWindows
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$(hack/envtest-bins.sh kube-apiserver etcd)}"
go run ./test/bench/admission -root . -windows "${WINDOWS:-100}" -n "${N:-2000}" \
  -inproc-n "${INPROC_N:-5000}" -e2e-time "${E2E_TIME:-75s}"
