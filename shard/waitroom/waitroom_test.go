package waitroom

import (
	"testing"
	"time"
)

const sec = int64(time.Second)

func key(i int) [16]byte { return [16]byte{byte(i), byte(i >> 8), 1} }

// testConfig: 2 active, 10 s idle, 4 seats each, pre-queue from 0, sale at 100 s.
func testConfig() Config {
	return Config{MaxActive: 2, IdleTimeout: 10 * sec, MaxSeats: 4, PreQueueAt: 0, OpensAt: 100 * sec}
}

func configured(t *testing.T) *Machine {
	t.Helper()
	m := New()
	if r := m.Apply(&Command{Op: OpConfigure, Now: 0, Config: testConfig()}); r.Code != OK || !r.Log {
		t.Fatalf("configure: %+v", r)
	}
	return m
}

func mustJoin(t *testing.T, m *Machine, now int64, k int) uint64 {
	t.Helper()
	r := m.Apply(&Command{Op: OpJoin, Now: now, Key: key(k)})
	if r.Code != OK || r.ID == 0 {
		t.Fatalf("join %d at %ds: %+v", k, now/sec, r)
	}
	return r.ID
}

func stateOf(m *Machine, id uint64) State {
	p, ok := m.Place(id)
	if !ok {
		return 0
	}
	return p.State
}

