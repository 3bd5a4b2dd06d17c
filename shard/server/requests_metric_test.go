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

	m := h.do("GET", "/metrics", "")
	for _, want := range []string{
		`boxoffice_shard_requests_total{code="2xx",route="hold"} 1`,
		`boxoffice_shard_requests_total{code="4xx",route="hold"} 2`,
		`boxoffice_shard_requests_total{code="5xx",route="hold"} 0`,
		`boxoffice_shard_requests_total{code="2xx",route="status"} 1`,
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
