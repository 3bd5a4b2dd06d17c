package shardapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// batchRequests are batches as the front end writes them and as other
// writers might: other cases, escapes, nulls, numbers that do not fit,
// unknown and repeated names, junk.
var batchRequests = []string{
	`{"ops":[{"op":"hold","seats":["a","b"],"holder":"h","ttlSeconds":60,"idempotencyKey":"k"}]}`,
	`{"ops":[{"op":"confirm","hold":"h1","orderId":"o","idempotencyKey":"k"},{"op":"release","hold":"h2"}]}`,
	`{"ops":[{"op":"get","hold":"h1"},{"op":"extend","hold":"h1","ttlSeconds":5},{"op":"await_payment","hold":"h1"}]}`,
	` { "ops" : [ { "op" : "hold" , "seats" : [ ] , "holder" : "" } ] } `,
	`{"ops":[]}`,
	`{"ops":[{}]}`,
	`{"ops":[{"op":"hold","seats":["a"],"holder":"h","ttlSeconds":-0}]}`,
	`{"ops":[{"op":"hold","ttlSeconds":1.0}]}`, `{"ops":[{"op":"hold","ttlSeconds":1e2}]}`,
	`{"ops":[{"op":"hold","ttlSeconds":9223372036854775807}]}`,
	`{"ops":[{"op":"hold","ttlSeconds":9223372036854775808}]}`, `{"ops":[{"op":"hold","ttlSeconds":"1"}]}`,
	`{"ops":[{"op":"hold","ttlSeconds":null,"seats":null,"holder":null}]}`, `{"ops":[null]}`, `{"ops":null}`,
	`{"OPS":[{"Op":"hold","Holder":"h"}]}`, `{"ops":[{"op":"hold","holder":"a","holder":"b"}]}`,
	`{"ops":[{"op":"hold"}],"ops":[{"op":"get"}]}`,
	`{"ops":[{"op":"ho\u006cd","seats":["A\u00e9\n\"x\\"],"holder":"\ud83c\udfab"}]}`,
	`{"ops":[{"op":"hold","seats":["a\udc00"]}]}`, "{\"ops\":[{\"op\":\"hold\",\"holder\":\"\xff\"}]}",
	`{"ops":[{"op":"hold"}],"x":1}`, `{"ops":[{"op":"hold","extra":{"a":[1]}}]}`, `{"ops":[]} x`, `[]`, ``,
	`{"ops":[{"op":"hold","seats":[1]}]}`, `{"ops":[{"op":"hold","seats":"a"}]}`, `{"ops":[{"op":7}]}`,
	`{"ops":[{"op":"hold"}]`, `{"\u006fps":[{"op":"hold"}]}`, `{}`,
}

func FuzzDecodeBatchRequestAgreesWithEncodingJSON(f *testing.F) {
	for _, r := range batchRequests {
		f.Add([]byte(r))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkBatchRequestDecoder(t, body)
	})
}

func TestDecodeBatchRequestAgreesWithEncodingJSON(t *testing.T) {
	fast := 0
	for _, r := range batchRequests {
		if checkBatchRequestDecoder(t, []byte(r)) {
			fast++
		}
	}
	if fast < 8 {
		t.Fatalf("only %d batches took the fast path", fast)
	}
}

// The front end's own encoding of every kind of operation is read by the
// fast path, exactly.
func TestDecodeBatchRequestReadsTheEncoder(t *testing.T) {
	ttl := int64(90)
	in := BatchRequest{Ops: []BatchOp{
		{Op: BatchHold, Seats: []string{"A-1", "B-\"2\"", "é"}, Holder: "h\n1", TTLSeconds: &ttl, IdempotencyKey: "k1"},
		{Op: BatchGet, Hold: "h1"},
		{Op: BatchExtend, Hold: "h1", TTLSeconds: &ttl},
		{Op: BatchAwaitPayment, Hold: "h1"},
		{Op: BatchConfirm, Hold: "h1", OrderID: "o1", IdempotencyKey: "k2"},
		{Op: BatchRelease, Hold: "h1"},
	}}
	body := in.AppendJSON(nil)
	got, ok := DecodeBatchRequestFast(body, nil)
	if !ok {
		t.Fatalf("%s: the fast path refused the encoder's batch", body)
	}
	if !reflect.DeepEqual(got, in.Ops) {
		t.Fatalf("%s: got %#v, want %#v", body, got, in.Ops)
	}
	// A reused slice is appended to, from its start.
	again, ok := DecodeBatchRequestFast(body, got[:0])
	if !ok || !reflect.DeepEqual(again, in.Ops) {
		t.Fatalf("reused slice: %v %#v", ok, again)
	}
}

// checkBatchRequestDecoder: whenever the fast path reads body, encoding/json
// reads it too, into the same operations. It says whether the fast path
// read it.
func checkBatchRequestDecoder(t *testing.T, body []byte) bool {
	t.Helper()
	got, ok := DecodeBatchRequestFast(body, nil)
	if !ok {
		return false
	}
	var want BatchRequest
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("%q: the fast path read it, encoding/json refused: %v", body, err)
	}
	if len(got) == 0 && len(want.Ops) == 0 {
		return true // nil or empty: both are a batch of none
	}
	if !reflect.DeepEqual(got, want.Ops) {
		t.Fatalf("%q: fast %#v, encoding/json %#v", body, got, want.Ops)
	}
	return true
}

func BenchmarkDecodeBatchRequest(b *testing.B) {
	ttl := int64(60)
	var in BatchRequest
	for i := range 32 {
		in.Ops = append(in.Ops, BatchOp{Op: BatchHold, Seats: []string{"A-" + strings.Repeat("1", i%3+1)},
			Holder: "buyer-12345", TTLSeconds: &ttl, IdempotencyKey: "0123456789abcdef0123"})
	}
	body := in.AppendJSON(nil)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		var ops []BatchOp
		for b.Loop() {
			var ok bool
			if ops, ok = DecodeBatchRequestFast(body, ops[:0]); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("jsonv2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r BatchRequest
			if err := jsonv2.Unmarshal(body, &r, jsonv2.RejectUnknownMembers(true)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r BatchRequest
			if err := json.Unmarshal(body, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
