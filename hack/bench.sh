#!/usr/bin/env bash
# Benchmark behind `make bench`: the same seat-holding workload, from one load
# generator (test/bench/loadgen), against
#   - the Box office shard (bin/boxoffice shard, HTTP per docs/api/shard-v1.openapi.yaml),
#   - Redis 7 (appendonly yes, appendfsync always; Lua scripts, all-or-nothing),
#   - PostgreSQL 15 (fsync on, synchronous_commit on; one transaction per hold),
#   - the shard as a three-member cluster (contract v2) on loopback, against
#     Redis 7 with one replica (appendfsync always on both, WAIT 1 0 after
#     every write script), then leader failover and SIGTERM hand-over times,
# each started here on 127.0.0.1 with its data in a temporary directory, then
# the shard's recovery time and resident memory. Prints one table and ratios,
# each system's CPU and run-queue wait over the measured window, and for every
# shard run where a write's time went (the shard's own histograms, scraped at
# the window's start and end: queue wait, apply, commit wait, fsync, group
# size; leader, round trip and follower fsync for three members).
#
# Knobs (environment):
#   BENCH_DURATION=20s   measured window per system     BENCH_WARMUP=5s
#   BENCH_CLIENTS=64     concurrent clients              BENCH_SEATS=50000
#   BENCH_CONFIRM=0.1    share of accepted holds confirmed (the rest released)
#   BENCH_SYSTEMS="shard shard-batch redis postgres cluster cluster-batch redis-replica failover"   any subset
#                        (shard-batch, cluster-batch: the same shards with the front end's batch path,
#                        POST /v2/batch, up to BENCH_BATCH operations per request)
#   BENCH_BATCH=128      operations per batch at most
#   BENCH_BATCH_FLIGHTS=1  batches in flight at once (1: what a front-end pod does)
#   BENCH_KILLS=10 BENCH_HANDOVERS=5   leader SIGKILLs and SIGTERM hand-overs (failover)
#   BENCH_RECOVERY_WRITES=1000000  writes logged before the restart (0: skip)
#   BENCH_RECOVERY_MAX=180s        cap on the time spent logging them (the report says how many)
#   BENCH_CRASH_WRITES=50000       then this many more writes, SIGKILL under load, restart (0: skip)
#   BENCH_MEMORY_SEATS=100000      BENCH_MEMORY_HOLDS=20000 (BENCH_MEMORY_SEATS=0: skip)
#   BENCH_HALF=1         paced run of the shard at half its measured rate (0: skip)
#   BENCH_HALF_CLIENTS=256  clients of the paced runs: enough that the generator
#                        is not its own bottleneck (an operation is two calls; at
#                        half of 20,000 holds/s a short stall takes more than 64)
#   BENCH_FLOOR=1        with BENCH_HALF: the floor, a server that only logs each batch
#                        (write + fdatasync into a reserved file, no seats), paced at the
#                        batched shard's half rate with the same generator and client: the
#                        part of a half-rate p99 that the machine, the generator and the
#                        disk leave any server (0: skip; about 30 s)
#   BENCH_REDIS_PACED=1  Redis paced at half its own measured rate, the same target held
#                        to the alternative on the same disk, with its latency monitor's
#                        count of fsyncs over 5 ms (0: skip; about 30 s)
#   BENCH_CPUS=SYS:GEN   CPU placement (taskset -c), the same for every system: Redis,
#                        PostgreSQL and the shards on SYS, the load generator on GEN,
#                        e.g. BENCH_CPUS=1:0. Default: not pinned (on 2 CPUs, pinning
#                        caps each system at one core: PostgreSQL and the v1 shard
#                        use more at their maximum). The half rate is always half of
#                        the maximum measured under the same placement. The report
#                        says what placement was used.
#   BENCH_PROFILE=DIR    keep the CPU profiles in DIR (default: the temporary directory;
#                        0: take none): the shard's over the measured window of the
#                        shard and shard-batch runs (through its --pprof-listen; top
#                        lines printed and added to the report) and the generator's
#                        own of every closed-loop run (loadgen-SYSTEM.pprof)
#   BENCH_OUT=FILE       also write the table to FILE (BENCH_OUT=1: ./bench-results.txt)
#   BENCH_KEEP=1         keep the temporary directory (logs, data, JSON results)
# The generator collects garbage only at a 1 GiB memory limit (GOGC/GOMEMLIMIT
# in the environment override that).
# Quick check (about 2 minutes on 2 idle cores):
#   BENCH_DURATION=3s BENCH_WARMUP=1s BENCH_RECOVERY_WRITES=20000 BENCH_MEMORY_SEATS=20000 \
#   BENCH_KILLS=2 BENCH_HANDOVERS=1 hack/bench.sh
set -euo pipefail

