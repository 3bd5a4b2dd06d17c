package controllers

import (
	"testing"

	"boxoffice.dev/boxoffice/shard/seats"
)

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

// TestEverySeatAnswerIsABusinessResult: every answer the seat machine can
// give (the waiting room's admission_required and admission_ended among
// them) is the shard working, not a write error of a rollout.
func TestEverySeatAnswerIsABusinessResult(t *testing.T) {
	for c := seats.OK; c <= seats.LastCode; c++ {
		if !businessResults[c.String()] {
			t.Errorf("seats.%v (%q) would count as a server error", c, c.String())
		}
	}
}
