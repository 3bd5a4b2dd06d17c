package canary

import (
	"reflect"
	"testing"
	"time"
)

func TestOrderByTraffic(t *testing.T) {
	cases := []struct {
		name string
		in   []Traffic
		want []int
	}{
		{"empty", nil, []int{}},
		{"busiest first, not name order", []Traffic{{0, true}, {0.5, true}, {12, true}}, []int{2, 1, 0}},
		{"ties keep the given order", []Traffic{{1, true}, {3, true}, {1, true}, {3, true}}, []int{1, 3, 0, 2}},
		{"unknown last, even behind idle", []Traffic{{0, false}, {0, true}, {2, false}, {1, true}}, []int{3, 1, 0, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := OrderByTraffic(c.in); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestWriteRate(t *testing.T) {
	cases := []struct {
		writes  float64
		running time.Duration
		want    float64
		text    string
	}{
		{600, time.Minute, 10, "10.0/s"},
		{3, 2 * time.Second, 1.5, "1.50/s"},
		{5, 0, 0, "0.00/s"},
		{0, time.Hour, 0, "0.00/s"},
	}
	for _, c := range cases {
		got := WriteRate(c.writes, c.running)
		if got != c.want || FormatRate(got) != c.text {
			t.Errorf("WriteRate(%v, %v) = %v %q; want %v %q", c.writes, c.running, got, FormatRate(got), c.want, c.text)
		}
	}
}
