package seats

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

const sec = int64(time.Second)

func testIndex(t testing.TB, n int) *Index {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("s/A/%d", i+1)
	}
	ix, err := NewIndex(ids)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func newHold(now int64, holder string, ttl int64, seats ...int32) *Command {
	return &Command{Op: OpHold, Now: now, Holder: holder, Seats: seats, TTL: ttl, MaxSeats: 4}
}

func onHold(op Op, now int64, id uint64) *Command {
	return &Command{Op: op, Now: now, HoldID: id, TTL: 100 * sec}
}

func confirm(now int64, id uint64, order string) *Command {
	return &Command{Op: OpConfirm, Now: now, HoldID: id, OrderID: order}
}

// TestTransitions walks every hold state through every command.
func TestTransitions(t *testing.T) {
	type want struct {
		code      Code
		state     HoldState // hold state after (0: not checked)
		seat      SeatState
		versionUp bool
	}
	// setup brings hold 1 (seats 0,1) into a state at time 10s.
	setups := map[HoldState]func(m *Machine){
		HoldHeld: func(m *Machine) { m.Apply(newHold(1*sec, "a", 100*sec, 0, 1)) },
		HoldAwaitingPayment: func(m *Machine) {
			m.Apply(newHold(1*sec, "a", 100*sec, 0, 1))
			m.Apply(onHold(OpAwaitPayment, 2*sec, 1))
		},
		HoldSold: func(m *Machine) {
			m.Apply(newHold(1*sec, "a", 100*sec, 0, 1))
			m.Apply(confirm(2*sec, 1, "o1"))
		},
		HoldReleased: func(m *Machine) {
			m.Apply(newHold(1*sec, "a", 100*sec, 0, 1))
			m.Apply(onHold(OpRelease, 2*sec, 1))
		},
		HoldExpired: func(m *Machine) {
			m.Apply(newHold(1*sec, "a", 5*sec, 0, 1))
			m.Apply(&Command{Op: OpTick, Now: 6 * sec})
		},
	}
	now := 10 * sec
	cases := []struct {
		from HoldState
		cmd  *Command
		want want
	}{
		{HoldHeld, onHold(OpExtend, now, 1), want{OK, HoldHeld, Held, false}},
		{HoldHeld, onHold(OpAwaitPayment, now, 1), want{OK, HoldAwaitingPayment, AwaitingPayment, true}},
		{HoldHeld, confirm(now, 1, "o1"), want{OK, HoldSold, Sold, true}},
		{HoldHeld, onHold(OpRelease, now, 1), want{OK, HoldReleased, Free, true}},
		{HoldHeld, onHold(OpGet, now, 1), want{OK, HoldHeld, Held, false}},
		{HoldHeld, onHold(OpExtend, now, 9), want{ErrNotFound, HoldHeld, Held, false}},

		{HoldAwaitingPayment, onHold(OpExtend, now, 1), want{OK, HoldAwaitingPayment, AwaitingPayment, false}},
		{HoldAwaitingPayment, onHold(OpAwaitPayment, now, 1), want{OK, HoldAwaitingPayment, AwaitingPayment, false}},
		{HoldAwaitingPayment, confirm(now, 1, "o1"), want{OK, HoldSold, Sold, true}},
		{HoldAwaitingPayment, onHold(OpRelease, now, 1), want{OK, HoldReleased, Free, true}},

		{HoldSold, onHold(OpExtend, now, 1), want{ErrSold, HoldSold, Sold, false}},
		{HoldSold, onHold(OpAwaitPayment, now, 1), want{ErrSold, HoldSold, Sold, false}},
		{HoldSold, confirm(now, 1, "o1"), want{OK, HoldSold, Sold, false}},
		{HoldSold, confirm(now, 1, "o2"), want{ErrSold, HoldSold, Sold, false}},
		{HoldSold, onHold(OpRelease, now, 1), want{ErrSold, HoldSold, Sold, false}},

		{HoldReleased, onHold(OpExtend, now, 1), want{ErrExpired, HoldReleased, Free, false}},
		{HoldReleased, onHold(OpAwaitPayment, now, 1), want{ErrExpired, HoldReleased, Free, false}},
		{HoldReleased, confirm(now, 1, "o1"), want{ErrExpired, HoldReleased, Free, false}},
		{HoldReleased, onHold(OpRelease, now, 1), want{OK, HoldReleased, Free, false}},

		{HoldExpired, onHold(OpExtend, now, 1), want{ErrExpired, HoldExpired, Free, false}},
		{HoldExpired, onHold(OpAwaitPayment, now, 1), want{ErrExpired, HoldExpired, Free, false}},
		{HoldExpired, confirm(now, 1, "o1"), want{ErrExpired, HoldExpired, Free, false}},
		{HoldExpired, onHold(OpRelease, now, 1), want{OK, HoldExpired, Free, false}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v/%d-%d", tc.from, tc.cmd.Op, tc.cmd.HoldID), func(t *testing.T) {
			m := New(testIndex(t, 4), DefaultOptions())
			setups[tc.from](m)
			v0 := m.Version()
			r := m.Apply(tc.cmd)
			if r.Code != tc.want.code {
				t.Fatalf("code %v, want %v", r.Code, tc.want.code)
			}
			h, _ := m.View(1)
			if h.State != tc.want.state {
				t.Fatalf("hold state %v, want %v", h.State, tc.want.state)
			}
			for _, s := range []int32{0, 1} {
				if got := m.Seat(s); got != tc.want.seat {
					t.Fatalf("seat %d %v, want %v", s, got, tc.want.seat)
				}
			}
			if up := m.Version() > v0; up != tc.want.versionUp {
				t.Fatalf("version %d -> %d, want increment %v", v0, m.Version(), tc.want.versionUp)
			}
			if r.Code == OK && r.Hold.State != h.State {
				t.Fatalf("answer state %v, hold %v", r.Hold.State, h.State)
			}
			if tc.cmd.Op == OpExtend && r.Code == OK && h.ExpiresAt != now+100*sec {
				t.Fatalf("extend: expiresAt %d", h.ExpiresAt)
			}
		})
	}
}

