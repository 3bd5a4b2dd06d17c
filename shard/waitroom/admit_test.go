package waitroom

import (
	"fmt"
	"testing"
)

// TestMayHoldAt: who may hold seats while the room is on, at the time the
// seat command passes in; the idle deadline itself is already too late.
func TestMayHoldAt(t *testing.T) {
	if v, _ := New().MayHoldAt("anyone", 0); v != Unguarded {
		t.Fatalf("no room: %v, want unguarded", v)
	}
	m := configured(t)
	a, b, c := mustJoin(t, m, 50*sec, 1), mustJoin(t, m, 50*sec, 2), mustJoin(t, m, 50*sec, 3)
	m.Apply(&Command{Op: OpOpen, Now: 100 * sec, Seed: [2]uint64{1, 2}})
	var admitted, waiting []uint64
	for _, id := range []uint64{a, b, c} {
		if stateOf(m, id) == Admitted {
			admitted = append(admitted, id)
		} else {
			waiting = append(waiting, id)
		}
	}
	if len(admitted) != 2 || len(waiting) != 1 {
		t.Fatalf("after the opening: admitted %v, waiting %v", admitted, waiting)
	}
	x, y, w := admitted[0], admitted[1], waiting[0]
	// y holds seats: no idle deadline while it does.
	m.Apply(&Command{Op: OpTouch, Now: 100 * sec, ID: y, Holding: 2})
	deadline := 100*sec + testConfig().IdleTimeout // x's idle deadline
	h := func(id uint64) string { return fmt.Sprintf("w:%d", id) }
	for _, tc := range []struct {
		name   string
		holder string
		now    int64
		want   Verdict
		limit  int32
	}{
		{"not an admission's holder", "buyer-1", 101 * sec, NotAdmitted, 0},
		{"malformed place", "w:x", 101 * sec, NotAdmitted, 0},
		{"place zero", "w:0", 101 * sec, NotAdmitted, 0},
		{"a place never given", "w:99", 101 * sec, NotAdmitted, 0},
		{"a place still waiting", h(w), 101 * sec, NotAdmitted, 0},
		{"admitted", h(x), 101 * sec, MayHold, 4},
		{"admitted, the last nanosecond", h(x), deadline - 1, MayHold, 4},
		{"admitted, at its idle deadline", h(x), deadline, TurnEnded, 0},
		{"admitted, after its idle deadline", h(x), deadline + sec, TurnEnded, 0},
		{"admitted and holding: no idle deadline", h(y), deadline + 1000*sec, MayHold, 4},
	} {
		v, limit := m.MayHoldAt(tc.holder, tc.now)
		if v != tc.want || limit != tc.limit {
			t.Errorf("%s: %v limit %d, want %v limit %d", tc.name, v, limit, tc.want, tc.limit)
		}
	}
	// A place that left has ended, and asking changed nothing.
	m.Apply(&Command{Op: OpLeave, Now: 102 * sec, ID: y, Reason: ReasonLeft})
	if v, _ := m.MayHoldAt(h(y), 102*sec); v != TurnEnded {
		t.Fatalf("a place that left: %v, want turn_ended", v)
	}
	// Its leaving admitted the one waiting, who may hold now.
	if v, limit := m.MayHoldAt(h(w), 102*sec); v != MayHold || limit != 4 {
		t.Fatalf("the next admitted: %v limit %d", v, limit)
	}
}

func TestPlaceOfHolder(t *testing.T) {
	for holder, want := range map[string]uint64{"w:1": 1, "w:18446744073709551615": 1<<64 - 1,
		"w:0": 0, "w:": 0, "w:-1": 0, "w:1x": 0, "x:1": 0, "": 0} {
		if id, ok := PlaceOfHolder(holder); id != want && ok || ok != (want != 0) {
			t.Errorf("%q: %d %v, want %d", holder, id, ok, want)
		}
	}
}
