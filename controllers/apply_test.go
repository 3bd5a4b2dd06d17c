package controllers

import (
	"encoding/json"
	"testing"
)

func TestJSONSubset(t *testing.T) {
	dec := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		want, have string
		ok         bool
	}{
		{`{"a":1}`, `{"a":1,"b":2}`, true},                               // server-added field
		{`{"a":1}`, `{"a":2}`, false},                                    // changed value
		{`{"a":{"b":[{"c":1}]}}`, `{"a":{"b":[{"c":1,"d":"x"}]}}`, true}, // default inside a list item
		{`{"a":[1,2]}`, `{"a":[1]}`, false},                              // list shortened
		{`{"a":"","b":{}}`, `{}`, true},                                  // empty desired values
		{`{"a":"x"}`, `{}`, false},                                       // field removed by someone
		{`{"a":true}`, `{"a":"true"}`, false},
	}
	for _, c := range cases {
		if got := jsonSubset(dec(c.want), dec(c.have)); got != c.ok {
			t.Errorf("jsonSubset(%s, %s) = %v, want %v", c.want, c.have, got, c.ok)
		}
	}
}
