#!/usr/bin/env bash
# Fan-out benchmark of the booking front end (test/bench/fanout): one shard and
# one front-end process on 127.0.0.1, N SSE clients on the front end spread
# over several loopback source addresses, seat changes committed at the shard
# at a steady rate. Prints, per N: delivery delay p50/p99 from shard commit to
# client receipt, front-end memory per client, and the CPU time the shard and
# the front end used (the shard's should not depend on N). Then it compares
# with the targets, printing (not asserting):
#   target p99 <= 200 ms at 10000 clients: met/NOT met (p99 ...)
#   shard CPU unchanged 10 vs 10000 clients: met/NOT met (... ratio ...)
# Everything listens and connects on 127.0.0.0/8 only.
#
# Knobs (environment):
#   FANOUT_CLIENTS=10,1000,10000   one measured phase per count (the targets
#                                  need 10 and 10000; a quick run: 10,200)
#   FANOUT_DURATION=15s            measured window per phase
#   FANOUT_RATE=20                 commits per second at the shard
#   FANOUT_TIMEOUT=200s            hard cap on the whole run
#   FANOUT_JSON=FILE               also write the results as JSON
#   BOXOFFICE_BIN=path             use this binary instead of building one
# The whole run takes about 1.5 minutes with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

FANOUT_CLIENTS=${FANOUT_CLIENTS:-10,1000,10000}
FANOUT_DURATION=${FANOUT_DURATION:-15s}
FANOUT_RATE=${FANOUT_RATE:-20}
FANOUT_TIMEOUT=${FANOUT_TIMEOUT:-200s}

# shellcheck source=hack/fanout-lib.sh
source hack/fanout-lib.sh

args=(--bin "$bin" --clients "$FANOUT_CLIENTS" --duration "$FANOUT_DURATION" --rate "$FANOUT_RATE" --dir "$tmp/run")
if [[ -n ${FANOUT_JSON:-} ]]; then args+=(--json "$FANOUT_JSON"); fi
timeout --kill-after=10s "$FANOUT_TIMEOUT" "$tmp/fanout" "${args[@]}"