CALLER_PWD=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD

BENCH_DURATION=${BENCH_DURATION:-20s}
BENCH_WARMUP=${BENCH_WARMUP:-5s}
BENCH_CLIENTS=${BENCH_CLIENTS:-64}
BENCH_SEATS=${BENCH_SEATS:-50000}
BENCH_CONFIRM=${BENCH_CONFIRM:-0.1}
BENCH_SYSTEMS=${BENCH_SYSTEMS:-shard shard-batch redis postgres cluster cluster-batch redis-replica failover}
BENCH_BATCH=${BENCH_BATCH:-128}
BENCH_BATCH_FLIGHTS=${BENCH_BATCH_FLIGHTS:-1}
BENCH_KILLS=${BENCH_KILLS:-10}
BENCH_HANDOVERS=${BENCH_HANDOVERS:-5}
BENCH_RECOVERY_WRITES=${BENCH_RECOVERY_WRITES:-1000000}
BENCH_RECOVERY_MAX=${BENCH_RECOVERY_MAX:-180s}
BENCH_CRASH_WRITES=${BENCH_CRASH_WRITES:-50000}
BENCH_MEMORY_SEATS=${BENCH_MEMORY_SEATS:-100000}
BENCH_MEMORY_HOLDS=${BENCH_MEMORY_HOLDS:-20000}
BENCH_HALF=${BENCH_HALF:-1}
BENCH_HALF_CLIENTS=${BENCH_HALF_CLIENTS:-256}
BENCH_CPUS=${BENCH_CPUS:-}
BENCH_PROFILE=${BENCH_PROFILE:-}
case $BENCH_PROFILE in
  "" | /* | 0) ;;
  *) BENCH_PROFILE=$CALLER_PWD/$BENCH_PROFILE ;;
esac
BENCH_REDIS_PACED=${BENCH_REDIS_PACED:-1}
BENCH_FLOOR=${BENCH_FLOOR:-1}
BENCH_OUT=${BENCH_OUT:-}
case $BENCH_OUT in
  "" | 0) BENCH_OUT= ;;
  1 | yes | true) BENCH_OUT=$CALLER_PWD/bench-results.txt ;;
  /*) ;;
  *) BENCH_OUT=$CALLER_PWD/$BENCH_OUT ;;
esac
BENCH_KEEP=${BENCH_KEEP:-}

# PostgreSQL 15 (Debian bookworm's `postgresql`); another major if that is what is there.
pgbin() {
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then echo /usr/lib/postgresql/15/bin; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}
PGBIN=$(pgbin)

log() { printf '==> %s\n' "$*" >&2; }

# Let the previous system's writes reach the disk first (a database's shutdown
# checkpoint would otherwise slow the next system's fsyncs).
settle() {
  sync
  sleep "${BENCH_SETTLE:-2}"
}
want() { [[ " $BENCH_SYSTEMS " == *" $1 "* ]]; }

# CPU placement (BENCH_CPUS=SYS:GEN): SYS_PIN prefixes every system's start,
# GEN_PIN every run of the generator; both empty when not pinned.
SYS_PIN=()
GEN_PIN=()
SHARD_PIN=()
if [[ -n $BENCH_CPUS ]]; then
  if [[ $BENCH_CPUS != *:* ]] || ! command -v taskset >/dev/null; then
    echo "bench: BENCH_CPUS=$BENCH_CPUS: want SYSTEM_CPUS:GENERATOR_CPUS (e.g. 1:0) and taskset (util-linux)" >&2
    exit 2
  fi
  SYS_PIN=(taskset -c "${BENCH_CPUS%%:*}")
  GEN_PIN=(taskset -c "${BENCH_CPUS#*:}")
  SHARD_PIN=(-shard-cpus "${BENCH_CPUS%%:*}")
fi
# lg runs the load generator with its placement.
lg() { "${GEN_PIN[@]}" "$LG" "$@"; }

# Run a command as the PostgreSQL user when we are root (initdb refuses root).
as_pg() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Shards the generator started and left behind (it stops them itself unless
  # it was killed): by pid, and only if the pid is still one of ours.
  if [[ -f $PIDFILE ]]; then
    local pid
    while read -r pid; do
      if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$TMP/"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$PIDFILE"
  fi
  local p
  for p in $REDIS_PID $REPLICA_PID; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [[ -n $PG_STARTED ]]; then
    as_pg "$PGBIN/pg_ctl" -D "$TMP/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [[ -n $BENCH_KEEP ]]; then
    echo "bench: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}

install_missing() {
  missing=()
  if { want redis || want redis-replica; } && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
  if want postgres && [[ ! -x $PGBIN/initdb ]]; then missing+=(postgresql); fi
  if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]]; then
      echo "bench: missing ${missing[*]}; run as root or install them (apt-get install ${missing[*]})" >&2
      exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
    apt_get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
      apt_get update >/dev/null
      apt_get install -y --no-install-recommends "${missing[@]}" >/dev/null
    }
    PGBIN=$(pgbin)
  fi
}

build() {
  log "building the load generator"
  go build -o "$TMP/loadgen" ./test/bench/loadgen
  LG=$TMP/loadgen

  SHARD_OK=
  if want shard || want shard-batch || want cluster || want cluster-batch || want failover; then
    log "building bin/boxoffice"
    mkdir -p bin
    built=1
    go build -o bin/boxoffice ./cmd/boxoffice || {
      echo "bench: bin/boxoffice does not build; the shard is skipped" >&2
      built=
    }
    # (the help text is read whole first: grep -q closing the pipe early would
    # kill the writer with SIGPIPE and fail the check under pipefail)
    if [[ -n $built ]] && [[ $(bin/boxoffice shard -h 2>&1 || true) == *seat-map* ]]; then
      SHARD_OK=1
    else
      echo "bench: bin/boxoffice has no working 'shard' subcommand; the shard is skipped" >&2
    fi
  fi
  SPAWN=(-shard-bin "$ROOT/bin/boxoffice" -workdir "$TMP/shard" -pidfile "$PIDFILE" "${SHARD_PIN[@]}")
  RUN=(-seats "$BENCH_SEATS" -clients "$BENCH_CLIENTS" -warmup "$BENCH_WARMUP" -duration "$BENCH_DURATION" -confirm "$BENCH_CONFIRM")
}

# profile FILE [shard]: the generator's profile flags for a closed-loop run
# writing FILE.json, and the shard's too when asked (BENCH_PROFILE).
profile() {
  [[ -n $BENCH_PROFILE ]] || return 0
  echo "-cpuprofile $BENCH_PROFILE/loadgen-$1.pprof"
  if [[ ${2:-} == shard ]]; then echo "-shard-profile $BENCH_PROFILE/$1.pprof"; fi
}

# shard_runs BACKEND LABEL FILE [loadgen flags]: a closed-loop run, then (with
# BENCH_HALF) a paced run of a fresh shard at half its measured rate, with
# BENCH_HALF_CLIENTS clients.
shard_runs() {
  local backend=$1 label=$2 file=$3 prof=
  shift 3
  [[ $file == shard || $file == shard-batch ]] && prof=shard
  settle
  log "$label: $BENCH_SEATS seats, closed loop"
  # shellcheck disable=SC2046 # profile's words are flags
  lg run -backend "$backend" -name "$label" "${SPAWN[@]}" "${RUN[@]}" "$@" $(profile "$file" $prof) -out "$RES/$file.json" ||
    echo "bench: $label run failed" >&2
  if [[ -n $prof && -s ${BENCH_PROFILE:-/nonexistent}/$file.pprof ]]; then
    log "$label: the shard's CPU profile over the measured window ($BENCH_PROFILE/$file.pprof), top lines"
    { echo "the shard's CPU profile under load, $label (closed loop, measured window; $BENCH_PROFILE/$file.pprof):"
      go tool pprof -top -nodecount=20 "$BENCH_PROFILE/$file.pprof" | sed -n '4,30p'
      echo "  (cumulative)"
      go tool pprof -top -cum -nodecount=25 "$BENCH_PROFILE/$file.pprof" | sed -n '6,35p'
      echo; } 2>/dev/null | tee -a "$RES/profiles.txt" >&2 || true
  fi
  if [[ $BENCH_HALF != 0 && -s $RES/$file.json ]]; then
    settle
    log "$label: paced at half the measured rate (fresh shard, $BENCH_HALF_CLIENTS clients)"
    lg run -backend "$backend" -name "$label, half rate" "${SPAWN[@]}" "${RUN[@]}" "$@" -clients "$BENCH_HALF_CLIENTS" \
      -rate-from "$RES/$file.json" -rate-factor 0.5 -out "$RES/$file-half.json" ||
      echo "bench: paced $label run failed" >&2
  fi
}

bench_shard() {
  if [[ -n $SHARD_OK ]] && want shard; then
    shard_runs shard shard shard
  fi
  if [[ -n $SHARD_OK ]] && want shard-batch; then
    shard_runs shard "shard, batched" shard-batch -batch "$BENCH_BATCH" -batch-flights "$BENCH_BATCH_FLIGHTS"
    floor_run
  fi
}

# floor_run: (BENCH_FLOOR, BENCH_HALF) the floor server (loadgen floor-serve),
# paced at the batched shard's half rate with the same clients and batching.
floor_run() {
  [[ $BENCH_HALF != 0 && $BENCH_FLOOR != 0 && -s $RES/shard-batch.json ]] || return 0
  settle
  log "floor: a server that only logs each batch, at the batched shard's half rate ($BENCH_HALF_CLIENTS clients)"
  lg run -backend floor -name "floor, half rate" -workdir "$TMP/floor" "${SHARD_PIN[@]}" "${RUN[@]}" -clients "$BENCH_HALF_CLIENTS" \
    -batch "$BENCH_BATCH" -batch-flights "$BENCH_BATCH_FLIGHTS" -rate-from "$RES/shard-batch.json" -rate-factor 0.5 -out "$RES/floor-half.json" ||
    echo "bench: floor run failed" >&2
}

bench_redis() {
  local port redis_cmd
  if want redis; then
    port=$("$LG" freeport)
    mkdir -p "$TMP/redis"
    [[ $(id -u) == 0 ]] && chown redis: "$TMP/redis" 2>/dev/null || true
    log "redis: starting on 127.0.0.1:$port (appendonly yes, appendfsync always)"
    redis_cmd=(redis-server --bind 127.0.0.1 --port "$port" --dir "$TMP/redis" --daemonize no
      --appendonly yes --appendfsync always --save "" --protected-mode yes --logfile "$TMP/redis/redis.log"
      --maxclients 1000)
    if [[ $(id -u) == 0 ]] && id redis >/dev/null 2>&1; then
      # setpriv execs redis-server itself (no session wrapper between us and its pid)
      "${SYS_PIN[@]}" setpriv --reuid=redis --regid=redis --init-groups -- "${redis_cmd[@]}" &
    else
      "${SYS_PIN[@]}" "${redis_cmd[@]}" &
    fi
    REDIS_PID=$!
    for _ in $(seq 100); do
      redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    versions+=("redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')")
    if ! "$LG" prep -backend redis -addr "127.0.0.1:$port" -seats "$BENCH_SEATS"; then
      echo "bench: redis did not come up or could not be loaded; see $TMP/redis/redis.log (BENCH_KEEP=1 keeps it)" >&2
      tail -5 "$TMP/redis/redis.log" >&2 || true
      return 0
    fi
    settle
    log "redis: closed loop"
    # shellcheck disable=SC2046 # profile's words are flags
    lg run -backend redis -addr "127.0.0.1:$port" -server-pid "$REDIS_PID" "${RUN[@]}" $(profile redis) -out "$RES/redis.json" ||
      echo "bench: redis run failed" >&2
    if [[ $BENCH_REDIS_PACED != 0 && -s $RES/redis.json ]]; then
      # The shard's half-rate target held to Redis, at half Redis's own
      # measured rate: what of a missed p99 this disk gives any durable store.
      if "$LG" prep -backend redis -addr "127.0.0.1:$port" -seats "$BENCH_SEATS"; then
        settle
        log "redis: paced at half its measured rate ($BENCH_HALF_CLIENTS clients)"
        lg run -backend redis -name "redis, half rate" -addr "127.0.0.1:$port" -server-pid "$REDIS_PID" "${RUN[@]}" -clients "$BENCH_HALF_CLIENTS" \
          -rate-from "$RES/redis.json" -rate-factor 0.5 -out "$RES/redis-half.json" ||
          echo "bench: paced redis run failed" >&2
      fi
    fi
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
  fi
}

bench_cluster() {
  if [[ -n $SHARD_OK ]] && want cluster; then
    shard_runs cluster "shard, 3 members" cluster
  fi
  if [[ -n $SHARD_OK ]] && want cluster-batch; then
    shard_runs cluster "shard, 3 members, batched" cluster-batch -batch "$BENCH_BATCH" -batch-flights "$BENCH_BATCH_FLIGHTS"
  fi
  if [[ -n $SHARD_OK ]] && want failover; then
    settle
    log "shard, 3 members: $BENCH_KILLS leader SIGKILLs, $BENCH_HANDOVERS SIGTERM hand-overs, under a steady writer"
    lg failover "${SPAWN[@]}" -seats "$BENCH_SEATS" -kills "$BENCH_KILLS" -handovers "$BENCH_HANDOVERS" -out "$RES/failover.json" ||
      echo "bench: failover measurement failed" >&2
  fi
}

# Redis with one replica: appendfsync always on both, WAIT 1 0 after every
# write script (the write is answered once the replica has it).
start_redis() { # port dir extra...
  local port=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  [[ $(id -u) == 0 ]] && chown redis: "$dir" 2>/dev/null || true
  local cmd=(redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize no
    --appendonly yes --appendfsync always --save "" --protected-mode yes --logfile "$dir/redis.log"
    --maxclients 1000 "$@")
  if [[ $(id -u) == 0 ]] && id redis >/dev/null 2>&1; then
    "${SYS_PIN[@]}" setpriv --reuid=redis --regid=redis --init-groups -- "${cmd[@]}" &
  else
    "${SYS_PIN[@]}" "${cmd[@]}" &
  fi
}

bench_redis_replica() {
  local port rport
  if want redis-replica; then
    port=$("$LG" freeport)
    rport=$("$LG" freeport)
    log "redis + replica: primary 127.0.0.1:$port, replica 127.0.0.1:$rport (appendfsync always on both, WAIT 1 0)"
    start_redis "$port" "$TMP/redis-primary"
    REDIS_PID=$!
    start_redis "$rport" "$TMP/redis-replica" --replicaof 127.0.0.1 "$port"
    REPLICA_PID=$!
    for _ in $(seq 100); do
      redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    if ! "$LG" prep -backend redis -addr "127.0.0.1:$port" -seats "$BENCH_SEATS"; then
      echo "bench: redis primary could not be loaded; see $TMP/redis-primary/redis.log" >&2
      return 0
    fi
    for _ in $(seq 200); do
      redis-cli -h 127.0.0.1 -p "$rport" info replication 2>/dev/null | grep -q 'master_link_status:up' && break
      sleep 0.1
    done
    settle
    log "redis + replica: closed loop"
    lg run -backend redis -name "redis + replica" -redis-wait 1 -addr "127.0.0.1:$port" -server-pid "$REDIS_PID" "${RUN[@]}" \
      -out "$RES/redis-replica.json" || echo "bench: redis + replica run failed" >&2
    kill -TERM "$REDIS_PID" "$REPLICA_PID" 2>/dev/null || true
    wait "$REDIS_PID" "$REPLICA_PID" 2>/dev/null || true
    REDIS_PID= REPLICA_PID=
  fi
}

bench_postgres() {
  local port dsn
  if want postgres; then
    port=$("$LG" freeport)
    mkdir -p "$TMP/pg/sock"
    [[ $(id -u) == 0 ]] && chown -R postgres: "$TMP/pg"
    log "postgres: initdb and start on 127.0.0.1:$port (fsync on, synchronous_commit on)"
    if ! as_pg "$PGBIN/initdb" -D "$TMP/pg/data" -U bench --auth=trust --encoding=UTF8 --no-instructions >"$TMP/pg/initdb.log" 2>&1; then
      echo "bench: initdb failed; postgres skipped" >&2
      tail -5 "$TMP/pg/initdb.log" >&2
      return 0
    fi
    PG_STARTED=1
    # (the postmaster and its backends inherit the placement)
    if ! as_pg "${SYS_PIN[@]}" "$PGBIN/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/postgres.log" -w -t 60 start -o \
      "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$TMP/pg/sock -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=200 -c shared_buffers=256MB" >/dev/null; then
      echo "bench: postgres did not start; skipped" >&2
      tail -5 "$TMP/pg/postgres.log" >&2 || true
      return 0
    fi
    versions+=("postgres $("$PGBIN/postgres" --version | sed -n 's/.*(PostgreSQL) \([^ ]*\).*/\1/p')")
    dsn="postgres://bench@127.0.0.1:$port/postgres?sslmode=disable"
    if ! "$LG" prep -backend postgres -dsn "$dsn" -seats "$BENCH_SEATS"; then
      echo "bench: postgres could not be loaded; skipped" >&2
      return 0
    fi
    settle
    log "postgres: closed loop"
    # shellcheck disable=SC2046 # profile's words are flags
    lg run -backend postgres -dsn "$dsn" -server-pid "$(head -1 "$TMP/pg/data/postmaster.pid")" "${RUN[@]}" $(profile postgres) -out "$RES/postgres.json" ||
      echo "bench: postgres run failed" >&2
    as_pg "$PGBIN/pg_ctl" -D "$TMP/pg/data" -m fast -w stop >/dev/null || true
    PG_STARTED=
  fi
}

