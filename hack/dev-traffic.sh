#!/usr/bin/env bash
# dev-traffic.sh SHOWTIME [NAMESPACE] [SECONDS]
#
# Buyers for a showtime on the local cluster (`make dev`): each holds a seat
# through the showtime's front end and releases it, about four a second, for
# SECONDS (default 90), so that a canary shard has writes to be judged on
# (docs/rollouts.md). It talks only to the front-end pod's address on the
# local cluster's bridge; it stops by itself.
set -euo pipefail

st=${1:?usage: hack/dev-traffic.sh SHOWTIME [NAMESPACE] [SECONDS]}
ns=${2:-default}
secs=${3:-90}

ip=$(kubectl get pods -n "$ns" \
	-l "app.kubernetes.io/name=boxoffice-frontend,app.kubernetes.io/instance=$st" \
	-o jsonpath='{.items[0].status.podIP}')
if [[ -z "$ip" ]]; then
	echo "dev-traffic: no front-end pod of showtime $ns/$st yet" >&2
	exit 1
fi
base="http://$ip:8080"
jar=$(mktemp)
trap 'rm -f "$jar"' EXIT

seats=$(curl -sf --max-time 5 -c "$jar" -b "$jar" "$base/api/seats" | grep -o '"id":"[^"]*"' | cut -d'"' -f4 | head -40)
if [[ -z "$seats" ]]; then
	echo "dev-traffic: $base/api/seats answered no seats" >&2
	exit 1
fi
mapfile -t ids <<<"$seats"

end=$((SECONDS + secs))
held=0 failed=0 i=0
echo "dev-traffic: holding and releasing seats of $ns/$st through $base for ${secs}s"
while ((SECONDS < end)); do
	seat=${ids[$((i % ${#ids[@]}))]}
	i=$((i + 1))
	out=$(curl -s --max-time 5 -c "$jar" -b "$jar" -X POST -H 'Content-Type: application/json' \
		-d "{\"seats\":[\"$seat\"]}" "$base/api/holds" || true)
	id=$(grep -o '"id":"[^"]*"' <<<"$out" | head -1 | cut -d'"' -f4 || true)
	if [[ -n "$id" ]]; then
		held=$((held + 1))
		curl -s --max-time 5 -o /dev/null -c "$jar" -b "$jar" -X DELETE "$base/api/holds/$id" || true
	else
		failed=$((failed + 1))
	fi
	sleep 0.25
done
echo "dev-traffic: $held holds acknowledged and released, $failed not acknowledged"
