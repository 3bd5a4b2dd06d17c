package main

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestVenueSeatsExactCount(t *testing.T) {
	for _, n := range []int{1, 99, 100, 101, 1999, 2000, 2001, 50000, 100000, 123457} {
		ids, data, err := venueSeats(n)
		if err != nil {
			t.Fatalf("%d seats: %v", n, err)
		}
		if len(ids) != n {
			t.Fatalf("%d seats: got %d ids", n, len(ids))
		}
		seen := make(map[string]bool, n)
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("%d seats: duplicate id %s", n, id)
			}
			seen[id] = true
			if strings.Count(id, "/") != 2 {
				t.Fatalf("%d seats: id %q is not SECTION/ROW/NUMBER", n, id)
			}
		}
		if !strings.Contains(string(data), "sections:") {
			t.Fatalf("%d seats: map does not look like a seat map:\n%s", n, data)
		}
	}
	if _, _, err := venueSeats(0); err == nil {
		t.Fatal("0 seats: want an error")
	}
}

func TestSeatPoolPick(t *testing.T) {
	ids, _, err := venueSeats(10)
	if err != nil {
		t.Fatal(err)
	}
	p := newSeatPool(ids)
	p.markSold([]int{0, 1, 2, 3, 4, 5, 6})
	p.markSold([]int{6}) // counted once
	if got := p.nSold.Load(); got != 7 {
		t.Fatalf("sold = %d, want 7", got)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		got := p.pick(r, 3, nil)
		if !slices.Equal(got, []int{7, 8, 9}) {
			t.Fatalf("pick(3) = %v, want the three unsold seats in order", got)
		}
	}
	if got := p.pick(r, 4, nil); got != nil {
		t.Fatalf("pick(4) of 3 unsold = %v, want nil", got)
	}
}

func TestSummarize(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	l := summarize(s)
	if l.N != 100 || l.P50 != 50 || l.P99 != 99 || l.Max != 100 {
		t.Fatalf("summarize = %+v", l)
	}
	if (summarize(nil) != Lat{}) {
		t.Fatal("empty summary not zero")
	}
}