// TestTransitions walks every place state through every command. The subject
// is place 1; place 2 is admitted beside it where the setup says so.
func TestTransitions(t *testing.T) {
	const now = 200 * sec
	idle100 := testConfig()
	idle100.IdleTimeout = 100 * sec
	// Each setup leaves place 1 in a state at 150 s with MaxActive 2.
	setups := map[string]func(t *testing.T, m *Machine){
		"pre_queued": func(t *testing.T, m *Machine) { mustJoin(t, m, 50*sec, 1) },
		"waiting": func(t *testing.T, m *Machine) {
			mustJoin(t, m, 101*sec, 8)
			mustJoin(t, m, 101*sec, 9)
			m.Apply(&Command{Op: OpOpen, Now: 101 * sec, Seed: [2]uint64{1, 2}})
			mustJoin(t, m, 150*sec, 1) // behind the two admitted (ids 1, 2): gets id 3
		},
		"admitted": func(t *testing.T, m *Machine) {
			m.Apply(&Command{Op: OpConfigure, Config: idle100})
			mustJoin(t, m, 50*sec, 1)
			m.Apply(&Command{Op: OpOpen, Now: 100 * sec}) // idle deadline 200 s
		},
		"admitted_holding": func(t *testing.T, m *Machine) {
			m.Apply(&Command{Op: OpConfigure, Config: idle100})
			mustJoin(t, m, 50*sec, 1)
			m.Apply(&Command{Op: OpOpen, Now: 100 * sec})
			m.Apply(&Command{Op: OpTouch, Now: 101 * sec, ID: 1, Holding: 2})
		},
		"sold_out": func(t *testing.T, m *Machine) {
			mustJoin(t, m, 50*sec, 1)
			m.Apply(&Command{Op: OpSeats, Now: 60 * sec, Seats: SeatCounts{Sold: 10}})
		},
	}
	subject := map[string]uint64{"pre_queued": 1, "waiting": 3, "admitted": 1, "admitted_holding": 1, "sold_out": 1}
	type want struct {
		code  Code
		state State // of the subject after (0: gone)
		log   bool
	}
	cmds := map[string]func(id uint64) *Command{
		"join same key": func(uint64) *Command { return &Command{Op: OpJoin, Now: now, Key: key(1)} },
		"open":          func(uint64) *Command { return &Command{Op: OpOpen, Now: now, Seed: [2]uint64{3, 4}} },
		"touch":         func(id uint64) *Command { return &Command{Op: OpTouch, Now: now, ID: id} },
		"touch holding": func(id uint64) *Command { return &Command{Op: OpTouch, Now: now, ID: id, Holding: 1} },
		"leave":         func(id uint64) *Command { return &Command{Op: OpLeave, Now: now, ID: id, Reason: ReasonLeft} },
		"bought":        func(id uint64) *Command { return &Command{Op: OpLeave, Now: now, ID: id, Reason: ReasonBought} },
		"tick":          func(uint64) *Command { return &Command{Op: OpTick, Now: now} },
		"all sold":      func(uint64) *Command { return &Command{Op: OpSeats, Now: now, Seats: SeatCounts{Sold: 10}} },
		"all held":      func(uint64) *Command { return &Command{Op: OpSeats, Now: now, Seats: SeatCounts{Held: 3, Sold: 7}} },
		"switch off":    func(uint64) *Command { return &Command{Op: OpSwitchOff, Now: now} },
	}
	cases := []struct {
		from, cmd string
		want      want
	}{
		{"pre_queued", "join same key", want{OK, PreQueued, false}},
		{"pre_queued", "open", want{OK, Admitted, true}},
		{"pre_queued", "touch", want{OK, PreQueued, false}},
		{"pre_queued", "touch holding", want{OK, PreQueued, false}},
		{"pre_queued", "leave", want{OK, 0, true}},
		{"pre_queued", "bought", want{OK, 0, true}},
		{"pre_queued", "tick", want{OK, PreQueued, false}},
		{"pre_queued", "all sold", want{OK, 0, true}},
		{"pre_queued", "all held", want{OK, PreQueued, true}},
		{"pre_queued", "switch off", want{OK, 0, true}},

		// The two ahead were admitted at 101 s and idle out at 111 s, so by
		// 150 s place 3 was admitted on joining; it idles out at 160 s.
		{"waiting", "join same key", want{OK, 0, true}},
		{"waiting", "touch", want{ErrNotFound, 0, true}},
		{"waiting", "tick", want{OK, 0, true}},
		{"waiting", "switch off", want{OK, 0, true}},

		{"admitted", "join same key", want{OK, Admitted, false}},
		{"admitted", "open", want{OK, Admitted, false}},
		{"admitted", "touch", want{OK, Admitted, true}},
		{"admitted", "touch holding", want{OK, Admitted, true}},
		{"admitted", "leave", want{OK, 0, true}},
		{"admitted", "bought", want{OK, 0, true}},
		{"admitted", "tick", want{OK, 0, true}}, // idle deadline 200 s
		{"admitted", "all sold", want{OK, 0, true}},
		{"admitted", "all held", want{OK, Admitted, true}},
		{"admitted", "switch off", want{OK, 0, true}},

		{"admitted_holding", "touch", want{OK, Admitted, true}},
		{"admitted_holding", "touch holding", want{OK, Admitted, true}},
		{"admitted_holding", "tick", want{OK, Admitted, false}}, // no idle deadline while holding
		{"admitted_holding", "bought", want{OK, 0, true}},
		{"admitted_holding", "all sold", want{OK, 0, true}},
		{"admitted_holding", "switch off", want{OK, 0, true}},

		{"sold_out", "join same key", want{ErrSoldOut, 0, false}},
		{"sold_out", "open", want{OK, 0, true}},
		{"sold_out", "touch", want{ErrSoldOut, 0, false}},
		{"sold_out", "leave", want{ErrSoldOut, 0, false}},
		{"sold_out", "tick", want{OK, 0, false}},
		{"sold_out", "all held", want{OK, 0, true}},
		{"sold_out", "switch off", want{OK, 0, true}},
	}
	for _, tc := range cases {
		t.Run(tc.from+"/"+tc.cmd, func(t *testing.T) {
			m := configured(t)
			setups[tc.from](t, m)
			if tc.from == "admitted" && tc.cmd != "tick" {
				// Keep the admission alive up to the command's time.
				m.Apply(&Command{Op: OpTouch, Now: now - sec, ID: 1})
			}
			id := subject[tc.from]
			r := m.Apply(cmds[tc.cmd](id))
			if r.Code != tc.want.code || r.Log != tc.want.log {
				t.Fatalf("answer %+v, want code %v log %v", r, tc.want.code, tc.want.log)
			}
			if got := stateOf(m, id); got != tc.want.state {
				t.Fatalf("place %d is %v, want %v", id, got, tc.want.state)
			}
		})
	}
}

