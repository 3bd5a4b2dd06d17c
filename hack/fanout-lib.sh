# Sourced (not run) by hack/bench-fanout.sh and hack/bench-room.sh, from the
# repository root: makes a scratch directory $tmp (removed on exit) with an
# empty $tmp/run for the run's files, sets $bin to the boxoffice binary
# (BOXOFFICE_BIN, else one built here) and builds the driver $tmp/fanout
# (test/bench/fanout).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bin=${BOXOFFICE_BIN:-}
if [[ -z $bin ]]; then
  printf '==> building boxoffice\n' >&2
  go build -o "$tmp/boxoffice" ./cmd/boxoffice
  bin=$tmp/boxoffice
fi
go build -o "$tmp/fanout" ./test/bench/fanout
mkdir -p "$tmp/run"