func TestHoldRules(t *testing.T) {
	m := New(testIndex(t, 10), DefaultOptions())
	r := m.Apply(newHold(sec, "a", 10*sec, 0, 1, 2))
	if r.Code != OK || !r.Created || r.Hold.ID != 1 || m.Version() != 1 {
		t.Fatalf("first hold: %+v", r)
	}
	// All or nothing: seat 2 is taken, 3 must stay free.
	r = m.Apply(newHold(sec, "b", 10*sec, 3, 2))
	if r.Code != ErrUnavailable || !slices.Equal(r.Seats, []int32{2}) || m.Seat(3) != Free || r.Log {
		t.Fatalf("conflict: %+v seat3 %v", r, m.Seat(3))
	}
	// Per-holder limit (4): a holds 3, one more is fine, two more is not.
	if r = m.Apply(newHold(sec, "a", 10*sec, 4, 5)); r.Code != ErrTooMany || m.Seat(4) != Free {
		t.Fatalf("limit: %+v", r)
	}
	if r = m.Apply(newHold(sec, "a", 10*sec, 4)); r.Code != OK {
		t.Fatalf("within limit: %+v", r)
	}
	// Selling frees the holder's allowance.
	m.Apply(confirm(sec, 1, "o"))
	if r = m.Apply(newHold(sec, "a", 10*sec, 5, 6, 7)); r.Code != OK {
		t.Fatalf("after sale: %+v", r)
	}
	// Shape rules.
	for _, c := range []*Command{newHold(sec, "", sec, 8), newHold(sec, "x", sec), newHold(sec, "x", 0, 8), newHold(sec, "x", sec, 8, 8)} {
		if r := m.Apply(c); r.Code != ErrInvalid {
			t.Fatalf("%+v: %v", c, r.Code)
		}
	}
	if r := m.Apply(newHold(sec, "x", sec, 99)); r.Code != ErrUnknownSeat {
		t.Fatalf("unknown seat: %v", r.Code)
	}
	if r := m.Apply(confirm(sec, 3, "")); r.Code != ErrInvalid {
		t.Fatalf("confirm without order: %v", r.Code)
	}
}