func TestFIFOAfterOpening(t *testing.T) {
	m := configured(t)
	m.Apply(&Command{Op: OpOpen, Now: 100 * sec})
	var ids []uint64
	for i := 1; i <= 6; i++ {
		ids = append(ids, mustJoin(t, m, 100*sec+int64(i), i))
	}
	// Two admitted at once; the rest wait in arrival order.
	for i, id := range ids {
		p, _ := m.Place(id)
		if i < 2 && p.State != Admitted || i >= 2 && (p.State != Waiting || p.Ahead != i-2) {
			t.Fatalf("place %d: %+v", i, p)
		}
	}
	// Buying admits the next; leaving while waiting moves the rest up.
	m.Apply(&Command{Op: OpLeave, Now: 101 * sec, ID: ids[0], Reason: ReasonBought})
	m.Apply(&Command{Op: OpLeave, Now: 101 * sec, ID: ids[3], Reason: ReasonLeft})
	if stateOf(m, ids[2]) != Admitted {
		t.Fatal("the first waiting buyer was not admitted when a buyer bought")
	}
	if p, _ := m.Place(ids[5]); p.Ahead != 1 {
		t.Fatalf("last place has %d ahead, want 1 (one left, one admitted)", p.Ahead)
	}
	s := m.Status()
	if s.Active != 2 || s.Waiting != 2 || s.Admitted != 3 || s.Bought != 1 {
		t.Fatalf("status %+v", s)
	}
}

func TestIdleTimeoutAdmitsNext(t *testing.T) {
	m := configured(t)
	m.Apply(&Command{Op: OpConfigure, Config: Config{MaxActive: 1, IdleTimeout: 10 * sec, MaxSeats: 4, OpensAt: 100 * sec}})
	m.Apply(&Command{Op: OpOpen, Now: 100 * sec})
	a := mustJoin(t, m, 100*sec, 1)
	b := mustJoin(t, m, 100*sec, 2)
	if at, ok := m.NextDeadline(); !ok || at != 110*sec {
		t.Fatalf("next deadline %d %v", at, ok)
	}
	m.Apply(&Command{Op: OpTouch, Now: 105 * sec, ID: a}) // active: deadline 115 s
	if r := m.Apply(&Command{Op: OpTick, Now: 110 * sec}); r.Log || stateOf(m, b) != Waiting {
		t.Fatalf("a stale deadline admitted someone: %+v", r)
	}
	m.Apply(&Command{Op: OpTouch, Now: 111 * sec, ID: a, Holding: 2})
	if r := m.Apply(&Command{Op: OpTick, Now: 500 * sec}); r.Log || stateOf(m, a) != Admitted {
		t.Fatal("an admission holding seats timed out")
	}
	m.Apply(&Command{Op: OpTouch, Now: 600 * sec, ID: a, Holding: 0}) // its hold ended
	if r := m.Apply(&Command{Op: OpTick, Now: 610 * sec}); !r.Log || stateOf(m, a) != 0 || stateOf(m, b) != Admitted {
		t.Fatalf("idle timeout: %+v, a %v, b %v", r, stateOf(m, a), stateOf(m, b))
	}
	if s := m.Status(); s.TimedOut != 1 || s.Admitted != 2 {
		t.Fatalf("status %+v", s)
	}
}

