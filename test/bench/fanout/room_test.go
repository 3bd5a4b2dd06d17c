//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

// TestRoomStreamObserve: a stream records the first event showing each
// announced admission, by the room's admitted count and by the seat version,
// and nothing for admissions not announced yet.
func TestRoomStreamObserve(t *testing.T) {
	adm := newAdmissionLog(3)
	for k, v := range []uint64{10, 12, 14} {
		adm.version[k], adm.admitted[k] = v, int64(20+k+1)
	}
	adm.n.Store(2) // the third is not announced yet
	s := newRoomStream(3)
	s.observe(adm, "seats", 9, nil, 100)
	s.observe(adm, "room", 0, []byte(`{"configured":true,"waiting":5,"admitted":20,"rate":0}`), 110)
	s.observe(adm, "seats", 10, nil, 120)
	s.observe(adm, "room", 0, []byte(`{"admitted":22,"head":3}`), 130)
	s.observe(adm, "seats", 14, nil, 140) // covers 12 too; 14 is not announced
	if want := []int64{130, 130, 0}; !equal(s.roomAt, want) {
		t.Errorf("roomAt %v, want %v", s.roomAt, want)
	}
	if want := []int64{120, 140, 0}; !equal(s.seatsAt, want) {
		t.Errorf("seatsAt %v, want %v", s.seatsAt, want)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPartsMerge: delays from the answer (from the sending for an event
// that overtook it), the slowest stream per admission across processes, and
// an admission some stream never showed counted as missing.
func TestPartsMerge(t *testing.T) {
	adm := newAdmissionLog(2)
	adm.n.Store(2)
	ms := int64(time.Millisecond)
	adm.sendAt[0], adm.sendAt[1] = 1000*ms, 2000*ms
	adm.ackAt[0].Store(1010 * ms)
	adm.ackAt[1].Store(2010 * ms)
	a, b := newRoomStream(2), newRoomStream(2)
	a.seatsAt[0], a.seatsAt[1] = 1060*ms, 2110*ms // 50 ms, 100 ms after the answers
	b.seatsAt[0] = 1005 * ms                      // overtook the answer: 5 ms after sending
	seats := func(s *roomStream) []int64 { return s.seatsAt }
	p1, p2 := partOf(adm, []*roomStream{a}, seats), partOf(adm, []*roomStream{b}, seats)
	if p1.Deliveries != 2 || p2.Deliveries != 1 || p2.Every[1] != -1 {
		t.Fatalf("parts %+v %+v", p1, p2)
	}
	tr := mergeParts([]trackPart{p1, p2})
	if tr.Deliveries != 3 || tr.Expected != 4 || tr.MaxMs != 100.5 {
		t.Errorf("track %+v", tr)
	}
	if tr.AllP50ms != -1 || tr.AllMaxMs != -1 {
		t.Errorf("an admission one stream never showed: every p50 %v max %v, want -1 (missing)", tr.AllP50ms, tr.AllMaxMs)
	}
	tr = mergeParts([]trackPart{p1})
	if tr.AllP50ms != 100 || tr.AllMaxMs != 100 {
		t.Errorf("one stream: every p50 %v max %v, want the slower admission 100 ms at both", tr.AllP50ms, tr.AllMaxMs)
	}
}

func TestPlaceTargetLine(t *testing.T) {
	full := func(p99 float64) track { return track{Deliveries: 1000, Expected: 1000, P99ms: p99} }
	for _, c := range []struct {
		name string
		r    roomResult
		want string
	}{
		{"relayed by the front end", roomResult{Clients: 50000, RoomViaFrontend: full(800)}, "met (measured: p99 800.0 ms"},
		{"relayed, too slow", roomResult{Clients: 50000, RoomViaFrontend: full(1200)}, "NOT met (measured: p99 1200.0 ms"},
		{"two legs", roomResult{Clients: 50000, RoomAtShard: full(600), SeatsViaFrontend: full(300)},
			"met by the two legs (the front end relays no room events on this build): the shard's room event p99 600.0 ms + the front ends' fan-out of the same record to every stream p99 300.0 ms = 900.0 ms"},
		{"two legs, too slow", roomResult{Clients: 50000, RoomAtShard: full(950), SeatsViaFrontend: full(100)}, "NOT met by the two legs"},
		{"deliveries missing", roomResult{Clients: 50000, RoomViaFrontend: track{Deliveries: 900, Expected: 1000, P99ms: 10}}, "NOT met"},
		{"nothing", roomResult{Clients: 50000}, "not measured"},
	} {
		if got := placeTargetLine(&c.r); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q does not say %q", c.name, got, c.want)
		}
	}
}