func TestExpiry(t *testing.T) {
	m := New(testIndex(t, 4), DefaultOptions())
	m.Apply(newHold(0, "a", 10*sec, 0))
	m.Apply(newHold(0, "b", 5*sec, 1))
	m.Apply(onHold(OpExtend, 4*sec, 2)) // b now expires at 104s
	m.Apply(&Command{Op: OpTick, Now: 9 * sec})
	if m.Seat(0) != Held {
		t.Fatal("expired early")
	}
	v := m.Version()
	r := m.Apply(&Command{Op: OpTick, Now: 10 * sec})
	if m.Seat(0) != Free || m.Seat(1) != Held || m.Version() != v+1 || !r.Log {
		t.Fatalf("expiry at deadline: seats %v %v version %d log %v", m.Seat(0), m.Seat(1), m.Version(), r.Log)
	}
	h, _ := m.View(1)
	if h.State != HoldExpired || h.Version != v+1 {
		t.Fatalf("expired hold %+v", h)
	}
	// A command at a later time expires first: confirm after the deadline fails.
	if r := m.Apply(confirm(200*sec, 2, "o")); r.Code != ErrExpired {
		t.Fatalf("confirm after deadline: %v", r.Code)
	}
	// Time never runs backwards.
	m.Apply(newHold(50*sec, "c", 10*sec, 2))
	h, _ = m.View(3)
	if h.ExpiresAt != 210*sec {
		t.Fatalf("clamped time: %d", h.ExpiresAt)
	}
	// Changes: one per seat change, in version order.
	ch := m.TakeChanges()
	if len(ch) == 0 || !slices.IsSortedFunc(ch, func(a, b Change) int { return int(a.Version) - int(b.Version) }) {
		t.Fatalf("changes %+v", ch)
	}
	if len(m.TakeChanges()) != 0 {
		t.Fatal("changes not reset")
	}
}

func TestIdempotency(t *testing.T) {
	m := New(testIndex(t, 4), Options{Retention: 24 * time.Hour, MaxIdempotencyKeys: 2, MaxEndedHolds: 10})
	c := newHold(sec, "a", 10*sec, 0)
	c.IdempotencyKey, c.Fingerprint = "k", [16]byte{1}
	r1 := m.Apply(c)
	m.Apply(onHold(OpRelease, 2*sec, 1))
	r2 := m.Apply(c) // same key, same body: the first answer, although the hold was released since
	if !r2.Replayed || !reflect.DeepEqual(r2.Hold, r1.Hold) || r2.Code != OK || !r2.Created {
		t.Fatalf("replay %+v vs %+v", r2, r1)
	}
	c2 := *c
	c2.Fingerprint = [16]byte{2}
	if r := m.Apply(&c2); r.Code != ErrIdempotencyMismatch {
		t.Fatalf("mismatch: %v", r.Code)
	}
	// A failed hold is remembered too.
	m.Apply(newHold(3*sec, "z", 10*sec, 1))
	c3 := newHold(3*sec, "b", 10*sec, 1)
	c3.IdempotencyKey = "k3"
	if r := m.Apply(c3); r.Code != ErrUnavailable || !r.Log {
		t.Fatalf("conflict with key: %+v", r)
	}
	m.Apply(onHold(OpRelease, 4*sec, 2))
	if r := m.Apply(c3); r.Code != ErrUnavailable || !r.Replayed {
		t.Fatalf("replayed conflict: %+v", r)
	}
	// Confirm keys live in their own scope.
	cc := confirm(5*sec, 1, "o")
	cc.IdempotencyKey = "k"
	if r := m.Apply(cc); r.Code != ErrExpired {
		t.Fatalf("confirm with a hold's key: %v", r.Code)
	}
	// KeyUsedBy asks about a key without a body; the answer changes nothing.
	for _, q := range []struct {
		key  string
		by   Op
		want Code
	}{{"k3", OpHold, ErrIdempotencyMismatch}, {"k3", OpConfirm, OK}, {"never", OpHold, OK}, {"", OpHold, OK}} {
		v := m.Version()
		if r := m.Apply(&Command{Op: OpGet, Now: 5 * sec, KeyUsedBy: q.by, IdempotencyKey: q.key}); r.Code != q.want || r.Log || m.Version() != v {
			t.Fatalf("key %q used by %v: %+v (version %d -> %d)", q.key, q.by, r, v, m.Version())
		}
	}
	// Bounded: at most 2 keys.
	if m.IdempotencyKeys() != 2 {
		t.Fatalf("keys %d", m.IdempotencyKeys())
	}
	// Retention: keys and finished holds are forgotten after 24h.
	m.Apply(&Command{Op: OpTick, Now: 5*sec + int64(24*time.Hour) + 1})
	if m.IdempotencyKeys() != 0 {
		t.Fatalf("keys after retention %d", m.IdempotencyKeys())
	}
	if _, ok := m.View(1); ok {
		t.Fatal("released hold kept past retention")
	}
}

