package shardapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// batchAnswers are answers as the shard writes them and as other writers
// might: whitespace, other orders, escapes, other cases, nulls, junk.
var batchAnswers = []string{
	`{"results":[{"status":201,"body":{"id":"h1","state":"held","seats":["A-1"]}},{"status":409,"body":{"error":"seat_unavailable","message":"taken \"A-2\"","seats":["A-2"]}}]}`,
	`{"results":[]}`,
	`{"results":null}`,
	`{}`,
	` { "results" : [ { "body" : { } , "status" : 200 } ] } `,
	`{"results":[{"status":201,"body":"x\u00e9\\"}]}`,
	`{"Results":[{"Status":201,"Body":1}]}`,
	`{"results":[{"status":201,"body":1,"extra":true}]}`,
	`{"results":[{"status":201,"status":202,"body":1}]}`,
	`{"results":[{"status":201.5,"body":1}]}`,
	`{"results":[{"status":-3,"body":[1,2]}]}`,
	`{"results":[{"status":201}]}`,
	`{"results":[{"body":null}]}`,
	`{"results":[{"status":201,"body":1}],"results":[]}`,
	`{"results":[{"status":201,"body":1}]} trailing`,
	`{"results":[{"status":201,"body":1}]`,
	`{"results":[{"status":201,"body":"\xff"}]}`,
	`{"\u0072esults":[{"status":201,"body":1}]}`,
	`[]`,
	``,
}

func FuzzDecodeBatchResponseAgreesWithEncodingJSON(f *testing.F) {
	for _, a := range batchAnswers {
		f.Add([]byte(a))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkBatchDecoders(t, body)
	})
}

func TestDecodeBatchResponseAgreesWithEncodingJSON(t *testing.T) {
	fast := 0
	for _, a := range batchAnswers {
		if _, ok := decodeBatchResponseFast([]byte(a)); ok {
			fast++
		}
		checkBatchDecoders(t, []byte(a))
	}
	// The shard's own spellings take the fast path.
	if fast < 5 {
		t.Fatalf("only %d answers took the fast path", fast)
	}
}

// checkBatchDecoders: whenever the fast path reads body, encoding/json
// reads it too, into the same results; DecodeBatchResponse fails exactly
// when encoding/json does.
func checkBatchDecoders(t *testing.T, body []byte) {
	t.Helper()
	var want BatchResponse
	stdErr := json.Unmarshal(body, &want)
	if got, ok := decodeBatchResponseFast(body); ok {
		if stdErr != nil {
			t.Fatalf("%q: the fast path read it, encoding/json refused: %v", body, stdErr)
		}
		if !reflect.DeepEqual(normal(got), normal(want.Results)) {
			t.Fatalf("%q: fast %v, encoding/json %v", body, got, want.Results)
		}
	}
	got, err := DecodeBatchResponse(body)
	if (err == nil) != (stdErr == nil) {
		t.Fatalf("%q: DecodeBatchResponse err %v, encoding/json %v", body, err, stdErr)
	}
	if err == nil && !reflect.DeepEqual(normal(got), normal(want.Results)) {
		t.Fatalf("%q: %v, encoding/json %v", body, got, want.Results)
	}
}

// normal makes nil and empty bodies and result lists compare equal.
func normal(rs []BatchResult) []BatchResult {
	if len(rs) == 0 {
		return nil
	}
	out := make([]BatchResult, len(rs))
	for i, r := range rs {
		out[i] = BatchResult{Status: r.Status, Body: json.RawMessage(append([]byte{}, r.Body...))}
	}
	return out
}

// The fast path's bodies are slices of the answer, not copies.
func TestDecodeBatchResponseBodiesAliasTheAnswer(t *testing.T) {
	body := []byte(batchAnswers[0])
	res, err := DecodeBatchResponse(body)
	if err != nil || len(res) != 2 {
		t.Fatalf("%v %v", res, err)
	}
	i := bytes.Index(body, []byte(`{"error"`))
	if &res[1].Body[0] != &body[i] || cap(res[1].Body) != len(res[1].Body) {
		t.Fatal("the second body is not a slice of the answer (or could grow into it)")
	}
}

// A batch request's body is written into one allocation.
func TestBatchRequestAppendJSONAllocatesOnce(t *testing.T) {
	ttl := int64(120)
	ops := make([]BatchOp, 128)
	for i := range ops {
		ops[i] = BatchOp{Op: BatchHold, Seats: []string{"A-1", "A-2", "B-17"}, Holder: "bench-123456789-buyer-42", TTLSeconds: &ttl, IdempotencyKey: "bench-123456789-42-hold"}
		if i%3 == 1 {
			ops[i] = BatchOp{Op: BatchConfirm, Hold: "h-0000012345", OrderID: "order-12345", IdempotencyKey: "k-12345"}
		}
	}
	r := &BatchRequest{Ops: ops}
	// (The race detector's instrumentation allocates on its own.)
	if n := testing.AllocsPerRun(20, func() { r.AppendJSON(nil) }); n != 1 && !raceEnabled {
		t.Fatalf("%v allocations for a 128-operation batch, want 1", n)
	}
	if got, hint := len(r.AppendJSON(nil)), r.sizeHint(); got > hint {
		t.Fatalf("body %d bytes, hint %d", got, hint)
	}
}

// benchBatch is a 64-operation batch and its answer, as a busy front end
// sends and reads them.
func benchBatch() (*BatchRequest, []byte) {
	ttl := int64(600)
	req := &BatchRequest{}
	ans := []byte(`{"results":[`)
	for i := range 64 {
		req.Ops = append(req.Ops, BatchOp{Op: BatchHold, Seats: []string{"A-12-5", "A-12-6"}, Holder: "session-5f3c2a9e", TTLSeconds: &ttl, IdempotencyKey: "5f3c2a9e-hold-0001"})
		if i > 0 {
			ans = append(ans, ',')
		}
		ans = append(ans, `{"status":201,"body":{"id":"h123456","seats":["A-12-5","A-12-6"],"holder":"session-5f3c2a9e","state":"held","expiresAt":"2026-12-01T20:44:34.123456789Z","orderId":"","version":12345}}`...)
	}
	return req, append(ans, "]}"...)
}

// The batch path's encoding and decoding, the contract's fast ways against
// encoding/json (what the front end used before).
func BenchmarkBatchCodec(b *testing.B) {
	req, ans := benchBatch()
	b.Run("encode/AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req.AppendJSON(nil)
		}
	})
	b.Run("encode/json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/DecodeBatchResponse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res, err := DecodeBatchResponse(ans); err != nil || len(res) != 64 {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r BatchResponse
			if err := json.Unmarshal(ans, &r); err != nil || len(r.Results) != 64 {
				b.Fatal(err)
			}
		}
	})
}
