package seats

import "testing"

// gate admits the holders it lists, with their limits, and refuses the
// others with the code it lists (ErrAdmissionRequired by default).
type gate struct {
	limit   map[string]int32
	refused map[string]Code
	asked   []int64
}

func (g *gate) Admit(holder string, now int64) (int32, Code) {
	g.asked = append(g.asked, now)
	if l, ok := g.limit[holder]; ok {
		return l, OK
	}
	if c, ok := g.refused[holder]; ok {
		return 0, c
	}
	return 0, ErrAdmissionRequired
}

// TestAdmissions: with Admissions set, a hold and an extension answer to
// it in the same Apply; confirm, payment and release never ask; replays
// answer the first answer.
func TestAdmissions(t *testing.T) {
	type step struct {
		name string
		cmd  func(ids map[string]uint64) *Command
		want Code
	}
	hold := func(holder string, seats ...int32) func(map[string]uint64) *Command {
		return func(map[string]uint64) *Command { return newHold(10*sec, holder, 100*sec, seats...) }
	}
	on := func(op Op, name string) func(map[string]uint64) *Command {
		return func(ids map[string]uint64) *Command {
			c := onHold(op, 20*sec, ids[name])
			if op == OpConfirm {
				c.OrderID = "o-" + name
			}
			return c
		}
	}
	g := &gate{limit: map[string]int32{"w:1": 2, "w:2": 8}, refused: map[string]Code{"w:3": ErrAdmissionEnded}}
	m := New(testIndex(t, 10), DefaultOptions())
	if r := m.Apply(newHold(sec, "before-the-room", 100*sec, 9)); r.Code != OK {
		t.Fatalf("no admissions set: %v", r.Code)
	}
	m.SetAdmissions(g)
	ids := map[string]uint64{"before": 1}
	for _, s := range []step{
		{"not admitted", hold("buyer-1", 0), ErrAdmissionRequired},
		{"turn ended", hold("w:3", 0), ErrAdmissionEnded},
		{"admitted", hold("w:1", 0), OK},
		{"within the admission's limit", hold("w:1", 1), OK},
		{"over the admission's limit (below the command's)", hold("w:1", 2), ErrTooMany},
		{"over the command's limit (below the admission's)", hold("w:2", 2, 3, 4, 5, 6), ErrTooMany},
		{"extend a hold made before the room, holder not admitted", on(OpExtend, "before"), ErrAdmissionRequired},
		{"extend while admitted", on(OpExtend, "w:1"), OK},
	} {
		c := s.cmd(ids)
		v0 := m.Version()
		r := m.Apply(c)
		if r.Code != s.want {
			t.Fatalf("%s: %v, want %v", s.name, r.Code, s.want)
		}
		if r.Code == OK && c.Op == OpHold {
			ids[c.Holder] = r.Hold.ID
		}
		if r.Code != OK && (m.Version() != v0 || r.Log) {
			t.Fatalf("%s: refused but changed the state (version %d -> %d, log %v)", s.name, v0, m.Version(), r.Log)
		}
	}
	if got := m.Counts()[Held]; got != 3 {
		t.Fatalf("held seats: %d, want 3 (the one before the room, two of w:1)", got)
	}
	// The turn of w:1 ends: its hold can still be paid for, confirmed or
	// released, but not extended or added to.
	delete(g.limit, "w:1")
	g.refused["w:1"] = ErrAdmissionEnded
	for _, s := range []step{
		{"extend after the turn", on(OpExtend, "w:1"), ErrAdmissionEnded},
		{"hold after the turn", hold("w:1", 7), ErrAdmissionEnded},
		{"await payment after the turn", on(OpAwaitPayment, "w:1"), OK},
		{"confirm after the turn", on(OpConfirm, "w:1"), OK},
		{"release a hold made before the room", on(OpRelease, "before"), OK},
	} {
		if r := m.Apply(s.cmd(ids)); r.Code != s.want {
			t.Fatalf("%s: %v, want %v", s.name, r.Code, s.want)
		}
	}
	// The gate is asked at the command's time (clamped like every command's).
	g.asked = nil
	m.Apply(newHold(5*sec, "w:2", 100*sec, 8))
	if len(g.asked) != 1 || g.asked[0] != m.Now() || m.Now() != 20*sec {
		t.Fatalf("asked at %v, machine time %d", g.asked, m.Now())
	}
}

// TestAdmissionsReplayFirstAnswer: an Idempotency-Key answers the first
// answer whatever the room says later, a refusal as well as a hold.
func TestAdmissionsReplayFirstAnswer(t *testing.T) {
	g := &gate{limit: map[string]int32{"w:1": 4}, refused: map[string]Code{}}
	m := New(testIndex(t, 4), DefaultOptions())
	m.SetAdmissions(g)
	keyed := func(holder, key string, s int32) *Command {
		c := newHold(sec, holder, 100*sec, s)
		c.IdempotencyKey = key
		return c
	}
	first := m.Apply(keyed("w:1", "k1", 0))
	refused := m.Apply(keyed("w:2", "k2", 1))
	if first.Code != OK || refused.Code != ErrAdmissionRequired || !refused.Log {
		t.Fatalf("first answers: %v, %v (log %v)", first.Code, refused.Code, refused.Log)
	}
	g.refused["w:1"] = ErrAdmissionEnded
	delete(g.limit, "w:1")
	g.limit["w:2"] = 4
	if r := m.Apply(keyed("w:1", "k1", 0)); r.Code != OK || !r.Replayed || r.Hold.ID != first.Hold.ID {
		t.Fatalf("replay of a hold after the turn ended: %+v", r)
	}
	if r := m.Apply(keyed("w:2", "k2", 1)); r.Code != ErrAdmissionRequired || !r.Replayed {
		t.Fatalf("replay of a refusal after the holder was admitted: %+v", r)
	}
	// The refusal survives a snapshot like any recorded answer.
	m2, err := Restore(m.Index(), DefaultOptions(), m.AppendState(nil))
	if err != nil {
		t.Fatal(err)
	}
	m2.SetAdmissions(g)
	if r := m2.Apply(keyed("w:2", "k2", 1)); r.Code != ErrAdmissionRequired || !r.Replayed {
		t.Fatalf("replay after a restore: %+v", r)
	}
}