func TestStateRoundTrip(t *testing.T) {
	ix := testIndex(t, 20)
	rng := rand.New(rand.NewPCG(1, 2))
	m := New(ix, DefaultOptions())
	var cmds []*Command
	for i := 0; i < 2000; i++ {
		cmds = append(cmds, randomCommand(rng, ix.Len(), int64(i)*sec/4))
	}
	for i, c := range cmds {
		m.Apply(c)
		if i%97 != 0 {
			continue
		}
		st := m.AppendState(nil)
		m2, err := Restore(ix, DefaultOptions(), st)
		if err != nil {
			t.Fatalf("restore at %d: %v", i, err)
		}
		if !bytes.Equal(m2.AppendState(nil), st) || m2.Counts() != m.Counts() {
			t.Fatalf("round trip differs at %d", i)
		}
		// Continuing both gives identical states and answers.
		mc := m.clone(t)
		for _, c2 := range cmds[i+1 : min(len(cmds), i+40)] {
			a, b := mc.Apply(c2), m2.Apply(c2)
			if a.Code != b.Code || a.Hold.ID != b.Hold.ID || a.Log != b.Log {
				t.Fatalf("diverged after restore at %d", i)
			}
		}
		if !bytes.Equal(mc.AppendState(nil), m2.AppendState(nil)) {
			t.Fatalf("states diverged after restore at %d", i)
		}
	}
	if _, err := Restore(testIndex(t, 21), DefaultOptions(), m.AppendState(nil)); err == nil {
		t.Fatal("restored a state for another map")
	}
}

func (m *Machine) clone(t *testing.T) *Machine {
	c, err := Restore(m.ix, m.opts, m.AppendState(nil))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCommandCodec(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var d Command
	for i := 0; i < 1000; i++ {
		c := randomCommand(rng, 50, rng.Int64())
		b := c.AppendBinary(nil)
		if err := DecodeCommand(b, &d); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.AppendBinary(nil), b) {
			t.Fatalf("codec round trip %+v -> %+v", c, d)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {99, 0}, {byte(OpHold), 2, 200}} {
		if err := DecodeCommand(bad, &d); err == nil {
			t.Fatalf("decoded %v", bad)
		}
	}
}

func randomCommand(rng *rand.Rand, nSeats int, now int64) *Command {
	holders := []string{"a", "b", "c", "d"}
	c := &Command{Now: now, HoldID: uint64(rng.IntN(30) + 1), TTL: int64(rng.IntN(20)+1) * sec / 2}
	switch rng.IntN(10) {
	case 0, 1, 2, 3:
		c.Op = OpHold
		c.Holder = holders[rng.IntN(len(holders))]
		n := rng.IntN(3) + 1
		for len(c.Seats) < n {
			s := int32(rng.IntN(nSeats))
			if !slices.Contains(c.Seats, s) {
				c.Seats = append(c.Seats, s)
			}
		}
		c.MaxSeats = 4
	case 4:
		c.Op = OpExtend
	case 5:
		c.Op = OpAwaitPayment
	case 6, 7:
		c.Op = OpConfirm
		c.OrderID = []string{"o1", "o2"}[rng.IntN(2)]
	case 8:
		c.Op = OpRelease
	default:
		c.Op = OpTick
	}
	if (c.Op == OpHold || c.Op == OpConfirm) && rng.IntN(3) == 0 {
		c.IdempotencyKey = fmt.Sprintf("k%d", rng.IntN(10))
		c.Fingerprint[0] = byte(rng.IntN(2))
	}
	return c
}

func TestEndedHoldsBounded(t *testing.T) {
	m := New(testIndex(t, 4), Options{Retention: 24 * time.Hour, MaxIdempotencyKeys: 10, MaxEndedHolds: 2})
	for i := 1; i <= 3; i++ {
		m.Apply(newHold(sec, "a", 10*sec, 0))
		m.Apply(onHold(OpRelease, sec, uint64(i)))
	}
	m.Apply(newHold(sec, "a", 10*sec, 1))
	m.Apply(confirm(sec, 4, "o"))
	m.Apply(&Command{Op: OpTick, Now: 2 * sec})
	if _, ok := m.View(1); ok {
		t.Fatal("the oldest ended hold is kept beyond the bound")
	}
	for _, id := range []uint64{2, 3, 4} {
		if _, ok := m.View(id); !ok {
			t.Fatalf("hold %d forgotten", id)
		}
	}
}
