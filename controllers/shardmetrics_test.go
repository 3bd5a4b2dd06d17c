package controllers

import "testing"

// TestParseShardMetricsCountsOnlyServerErrors: business answers of the shard
// contract, replays of idempotent retries among them, are not write errors.
func TestParseShardMetricsCountsOnlyServerErrors(t *testing.T) {
	body := []byte(`# TYPE boxoffice_shard_holds_total counter
boxoffice_shard_holds_total{result="ok"} 90
boxoffice_shard_holds_total{result="seats_unavailable"} 5
boxoffice_shard_holds_total{result="replay"} 4
boxoffice_shard_holds_total{result="internal"} 1
# TYPE boxoffice_shard_confirms_total counter
boxoffice_shard_confirms_total{result="ok"} 10
boxoffice_shard_confirms_total{result="replay"} 2
`)
	m, err := ParseShardMetrics(body)
	if err != nil {
		t.Fatal(err)
	}
	if m.Writes != 112 || m.ServerErrors != 1 {
		t.Fatalf("writes %v, server errors %v; want 112 and 1", m.Writes, m.ServerErrors)
	}
}
