#!/usr/bin/env bash
# Waiting-room benchmark (test/bench/fanout, `fanout room`): one shard with
# its waiting room on and a 2,000-seat hall, four front-end processes, the
# waiting browsers in client processes of 15,000 streams each, and
# everything on 127.0.0.0/8. Prints:
#   - joins per second (per front-end pod when the front end serves
#     POST /api/room; else straight at the shard's POST /v1/room/join, and
#     it says so),
#   - the shard's cost per join: CPU-seconds of the shard process per join
#     (/proc/PID/task/*/schedstat, or /proc/PID/stat ticks),
#   - place updates to ROOM_CLIENTS waiting browsers: from an admission to
#     every waiting page's event showing it (p50/p99/max; the room event
#     straight from the shard, the same record's fan-out through the front
#     ends), and the target line: p99 <= 1 s (printed, not asserted).
# Each front end holds ROOM_CLIENTS/ROOM_FRONTENDS sockets and each client
# process ROOM_PER_WORKER: both must stay under the open-file hard limit
# (`ulimit -Hn`; the benchmark raises the soft one). See
# test/bench/fanout/README.md for what is measured and the figures.
#
# Knobs (environment):
#   ROOM_CLIENTS=50000      waiting browsers (a quick run: 2000)
#   ROOM_JOINS=50000        joins measured
#   ROOM_FRONTENDS=4        front-end processes
#   ROOM_PER_WORKER=15000   streams per client process
#   ROOM_ADMISSIONS=20      admissions measured, one every ROOM_SPACING (2s)
#   ROOM_TIMEOUT=400s       hard cap on the whole run
#   ROOM_JSON=FILE          also write the results as JSON
#   BOXOFFICE_BIN=path      use this binary instead of building one
# The whole run takes about 2 minutes with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOM_CLIENTS=${ROOM_CLIENTS:-50000}
ROOM_JOINS=${ROOM_JOINS:-50000}
ROOM_FRONTENDS=${ROOM_FRONTENDS:-4}
ROOM_PER_WORKER=${ROOM_PER_WORKER:-15000}
ROOM_ADMISSIONS=${ROOM_ADMISSIONS:-20}
ROOM_SPACING=${ROOM_SPACING:-2s}
ROOM_TIMEOUT=${ROOM_TIMEOUT:-400s}

# shellcheck source=hack/fanout-lib.sh
source hack/fanout-lib.sh

args=(room -bin "$bin" -clients "$ROOM_CLIENTS" -joins "$ROOM_JOINS" -frontends "$ROOM_FRONTENDS"
  -per-worker "$ROOM_PER_WORKER" -admissions "$ROOM_ADMISSIONS" -spacing "$ROOM_SPACING" -dir "$tmp/run")
if [[ -n ${ROOM_JSON:-} ]]; then args+=(-json "$ROOM_JSON"); fi
timeout --kill-after=10s "$ROOM_TIMEOUT" "$tmp/fanout" "${args[@]}"
