package controllers

import (
	"strings"
	"testing"
	"time"
)

func TestPlanReplacement(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	after := 5 * time.Minute
	ok := func(i int) memberFacts {
		return memberFacts{Ordinal: i, Pod: "gig-shard-" + string(rune('0'+i)), Ready: true, Node: "n" + string(rune('0'+i)), NodeFound: true}
	}
	gone := func(i int) memberFacts { m := ok(i); m.Ready, m.NodeFound = false, false; return m }
	notReady := func(i int, d time.Duration) memberFacts {
		m := ok(i)
		m.Ready, m.NodeNotReadySince = false, now.Add(-d)
		return m
	}
	for _, tc := range []struct {
		name        string
		members     []memberFacts
		quorum      bool
		replace     int // -1: none
		blocked     string
		recheck     time.Duration
		whyContains string
	}{
		{"all serving", []memberFacts{ok(0), ok(1), ok(2)}, true, -1, "", 0, ""},
		{"node deleted", []memberFacts{ok(0), gone(1), ok(2)}, true, 1, "", 0, "was deleted"},
		{"NotReady past the limit", []memberFacts{ok(0), ok(1), notReady(2, 6*time.Minute)}, true, 2, "", 0, "NotReady for 6m0s"},
		{"NotReady exactly at the limit", []memberFacts{ok(0), ok(1), notReady(2, 5*time.Minute)}, true, 2, "", 0, "NotReady"},
		{"NotReady not yet long enough", []memberFacts{ok(0), ok(1), notReady(2, time.Minute)}, true, -1, "", 4 * time.Minute, ""},
		{"pod not ready on a Ready node is not lost", []memberFacts{ok(0), {Ordinal: 1, Pod: "p1", Node: "n1", NodeFound: true}, ok(2)}, true, -1, "", 0, ""},
		{"unscheduled member without a known node", []memberFacts{ok(0), {Ordinal: 1, Pod: "p1"}, ok(2)}, true, -1, "", 0, ""},
		{"a Ready member on a NotReady node is left alone", []memberFacts{ok(0), func() memberFacts { m := notReady(1, time.Hour); m.Ready = true; return m }(), ok(2)}, true, -1, "", 0, ""},
		{"no majority: never replaced", []memberFacts{ok(0), gone(1), gone(2)}, false, -1, "no serving majority", 0, ""},
		{"one at a time: another not ready", []memberFacts{ok(0), gone(1), {Ordinal: 2, Pod: "p2", Node: "n2", NodeFound: true}, ok(3), ok(4)}, true, -1, "one member at a time", 0, ""},
		{"two lost of five: lowest ordinal first", []memberFacts{ok(0), ok(1), gone(2), ok(3), gone(4)}, true, 2, "", 0, "was deleted"},
		{"lost and waiting: recheck kept", []memberFacts{ok(0), gone(1), notReady(2, time.Minute), ok(3), ok(4)}, true, -1, "one member at a time", 4 * time.Minute, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planReplacement(tc.members, tc.quorum, now, after)
			got := -1
			if p.Replace != nil {
				got = p.Replace.Ordinal
			}
			if got != tc.replace {
				t.Fatalf("replace %d, want %d (plan %+v)", got, tc.replace, p)
			}
			if (tc.blocked == "") != (p.Blocked == "") || !strings.Contains(p.Blocked, tc.blocked) {
				t.Fatalf("blocked %q, want %q", p.Blocked, tc.blocked)
			}
			if p.Recheck != tc.recheck {
				t.Fatalf("recheck %s, want %s", p.Recheck, tc.recheck)
			}
			if !strings.Contains(p.Why, tc.whyContains) {
				t.Fatalf("why %q lacks %q", p.Why, tc.whyContains)
			}
		})
	}
}