// TestSeatsDriveAdmission: admissions never outnumber free seats among the
// buyers still choosing; all held pauses and informs; all sold closes.
func TestSeatsDriveAdmission(t *testing.T) {
	m := configured(t)
	m.Apply(&Command{Op: OpConfigure, Config: Config{MaxActive: 100, IdleTimeout: 60 * sec, MaxSeats: 4, OpensAt: 100 * sec}})
	m.Apply(&Command{Op: OpSeats, Now: 1, Seats: SeatCounts{Free: 2, Sold: 8}})
	m.Apply(&Command{Op: OpOpen, Now: 100 * sec})
	ids := make([]uint64, 5)
	for i := range ids {
		ids[i] = mustJoin(t, m, 100*sec, i+1)
	}
	if s := m.Status(); s.Active != 2 || s.Waiting != 3 {
		t.Fatalf("with 2 free seats: %+v", s)
	}
	// The first holds both seats: nobody is choosing, no seat is free.
	// (The shard applies the seat counts and the holder's seats together.)
	m.Apply(&Command{Op: OpSeats, Now: 101 * sec, Seats: SeatCounts{Held: 2, Sold: 8}})
	m.Apply(&Command{Op: OpTouch, Now: 101 * sec, ID: ids[0], Holding: 2})
	if s := m.Status(); !s.SeatsMayReturn || s.Active != 2 || s.Waiting != 3 {
		t.Fatalf("all held: %+v", s)
	}
	// The hold ends: two seats free again, one buyer choosing, so one more.
	m.Apply(&Command{Op: OpTouch, Now: 102 * sec, ID: ids[0], Holding: 0})
	m.Apply(&Command{Op: OpSeats, Now: 102 * sec, Seats: SeatCounts{Free: 2, Sold: 8}})
	if s := m.Status(); s.SeatsMayReturn || s.Active != 2 || s.Choosing != 2 {
		t.Fatalf("seats back: %+v", s)
	}
	m.Apply(&Command{Op: OpLeave, Now: 103 * sec, ID: ids[1], Reason: ReasonLeft})
	if stateOf(m, ids[2]) != Admitted {
		t.Fatal("a leaving buyer did not admit the next")
	}
	// Every seat sold: everyone is told at once, and nobody can join.
	r := m.Apply(&Command{Op: OpSeats, Now: 104 * sec, Seats: SeatCounts{Sold: 10}})
	if !r.Log || !m.Status().SoldOut || m.Status().Waiting != 0 || m.Status().Active != 0 {
		t.Fatalf("sold out: %+v %+v", r, m.Status())
	}
	for _, id := range ids {
		if _, ok := m.Place(id); ok {
			t.Fatalf("place %d still stands after sold out", id)
		}
	}
	if r := m.Apply(&Command{Op: OpJoin, Now: 105 * sec, Key: key(99)}); r.Code != ErrSoldOut {
		t.Fatalf("join after sold out: %+v", r)
	}
}

// TestLimitBoundToAdmission: an admission keeps the seat limit it was given;
// a second key is a new place at the back, not a second allowance.
func TestLimitBoundToAdmission(t *testing.T) {
	m := configured(t)
	m.Apply(&Command{Op: OpOpen, Now: 100 * sec})
	a := mustJoin(t, m, 100*sec, 1)
	cfg := testConfig()
	cfg.MaxSeats = 8
	m.Apply(&Command{Op: OpConfigure, Now: 101 * sec, Config: cfg})
	b := mustJoin(t, m, 101*sec, 2)
	pa, _ := m.Place(a)
	pb, _ := m.Place(b)
	if pa.MaxSeats != 4 || pb.MaxSeats != 8 {
		t.Fatalf("limits %d and %d, want 4 (granted before) and 8", pa.MaxSeats, pb.MaxSeats)
	}
	if again := mustJoin(t, m, 102*sec, 1); again != a {
		t.Fatalf("the same key joined again got place %d, want %d", again, a)
	}
	c := mustJoin(t, m, 102*sec, 3)
	d := mustJoin(t, m, 102*sec, 4)
	if p, _ := m.Place(d); p.State != Waiting || p.Ahead != 1 || stateOf(m, c) != Waiting {
		t.Fatalf("a new key did not queue at the back: %+v", p)
	}
}

func TestJoinRules(t *testing.T) {
	m := New()
	if r := m.Apply(&Command{Op: OpJoin, Now: 1, Key: key(1)}); r.Code != ErrNotConfigured {
		t.Fatalf("unconfigured: %+v", r)
	}
	cfg := testConfig()
	cfg.PreQueueAt = 50 * sec
	m.Apply(&Command{Op: OpConfigure, Config: cfg})
	if r := m.Apply(&Command{Op: OpJoin, Now: 49 * sec, Key: key(1)}); r.Code != ErrTooEarly || r.Log {
		t.Fatalf("before the pre-queue: %+v", r)
	}
	if r := m.Apply(&Command{Op: OpJoin, Now: 50 * sec}); r.Code != ErrInvalid {
		t.Fatalf("zero key: %+v", r)
	}
	if r := m.Apply(&Command{Op: OpOpen, Now: 99 * sec}); r.Code != ErrTooEarly {
		t.Fatalf("open before opensAt: %+v", r)
	}
	for _, bad := range []Config{{}, {MaxActive: 1}, {MaxActive: 1, IdleTimeout: 1}, {MaxActive: 1, IdleTimeout: 1, MaxSeats: 1, PreQueueAt: 2, OpensAt: 1}} {
		if err := bad.Validate(); err == nil {
			t.Fatalf("config %+v accepted", bad)
		}
		if r := m.Apply(&Command{Op: OpConfigure, Config: bad}); r.Code != ErrInvalid || r.Log {
			t.Fatalf("bad config applied: %+v", r)
		}
	}
}

