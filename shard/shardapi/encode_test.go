package shardapi_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x1f\n", "\xff\xfe", "é\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := shardapi.AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %q: %v", s, b, err)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("%q round trips to %q", s, got)
		}
	})
}

// A batch written by AppendJSON reads back (encoding/json) as the batch it
// was, every field and every omission as json.Marshal writes them.
func TestBatchRequestAppendJSON(t *testing.T) {
	ttl := int64(90)
	zero := int64(0)
	in := shardapi.BatchRequest{Ops: []shardapi.BatchOp{
		{Op: shardapi.BatchHold, Seats: []string{"A-1", "B \"2\""}, Holder: "buyer <1>", TTLSeconds: &ttl, IdempotencyKey: "k1"},
		{Op: shardapi.BatchHold, Seats: []string{"C-3"}, Holder: "h"},
		{Op: shardapi.BatchConfirm, Hold: "h12", OrderID: "o-1", IdempotencyKey: "k2"},
		{Op: shardapi.BatchExtend, Hold: "h13", TTLSeconds: &zero},
		{Op: shardapi.BatchRelease, Hold: "h14"},
		{Op: shardapi.BatchGet, Hold: "h\u00e915"},
	}}
	got := in.AppendJSON([]byte("prefix"))
	if string(got[:6]) != "prefix" {
		t.Fatalf("AppendJSON did not append: %q", got)
	}
	var back, want shardapi.BatchRequest
	if err := json.Unmarshal(got[6:], &back); err != nil {
		t.Fatalf("%s: %v", got[6:], err)
	}
	std, _ := json.Marshal(in)
	json.Unmarshal(std, &want)
	if !reflect.DeepEqual(back, want) || !reflect.DeepEqual(back, in) {
		t.Fatalf("AppendJSON %s reads back as %+v, want %+v (json.Marshal: %s)", got[6:], back, want, std)
	}
	var a, s map[string]any
	json.Unmarshal(got[6:], &a)
	json.Unmarshal(std, &s)
	if !reflect.DeepEqual(a, s) {
		t.Fatalf("fields differ from json.Marshal:\n%s\n%s", got[6:], std)
	}
}