bench_shard_more() {
  if [[ -n $SHARD_OK ]] && want shard; then
    if [[ $BENCH_RECOVERY_WRITES != 0 ]]; then
      settle
      log "shard: recovery after $BENCH_RECOVERY_WRITES logged writes"
      lg recovery "${SPAWN[@]}" -seats "$BENCH_SEATS" -writes "$BENCH_RECOVERY_WRITES" \
        -max-fill "$BENCH_RECOVERY_MAX" -kill-writes "$BENCH_CRASH_WRITES" -out "$RES/recovery.json" ||
        echo "bench: recovery measurement failed" >&2
    fi
    if [[ $BENCH_MEMORY_SEATS != 0 ]]; then
      settle
      log "shard: memory at $BENCH_MEMORY_SEATS seats"
      lg memory "${SPAWN[@]}" -seats "$BENCH_MEMORY_SEATS" -holds "$BENCH_MEMORY_HOLDS" \
        -clients "$BENCH_CLIENTS" -out "$RES/memory.json" ||
        echo "bench: memory measurement failed" >&2
    fi
    local rev
    rev=$(git log -1 --format=%h 2>/dev/null || echo '?')
    if [[ -n $(git status --porcelain -- shard cmd internal 2>/dev/null) ]]; then rev+=" + uncommitted changes"; fi
    versions+=("shard at $rev")
  fi
}