// TestEstimate: before any admission the estimate assumes each slot turns
// over once per idle timeout; then it is the measured rate.
func TestEstimate(t *testing.T) {
	m := configured(t) // 2 active, 10 s idle: 0.2 admissions/s unmeasured
	m.Apply(&Command{Op: OpOpen, Now: 100 * sec})
	ids := make([]uint64, 12)
	for i := range ids {
		ids[i] = mustJoin(t, m, 100*sec, i+1)
	}
	// ids[2] has 0 ahead; 1 place over 0.2/s is 5 s; but 2 were admitted at
	// the same instant, so the span is 0 and nothing is measured yet.
	if p, _ := m.Place(ids[2]); p.Measured || p.Wait != 5*time.Second || p.Ahead != 0 {
		t.Fatalf("unmeasured: %+v", p)
	}
	// Two at 100 s, then one every 2 s: 5 intervals over 8 s.
	for i := 0; i < 4; i++ {
		m.Apply(&Command{Op: OpLeave, Now: 102*sec + int64(i)*2*sec, ID: ids[i], Reason: ReasonBought})
	}
	if r, _ := m.stats.rate(); r != 0.625 {
		t.Fatalf("rate %v", r)
	}
	p, _ := m.Place(ids[11])
	// 5 ahead and this one, no free slot: 6 / 0.625 per second.
	if !p.Measured || p.Ahead != 5 || p.Wait != 10*time.Second {
		t.Fatalf("measured: %+v", p)
	}
	if s := m.Status(); s.MedianWait <= 0 || s.P99Wait < s.MedianWait {
		t.Fatalf("wait quantiles %+v", s)
	}
}

// TestWaitQuantiles: waits of 1..100 s; the median (50 s) lies in the bucket
// [45.3 s, 64 s) and the p99 (99 s) in [90.5 s, 128 s): the answers are the
// buckets' tops, never below the true value and less than sqrt(2) above it.
func TestWaitQuantiles(t *testing.T) {
	var s stats
	if s.quantile(0.5) != 0 {
		t.Fatal("a quantile of no waits")
	}
	for i := int64(1); i <= 100; i++ {
		s.admit(i*sec, i*sec)
	}
	if got := s.quantile(0.5); got != 64*time.Second {
		t.Fatalf("median %v, want 64s", got)
	}
	if got := s.quantile(0.99); got.Round(time.Millisecond) != 128*time.Second {
		t.Fatalf("p99 %v, want 128s", got)
	}
	s = stats{}
	s.admit(0, 0)
	s.admit(1, 400*time.Millisecond.Nanoseconds())
	if got := s.quantile(0.99); got != time.Second {
		t.Fatalf("sub-second waits: p99 %v, want the first bucket's top, 1s", got)
	}
}

// TestUnknownCommand: refused without touching the state, so it is never
// logged (it could not be decoded on replay).
func TestUnknownCommand(t *testing.T) {
	m := configured(t)
	m.Apply(&Command{Op: OpOpen, Now: 100 * sec})
	id := mustJoin(t, m, 100*sec, 1) // admitted, idle deadline 110 s
	for _, op := range []Op{0, maxOp, 200} {
		if r := m.Apply(&Command{Op: op, Now: 500 * sec}); r.Code != ErrInvalid || r.Log {
			t.Fatalf("op %d: %+v", op, r)
		}
	}
	if m.Now() != 100*sec || stateOf(m, id) != Admitted {
		t.Fatal("an unknown command moved the clock or expired an admission")
	}
}
