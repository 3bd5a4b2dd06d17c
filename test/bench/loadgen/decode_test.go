package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// The generator's decoders read the shard's answers as encoding/json does.
func TestDecodeBatchAnswerAsEncodingJSON(t *testing.T) {
	body := []byte(`{"results":[` +
		`{"status":201,"body":{"id":"h7","seats":["A-1"],"holder":"b","state":"held","expiresAt":"2026-12-01T20:00:00Z","orderId":"","version":3}},` +
		`{"status":409,"body":{"error":"seats_unavailable","message":"taken","seats":["A-2"]}},` +
		`{"status":200,"body":{"id":"h5","state":"released"}}]}`)
	got, err := shardapi.DecodeBatchResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	var want shardapi.BatchResponse
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want.Results) {
		t.Fatalf("got %+v, want %+v", got, want.Results)
	}
	for _, bad := range []string{``, `{"results":[{"status":"201"}]}`, `{"results":[{"status":201,"body":{]}`, `[1]`} {
		if _, err := shardapi.DecodeBatchResponse([]byte(bad)); err == nil {
			t.Errorf("%q decoded without an error", bad)
		}
	}
}

func TestHoldIDWhereverItIs(t *testing.T) {
	for body, want := range map[string]string{
		`{"id":"h1","seats":["A-1"],"holder":"x","state":"held","version":1}`:  "h1",
		`{"seats":["A-1"],"holder":"x","state":"held","version":1,"id":"h22"}`: "h22",
		`{"state":"held"}`: "",
	} {
		got, err := holdID([]byte(body))
		if err != nil || got != want {
			t.Errorf("holdID(%s) = %q, %v; want %q", body, got, err, want)
		}
	}
	if _, err := holdID([]byte(`{"id":`)); err == nil {
		t.Error("a cut answer gave no error")
	}
}

func BenchmarkDecodeBatchAnswer(b *testing.B) {
	hold := `{"id":"h123456","seats":["A-12-5","A-12-6","B-3-14"],"holder":"bench-12345678-12-345","state":"held","expiresAt":"2026-12-01T20:44:34.123456789Z","orderId":"","version":12345}`
	body := []byte(`{"results":[`)
	for i := range 32 {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"status":201,"body":`+hold+`}`...)
	}
	body = append(body, "]}"...)
	b.ReportAllocs()
	for b.Loop() {
		res, err := shardapi.DecodeBatchResponse(body)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if id, err := holdID(r.Body); err != nil || id != "h123456" {
				b.Fatal(id, err)
			}
		}
	}
}
