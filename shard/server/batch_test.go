package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// batchDo posts ops (JSON objects) as one batch and returns its results.
func (h *harness) batchDo(ops ...string) []shardapi.BatchResult {
	h.t.Helper()
	a := h.do("POST", shardapi.PathBatch, `{"ops":[`+strings.Join(ops, ",")+`]}`)
	if a.status != 200 {
		h.t.Fatalf("batch: %d %s", a.status, a.body)
	}
	var r shardapi.BatchResponse
	if err := json.Unmarshal([]byte(a.body), &r); err != nil {
		h.t.Fatalf("batch answer %q: %v", a.body, err)
	}
	if len(r.Results) != len(ops) {
		h.t.Fatalf("%d results for %d operations: %s", len(r.Results), len(ops), a.body)
	}
	return r.Results
}

// sameAsV1 checks that a batch result is what the v1 request answered.
func sameAsV1(t *testing.T, what string, got shardapi.BatchResult, v1 answer) {
	t.Helper()
	if got.Status != v1.status || string(got.Body) != v1.body {
		t.Fatalf("%s: batch %d %s, v1 %d %s", what, got.Status, got.Body, v1.status, v1.body)
	}
}

func errCode(t *testing.T, r shardapi.BatchResult) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	return e.Error
}

// Every operation of a batch gets its own answer, the one its v1 request
// gets: success, conflict, validation errors, an undecodable operation and
// an unknown one side by side, none spoiling the others.
func TestBatchEachOperationItsOwnAnswer(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	res := h.batchDo(
		`{"op":"hold","seats":["stalls/A/1"],"holder":"b1","idempotencyKey":"k1"}`,
		`{"op":"hold","seats":["stalls/A/1","stalls/A/2"],"holder":"b2"}`,
		`{"op":"hold","seats":["stalls/Z/9"],"holder":"b3"}`,
		`{"op":"hold","seats":"stalls/A/3","holder":"b4"}`,
		`{"op":"dance"}`,
		`{"op":"hold","seats":["stalls/A/4"],"holder":"b5","ttlSeconds":0}`,
		`{"op":"release","hold":"nope"}`,
		`{"op":"hold","seats":["stalls/A/5"],"holder":"b6","idempotencyKey":"`+strings.Repeat("k", 256)+`"}`,
	)
	want := []struct {
		status int
		code   string
	}{{201, ""}, {409, "seats_unavailable"}, {400, "unknown_seat"}, {400, "invalid_request"}, {400, "invalid_request"},
		{400, "invalid_request"}, {404, "hold_not_found"}, {400, "invalid_request"}}
	for i, w := range want {
		if res[i].Status != w.status || w.code != "" && errCode(t, res[i]) != w.code {
			t.Fatalf("operation %d: %d %s, want %d %s", i, res[i].Status, res[i].Body, w.status, w.code)
		}
	}
	var hold struct{ ID, State, Holder string }
	json.Unmarshal(res[0].Body, &hold)
	if hold.State != "held" || hold.Holder != "b1" {
		t.Fatalf("hold %s", res[0].Body)
	}
	// The same key and body through v1 replays the batch's answer (one
	// fingerprint for both); the conflict's seats are listed as in v1.
	sameAsV1(t, "replay", res[0], h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"b1"}`, "Idempotency-Key", "k1"))
	if !strings.Contains(string(res[1].Body), `"seats":["stalls/A/1"]`) {
		t.Fatalf("conflict %s", res[1].Body)
	}
	// Per-hold operations answer as v1 does, in the batch's order.
	res = h.batchDo(
		`{"op":"get","hold":"`+hold.ID+`"}`,
		`{"op":"extend","hold":"`+hold.ID+`","ttlSeconds":120}`,
		`{"op":"confirm","hold":"`+hold.ID+`","orderId":"o-1","idempotencyKey":"c1"}`,
		`{"op":"release","hold":"`+hold.ID+`"}`,
	)
	for i, w := range []int{200, 200, 200, 409} {
		if res[i].Status != w {
			t.Fatalf("operation %d: %d %s, want %d", i, res[i].Status, res[i].Body, w)
		}
	}
	if errCode(t, res[3]) != "hold_sold" {
		t.Fatalf("release of a sold hold: %s", res[3].Body)
	}
	sameAsV1(t, "confirm replay", res[2], h.do("POST", "/v1/holds/"+hold.ID+"/confirm", `{"orderId":"o-1"}`, "Idempotency-Key", "c1"))
	sameAsV1(t, "get", h.batchDo(`{"op":"get","hold":"` + hold.ID + `"}`)[0], h.do("GET", "/v1/holds/"+hold.ID, ""))
}

// Holds carried by a batch count in the hold route's latency histogram, which
// the canary analysis reads (its sample count and p99): a front end that
// batches every hold must not look like a shard serving none.
func TestBatchHoldsCountInTheHoldLatency(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	h.batchDo(
		`{"op":"hold","seats":["stalls/A/1"],"holder":"b1"}`,
		`{"op":"hold","seats":["stalls/A/2"],"holder":"b2"}`,
		`{"op":"hold","seats":["stalls/A/1"],"holder":"b3"}`,
		`{"op":"release","hold":"nope"}`,
	)
	m := h.do("GET", "/metrics", "").body
	want := shardapi.MetricRequestDurationSeconds + `_count{route="hold"} 3`
	if !strings.Contains(m, want) {
		t.Fatalf("metrics lack %q:\n%s", want, m)
	}
}

// Keys keep their scope and first answer across the two versions and a
// restart: a v1 hold's key replays in a batch, another body with a used key
// is 422, and so is an undecodable operation with a used key (as v1).
func TestBatchIdempotencyAcrossVersionsAndRestart(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, nil)
	first := h.do("POST", "/v1/holds", `{"seats":["stalls/B/1"],"holder":"b1","ttlSeconds":300}`, "Idempotency-Key", "v1key")
	if first.status != 201 {
		t.Fatalf("hold %d %s", first.status, first.body)
	}
	inBatch := h.batchDo(`{"op":"hold","seats":["stalls/C/1"],"holder":"b2","idempotencyKey":"bkey"}`)[0]
	h.stop()
	h = start(t, dir, nil)
	res := h.batchDo(
		`{"op":"hold","seats":["stalls/B/1"],"holder":"b1","ttlSeconds":300,"idempotencyKey":"v1key"}`,
		`{"op":"hold","seats":["stalls/C/1"],"holder":"b2","idempotencyKey":"bkey"}`,
		`{"op":"hold","seats":["stalls/B/2"],"holder":"b1","ttlSeconds":300,"idempotencyKey":"v1key"}`,
		`{"op":"hold","seats":["stalls/B/1"],"holder":"b1","ttlSeconds":"x","idempotencyKey":"v1key"}`,
		`{"op":"hold","seats":["stalls/B/3"],"holder":"b9","idempotencyKey":"fresh"}`,
	)
	sameAsV1(t, "v1 key replayed in a batch after a restart", res[0], first)
	if res[1].Status != inBatch.Status || string(res[1].Body) != string(inBatch.Body) {
		t.Fatalf("batch key after a restart: %d %s, first %d %s", res[1].Status, res[1].Body, inBatch.Status, inBatch.Body)
	}
	for _, i := range []int{2, 3} {
		if res[i].Status != 422 || errCode(t, res[i]) != "idempotency_mismatch" {
			t.Fatalf("operation %d: %d %s, want 422 idempotency_mismatch", i, res[i].Status, res[i].Body)
		}
	}
	if res[4].Status != 201 {
		t.Fatalf("fresh key: %d %s", res[4].Status, res[4].Body)
	}
}

// The batch as a whole: shape errors, size bounds and the token.
func TestBatchRequestErrors(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	for _, body := range []string{``, `{`, `[]`, `{"ops":[]}`, `{"ops":{}}`} {
		h.expect(h.do("POST", shardapi.PathBatch, body), 400, "invalid_request")
	}
	many := strings.Repeat(`{"op":"get","hold":"h1"},`, shardapi.MaxBatchOps)
	h.expect(h.do("POST", shardapi.PathBatch, `{"ops":[`+many+`{"op":"get","hold":"h1"}]}`), 400, "invalid_request")
	h.expect(h.do("POST", shardapi.PathBatch, `{"ops":[{"op":"x","holder":"`+strings.Repeat("y", shardapi.MaxBatchBytes)+`"}]}`), 413, "payload_too_large")
	h.expect(h.do("POST", shardapi.PathBatch, `{"ops":[{"op":"get","hold":"h1"}]}`, "Authorization", ""), 401, "unauthorized")
	h.expect(h.do("GET", shardapi.PathBatch, ""), 404, "not_found") // as v1's paths with another method
	h.expect(h.do("GET", "/v2/nothing", ""), 404, "not_found")
	// A full batch is served.
	ops := make([]string, shardapi.MaxBatchOps)
	for i := range ops {
		ops[i] = fmt.Sprintf(`{"op":"hold","seats":["stalls/%c/%d"],"holder":"h%d"}`, 'A'+(i/10)%4, 1+i%10, i)
	}
	created := 0
	for _, r := range h.batchDo(ops...) {
		if r.Status == 201 {
			created++
		}
	}
	if created != 40 {
		t.Fatalf("%d holds created from %d operations on 40 seats, want 40", created, len(ops))
	}
}

// A batch spelled otherwise than the contract writes it (names in another
// case, unknown names, nulls) is read as encoding/json reads it, as before
// the token-by-token decoder: the same answers, only slower.
func TestBatchOtherSpellingsReadAsEncodingJSON(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	res := h.batchDo(
		`{"Op":"hold","Seats":["stalls/A/1"],"HOLDER":"b1","note":"x"}`,
		`{"op":"hold","seats":["stalls/A/2"],"holder":"b2","ttlSeconds":null,"orderId":null}`,
		`{"op":"hold","seats":["stalls/A/2"],"holder":"b3"}`,
	)
	for i, w := range []int{201, 201, 409} {
		if res[i].Status != w {
			t.Fatalf("operation %d: %d %s, want %d", i, res[i].Status, res[i].Body, w)
		}
	}
	var hold struct{ Holder string }
	json.Unmarshal(res[0].Body, &hold)
	if hold.Holder != "b1" {
		t.Fatalf("hold %s: holder %q, want b1", res[0].Body, hold.Holder)
	}
}
