package shardapi_test

import (
	"encoding/json"
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
