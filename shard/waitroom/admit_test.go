package waitroom

import (
	"fmt"
	"strconv"
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

// TestSwitchOffUngatesAndOnAgainGates: switching the room off ends every
// place and lets anyone hold; switching it on again gates holds again, with
// place ids that never repeat one from before (an old admission's holds
// must not become a new place's), across a snapshot taken while off.
func TestSwitchOffUngatesAndOnAgainGates(t *testing.T) {
	m := configured(t)
	a := mustJoin(t, m, 50*sec, 1)
	b := mustJoin(t, m, 50*sec, 2)
	c := mustJoin(t, m, 50*sec, 3)
	m.Apply(&Command{Op: OpOpen, Now: 100 * sec, Seed: [2]uint64{1, 2}})
	if m.Status().Active != 2 || m.Status().Waiting != 1 {
		t.Fatalf("before: %+v", m.Status())
	}
	if v, _ := m.MayHoldAt("session-1", 101*sec); v != NotAdmitted {
		t.Fatalf("room on: a session holder is %v, want not_admitted", v)
	}

	if r := m.Apply(&Command{Op: OpSwitchOff, Now: 101 * sec}); r.Code != OK || !r.Log {
		t.Fatalf("switch off: %+v", r)
	}
	st := m.Status()
	if st.Configured || st.Open || st.Active+st.Waiting+st.PreQueued != 0 || st.Admitted != 2 {
		t.Fatalf("after switching off: %+v", st)
	}
	for _, h := range []string{"session-1", HolderPrefix + "1", HolderPrefix + "99"} {
		if v, _ := m.MayHoldAt(h, 101*sec); v != Unguarded {
			t.Fatalf("room off: %q is %v, want unguarded", h, v)
		}
	}
	for _, id := range []uint64{a, b, c} {
		if _, ok := m.Place(id); ok {
			t.Fatalf("place %d outlived the room", id)
		}
	}
	if r := m.Apply(&Command{Op: OpJoin, Now: 102 * sec, Key: key(4)}); r.Code != ErrNotConfigured {
		t.Fatalf("join with the room off: %+v", r)
	}
	if r := m.Apply(&Command{Op: OpSwitchOff, Now: 102 * sec}); r.Log {
		t.Fatal("switching off a room that is off changed the state")
	}
	if !m.SwitchedOff() || m.Pristine() {
		t.Fatal("a room switched off is not known as switched off")
	}

	m, err := Restore(m.AppendState(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !m.SwitchedOff() {
		t.Fatal("a snapshot forgot that the room was switched off")
	}
	m.Apply(&Command{Op: OpConfigure, Now: 103 * sec, Config: testConfig()})
	if m.SwitchedOff() {
		t.Fatal("configured again, the room still says it is switched off")
	}
	if v, _ := m.MayHoldAt("session-1", 103*sec); v != NotAdmitted {
		t.Fatalf("room on again: a session holder is %v, want not_admitted", v)
	}
	if v, _ := m.MayHoldAt(HolderPrefix+"1", 103*sec); v != TurnEnded {
		t.Fatalf("room on again: the old admission 1 is %v, want turn_ended", v)
	}
	d := mustJoin(t, m, 104*sec, 1) // the same key is a new place
	if d <= c {
		t.Fatalf("a place after switching on again is %d, not after %d", d, c)
	}
	m.Apply(&Command{Op: OpOpen, Now: 104 * sec, Seed: [2]uint64{3, 4}})
	if v, limit := m.MayHoldAt(HolderPrefix+strconv.FormatUint(d, 10), 105*sec); v != MayHold || limit != 4 {
		t.Fatalf("the new place %d is %v (limit %d), want may_hold 4", d, v, limit)
	}
}

// A room switched off before anyone joined is still known to be off (a
// front end that saw it on must be told), also in a snapshot.
func TestSwitchOffBeforeAnyoneJoined(t *testing.T) {
	m := configured(t)
	if r := m.Apply(&Command{Op: OpSwitchOff, Now: sec}); !r.Log {
		t.Fatal("switching off a configured room changed nothing")
	}
	if m.Pristine() || !m.SwitchedOff() {
		t.Fatal("a room switched off before anyone joined looks as if it never was")
	}
	r, err := Restore(m.AppendState(nil))
	if err != nil || r.Pristine() || !r.SwitchedOff() {
		t.Fatalf("restored: %v, pristine %v", err, r != nil && r.Pristine())
	}
}
