package server

import (
	"encoding/json"
	"reflect"
	"testing"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// The strict batch decoder takes only what encoding/json reads the same
// way: whenever it accepts a body, encoding/json accepts it too and gives
// the same operations; anything it refuses goes to encoding/json as before.
func FuzzBatchStrictDecodeAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"ops":[{"op":"hold","seats":["a","b"],"holder":"h","ttlSeconds":60,"idempotencyKey":"k"}]}`,
		`{"ops":[{"op":"confirm","hold":"h1","orderId":"o","idempotencyKey":"k"},{"op":"release","hold":"h2"}]}`,
		`{"ops":[{"op":"hold","seats":["a"],"holder":"h","ttlSeconds":-0}]}`,
		`{"ops":[{"op":"hold","ttlSeconds":1.0}]}`, `{"ops":[{"op":"hold","ttlSeconds":1e2}]}`,
		`{"ops":[{"op":"hold","ttlSeconds":9223372036854775808}]}`, `{"ops":[{"op":"hold","ttlSeconds":"1"}]}`,
		`{"ops":[{"op":"hold","ttlSeconds":null,"seats":null,"holder":null}]}`, `{"ops":[null]}`, `{"ops":null}`,
		`{"OPS":[{"Op":"hold","Holder":"h"}]}`, `{"ops":[{"op":"hold","holder":"a","holder":"b"}]}`,
		`{"ops":[{"op":"hold","seats":["a\udc00"]}]}`, "{\"ops\":[{\"op\":\"hold\",\"holder\":\"\xff\"}]}",
		`{"ops":[{"op":"hold"}],"x":1}`, `{"ops":[{"op":"hold","extra":{"a":[1]}}]}`, `{"ops":[]} x`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var strict, std struct {
			Ops []shardapi.BatchOp `json:"ops"`
		}
		if decodeBatchStrict(body, &strict) != nil {
			return
		}
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("%q: the strict decoder accepted what encoding/json refuses (%v)", body, err)
		}
		if !reflect.DeepEqual(strict, std) {
			t.Fatalf("%q: strict %#v, encoding/json %#v", body, strict, std)
		}
	})
}