report() {
  local vline
  echo
  vline=$(IFS=,; echo "${versions[*]}" | sed 's/,/, /g')
  "$LG" report -dir "$RES" -versions "$vline" ${BENCH_OUT:+-out "$BENCH_OUT"}
}

# Everything runs from main, so the whole file is read before anything starts
# (editing the script during a run cannot change the run).
main() {
  local load1 ncpu
  read -r load1 _ </proc/loadavg
  ncpu=$(nproc)
  if awk -v l="$load1" -v n="$ncpu" 'BEGIN { exit !(l > n) }'; then
    echo "bench: warning: the machine is busy (load average $load1 on $ncpu CPUs); expect noisy numbers" >&2
  fi
  install_missing
  TMP=$(mktemp -d /tmp/boxoffice-bench.XXXXXX)
  chmod 755 "$TMP"
  RES=$TMP/results
  mkdir -p "$RES"
  PIDFILE=$TMP/shard.pids
  REDIS_PID=
  REPLICA_PID=
  PG_STARTED=
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  case $BENCH_PROFILE in
    0) BENCH_PROFILE= ;;
    "") BENCH_PROFILE=$TMP/profiles ;;
  esac
  if [[ -n $BENCH_PROFILE ]]; then mkdir -p "$BENCH_PROFILE"; fi
  if [[ -n $BENCH_CPUS ]]; then log "placement: systems on CPUs ${BENCH_CPUS%%:*}, the load generator on CPUs ${BENCH_CPUS#*:}"; fi
  build
  versions=()
  bench_shard
  if want redis; then bench_redis; fi
  if want postgres; then bench_postgres; fi
  bench_cluster
  bench_redis_replica
  bench_shard_more
  report
}

main "$@"
