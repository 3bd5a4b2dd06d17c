package seatmap

import (
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	cases := []struct {
		name  string
		doc   string
		total int
		first string
		last  string
	}{
		{"letter range", "sections:\n- name: stalls\n  rows:\n  - {names: \"A-H\", seats: \"1-24\"}\n", 8 * 24, "stalls/A/1", "stalls/H/24"},
		{"comma rows and split seats", "sections:\n- name: stalls\n  rows:\n  - {names: \"J,K\", seats: \"1-10,13-30\"}\n", 2 * 28, "stalls/J/1", "stalls/K/30"},
		{"number rows", `{"sections":[{"name":"circle","rows":[{"names":"1-3","seats":"5"}]}]}`, 3, "circle/1/5", "circle/3/5"},
		{"mixed list", "sections:\n- name: a\n  rows:\n  - {names: \"A-C,E\", seats: \"1-2\"}\n- name: b-2\n  rows:\n  - {names: \"a-b\", seats: \"7,9\"}\n", 4*2 + 2*2, "a/A/1", "b-2/b/9"},
		{"row split over lines around an aisle", "sections:\n- name: s\n  rows:\n  - {names: \"A-B\", seats: \"6-9\"}\n  - {names: \"A\", seats: \"1-5\"}\n", 2*4 + 5, "s/A/1", "s/B/9"},
		{"spaces tolerated", "sections:\n- name: s\n  rows:\n  - {names: \" A - B \", seats: \" 1 - 3 , 5 \"}\n", 8, "s/A/1", "s/B/5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := Parse([]byte(c.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ids := l.SeatIDs()
			if l.Total != c.total || len(ids) != c.total {
				t.Fatalf("total %d, ids %d, want %d", l.Total, len(ids), c.total)
			}
			if ids[0] != c.first || ids[len(ids)-1] != c.last {
				t.Fatalf("first %s last %s, want %s %s", ids[0], ids[len(ids)-1], c.first, c.last)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("duplicate id %s", id)
				}
				seen[id] = true
			}
			sum := 0
			for _, n := range l.SectionTotals() {
				sum += n
			}
			if sum != c.total {
				t.Fatalf("section totals sum %d, want %d", sum, c.total)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		// every fragment must appear in the error, so the message says where
		want []string
	}{
		{"no sections", "sections: []\n", []string{"sections", "at least one section"}},
		{"empty section", "sections:\n- name: stalls\n  rows: []\n", []string{`section "stalls"`, "sections[0].rows", "no rows"}},
		{"bad section name", "sections:\n- name: Stalls\n  rows:\n  - {names: A, seats: \"1\"}\n", []string{"sections[0].name", "[a-z0-9-]{1,32}"}},
		{"long section name", "sections:\n- name: " + strings.Repeat("a", 33) + "\n  rows:\n  - {names: A, seats: \"1\"}\n", []string{"sections[0].name"}},
		{"duplicate section", "sections:\n- name: a\n  rows:\n  - {names: A, seats: \"1\"}\n- name: a\n  rows:\n  - {names: B, seats: \"1\"}\n", []string{"sections[1].name", "duplicate section"}},
		{"backwards rows", "sections:\n- name: s\n  rows:\n  - {names: \"H-A\", seats: \"1-2\"}\n", []string{"sections[0].rows[0].names", `"H-A"`, "backwards"}},
		{"backwards seats", "sections:\n- name: s\n  rows:\n  - {names: A, seats: \"9-1\"}\n", []string{"sections[0].rows[0].seats", "backwards"}},
		{"zero seat", "sections:\n- name: s\n  rows:\n  - {names: A, seats: \"0-3\"}\n", []string{"seats", "outside"}},
		{"duplicate seat across lines", "sections:\n- name: s\n  rows:\n  - {names: \"A-C\", seats: \"1-2\"}\n  - {names: \"C-D\", seats: \"2-4\"}\n", []string{"sections[0].rows[1].names", "row line 2", "duplicate seats", "seat s/C/2", "row line 1"}},
		{"duplicate seat in list", "sections:\n- name: s\n  rows:\n  - {names: A, seats: \"1-5,5\"}\n", []string{"duplicate seats", "seat 5"}},
		{"duplicate row in list", "sections:\n- name: s\n  rows:\n  - {names: \"A,A\", seats: \"1\"}\n", []string{"row A listed twice"}},
		{"mixed case range", "sections:\n- name: s\n  rows:\n  - {names: \"a-H\", seats: \"1\"}\n", []string{"mixes upper and lower"}},
		{"letter-number range", "sections:\n- name: s\n  rows:\n  - {names: \"A-9\", seats: \"1\"}\n", []string{"bad row range"}},
		{"garbage seats", "sections:\n- name: s\n  rows:\n  - {names: A, seats: \"x\"}\n", []string{"bad seat range"}},
		{"empty names", "sections:\n- name: s\n  rows:\n  - {names: \"\", seats: \"1\"}\n", []string{"names is empty"}},
		{"empty seats", "sections:\n- name: s\n  rows:\n  - {names: A, seats: \"\"}\n", []string{"seats is empty"}},
		{"unknown field", "sections:\n- name: s\n  colour: red\n  rows:\n  - {names: A, seats: \"1\"}\n", []string{"colour"}},
		{"not yaml", "sections: [", []string{"(document)"}},
		{"too many seats", "sections:\n- name: s\n  rows:\n  - {names: \"1-1000\", seats: \"1-1001\"}\n", []string{"more than 1000000 seats"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc))
			if err == nil {
				t.Fatalf("accepted, want error containing %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// FuzzParse checks that the parser never panics, and that whatever it accepts is
// self-consistent: distinct ids, totals that add up, ids that parse back.
func FuzzParse(f *testing.F) {
	f.Add([]byte("sections:\n- name: stalls\n  rows:\n  - {names: \"A-H\", seats: \"1-24\"}\n  - {names: \"J,K\", seats: \"1-10,13-30\"}\n"))
	f.Add([]byte(`{"sections":[{"name":"a","rows":[{"names":"1-3","seats":"5,7-9"}]}]}`))
	f.Add([]byte("sections:\n- name: s\n  rows:\n  - {names: \"H-A\", seats: \"1-2\"}\n"))
	f.Add([]byte("sections: [{name: x, rows: [{names: 'a-z', seats: '1-100000'}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		ids := l.SeatIDs()
		if len(ids) != l.Total || l.Total == 0 {
			t.Fatalf("total %d ids %d", l.Total, len(ids))
		}
		seen := make(map[string]struct{}, len(ids))
		for _, id := range ids {
			if _, dup := seen[id]; dup {
				t.Fatalf("duplicate id %s", id)
			}
			seen[id] = struct{}{}
			if strings.Count(id, "/") != 2 {
				t.Fatalf("bad id %q", id)
			}
		}
	})
}
