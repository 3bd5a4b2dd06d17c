package server

import (
	"strings"
	"testing"
)

// TestRequestsByStatusClass: every answer is counted by route and status
// class; 5xx on write routes is what the write-error alert and the rollout
// analysis read.
func TestRequestsByStatusClass(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"b1"}`), 201, "")
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"b2"}`), 409, "seats_unavailable")
	h.expect(h.do("POST", "/v1/holds", `{"seats":[],"holder":"b3"}`), 400, "invalid_request")
	h.expect(h.do("GET", "/v1/status", ""), 200, "")

	expectMetrics(t, h,
		`boxoffice_shard_requests_total{code="2xx",route="hold"} 1`,
		`boxoffice_shard_requests_total{code="4xx",route="hold"} 2`,
		`boxoffice_shard_requests_total{code="5xx",route="hold"} 0`,
		`boxoffice_shard_requests_total{code="2xx",route="status"} 1`)
}

// TestReplaysCountedApart: an answer replayed from the idempotency table is a
// retry, not a new hold or sale: holds_total and confirms_total count it as
// result="replay", not under the first answer's result.
func TestReplaysCountedApart(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	body := `{"seats":["stalls/A/1"],"holder":"b1"}`
	hold := h.expect(h.do("POST", "/v1/holds", body, "Idempotency-Key", "k1"), 201, "")
	h.expect(h.do("POST", "/v1/holds", body, "Idempotency-Key", "k1"), 201, "")
	// A replayed conflict is a replay too.
	taken := `{"seats":["stalls/A/1"],"holder":"b2"}`
	h.expect(h.do("POST", "/v1/holds", taken, "Idempotency-Key", "k2"), 409, "seats_unavailable")
	h.expect(h.do("POST", "/v1/holds", taken, "Idempotency-Key", "k2"), 409, "seats_unavailable")
	// The same key with another request is a mismatch, not a replay.
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b1"}`, "Idempotency-Key", "k1"), 422, "idempotency_mismatch")

	id := hold["id"].(string)
	h.expect(h.do("POST", "/v1/holds/"+id+"/confirm", `{"orderId":"o1"}`, "Idempotency-Key", "c1"), 200, "")
	h.expect(h.do("POST", "/v1/holds/"+id+"/confirm", `{"orderId":"o1"}`, "Idempotency-Key", "c1"), 200, "")
	h.expect(h.do("POST", "/v1/holds/"+id+"/confirm", `{"orderId":"o1"}`, "Idempotency-Key", "c1"), 200, "")

	expectMetrics(t, h,
		`boxoffice_shard_holds_total{result="ok"} 1`,
		`boxoffice_shard_holds_total{result="seats_unavailable"} 1`,
		`boxoffice_shard_holds_total{result="idempotency_mismatch"} 1`,
		`boxoffice_shard_holds_total{result="replay"} 2`,
		`boxoffice_shard_confirms_total{result="ok"} 1`,
		`boxoffice_shard_confirms_total{result="replay"} 2`,
		// Every answer is still an answer of its route.
		`boxoffice_shard_requests_total{code="2xx",route="hold"} 2`,
		`boxoffice_shard_requests_total{code="2xx",route="confirm"} 3`)
}

// TestReplayCounterFromStart: the replay series exist before any replay, so
// rate() and increase() see the first one.
func TestReplayCounterFromStart(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	expectMetrics(t, h, `boxoffice_shard_holds_total{result="replay"} 0`, `boxoffice_shard_confirms_total{result="replay"} 0`)
}

// expectMetrics fails the test for every line of want that /metrics lacks.
func expectMetrics(t *testing.T, h *harness, want ...string) {
	t.Helper()
	m := h.do("GET", "/metrics", "")
	for _, w := range want {
		if !strings.Contains(m.body, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
}
