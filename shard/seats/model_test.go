package seats

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// ref is a deliberately naive model of the seat rules: a list of holds, seat
// states derived by scanning, expiry by sorting. The machine must agree with
// it on every answer and every seat.
type ref struct {
	n     int
	holds []*HoldView
	now   int64
	ver   uint64
	idem  map[string]refIdem
}

type refIdem struct {
	fp  [16]byte
	res Result
}

func (r *ref) seat(s int32) (SeatState, int) {
	st, owners := Free, 0
	for _, h := range r.holds {
		if !slices.Contains(h.Seats, s) {
			continue
		}
		switch h.State {
		case HoldHeld:
			st, owners = Held, owners+1
		case HoldAwaitingPayment:
			st, owners = AwaitingPayment, owners+1
		case HoldSold:
			st, owners = Sold, owners+1
		}
	}
	return st, owners
}

func (r *ref) get(id uint64) *HoldView {
	if id == 0 || id > uint64(len(r.holds)) {
		return nil
	}
	return r.holds[id-1]
}

func (r *ref) apply(c *Command) Result {
	r.now = max(r.now, c.Now)
	var due []*HoldView
	for _, h := range r.holds {
		if (h.State == HoldHeld || h.State == HoldAwaitingPayment) && h.ExpiresAt <= r.now {
			due = append(due, h)
		}
	}
	slices.SortFunc(due, func(a, b *HoldView) int {
		return cmp.Or(cmp.Compare(a.ExpiresAt, b.ExpiresAt), cmp.Compare(a.ID, b.ID))
	})
	for _, h := range due {
		r.ver++
		h.State, h.Version = HoldExpired, r.ver
	}
	if c.IdempotencyKey != "" && (c.Op == OpHold || c.Op == OpConfirm) {
		k := string(rune('0'+c.Op)) + c.IdempotencyKey
		if e, ok := r.idem[k]; ok {
			if e.fp != c.Fingerprint {
				return Result{Code: ErrIdempotencyMismatch}
			}
			res := e.res
			res.Replayed = true
			return res
		}
		res := r.do(c)
		r.idem[k] = refIdem{c.Fingerprint, res}
		return res
	}
	return r.do(c)
}

func (r *ref) do(c *Command) Result {
	view := func(h *HoldView) Result { v := *h; return Result{Hold: v} }
	if c.Op == OpHold {
		active := 0
		for _, h := range r.holds {
			if h.Holder == c.Holder && (h.State == HoldHeld || h.State == HoldAwaitingPayment) {
				active += len(h.Seats)
			}
		}
		if active+len(c.Seats) > int(c.MaxSeats) {
			return Result{Code: ErrTooMany}
		}
		var busy []int32
		for _, s := range c.Seats {
			if st, _ := r.seat(s); st != Free {
				busy = append(busy, s)
			}
		}
		if busy != nil {
			return Result{Code: ErrUnavailable, Seats: busy}
		}
		r.ver++
		h := &HoldView{ID: uint64(len(r.holds) + 1), Seats: slices.Clone(c.Seats), Holder: c.Holder, State: HoldHeld,
			ExpiresAt: r.now + c.TTL, Version: r.ver}
		r.holds = append(r.holds, h)
		res := view(h)
		res.Created = true
		return res
	}
	h := r.get(c.HoldID)
	if c.Op == OpTick {
		return Result{}
	}
	if h == nil {
		return Result{Code: ErrNotFound}
	}
	live := h.State == HoldHeld || h.State == HoldAwaitingPayment
	switch c.Op {
	case OpGet:
		return view(h)
	case OpExtend, OpAwaitPayment:
		if h.State == HoldSold {
			return Result{Code: ErrSold}
		}
		if !live {
			return Result{Code: ErrExpired}
		}
		if c.Op == OpAwaitPayment && h.State == HoldHeld {
			r.ver++
			h.State, h.Version = HoldAwaitingPayment, r.ver
		}
		h.ExpiresAt = r.now + c.TTL
		return view(h)
	case OpConfirm:
		if h.State == HoldSold {
			if h.OrderID == c.OrderID {
				return view(h)
			}
			return Result{Code: ErrSold}
		}
		if !live {
			return Result{Code: ErrExpired}
		}
		r.ver++
		h.State, h.Version, h.OrderID = HoldSold, r.ver, c.OrderID
		return view(h)
	case OpRelease:
		if h.State == HoldSold {
			return Result{Code: ErrSold}
		}
		if live {
			r.ver++
			h.State, h.Version = HoldReleased, r.ver
		}
		return view(h)
	}
	return Result{Code: ErrInvalid}
}

func sameResult(a, b Result) bool {
	a.Log, b.Log = false, false
	if len(a.Hold.Seats) == 0 && len(b.Hold.Seats) == 0 {
		a.Hold.Seats, b.Hold.Seats = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// TestAgainstModel runs random command sequences through the machine and the
// model, compares every answer and seat, and checks that replaying only the
// logged commands (as recovery does) rebuilds exactly the same state.
func TestAgainstModel(t *testing.T) {
	opts := Options{Retention: 1000 * time.Hour, MaxIdempotencyKeys: 1 << 20, MaxEndedHolds: 1 << 20}
	for seed := uint64(0); seed < 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		nSeats := 3 + rng.IntN(10)
		ix := testIndex(t, nSeats)
		m := New(ix, opts)
		model := &ref{n: nSeats, idem: map[string]refIdem{}}
		var logged []*Command
		now := int64(0)
		for step := 0; step < 400; step++ {
			now += int64(rng.IntN(3)) * sec / 2
			c := randomCommand(rng, nSeats, now)
			if rng.IntN(15) == 0 {
				c.Op, c.HoldID = OpGet, uint64(rng.IntN(30)+1)
			}
			got := m.Apply(c)
			want := model.apply(c)
			if !sameResult(got, want) {
				t.Fatalf("seed %d step %d %+v:\nmachine %+v\nmodel   %+v", seed, step, c, got, want)
			}
			if got.Log {
				logged = append(logged, c)
			}
			if m.Version() != model.ver {
				t.Fatalf("seed %d step %d: version %d, model %d", seed, step, m.Version(), model.ver)
			}
			var counts [4]int
			for s := int32(0); s < int32(nSeats); s++ {
				st, owners := model.seat(s)
				if owners > 1 {
					t.Fatalf("model: seat %d in %d holds", s, owners)
				}
				if m.Seat(s) != st {
					t.Fatalf("seed %d step %d: seat %d %v, model %v", seed, step, s, m.Seat(s), st)
				}
				counts[st]++
			}
			if counts != m.Counts() {
				t.Fatalf("counts %v, seats say %v", m.Counts(), counts)
			}
		}
		// Recovery: only logged commands, then a tick at the same time.
		r := New(ix, opts)
		for _, c := range logged {
			r.Apply(c)
		}
		tick := &Command{Op: OpTick, Now: now}
		m.Apply(tick)
		r.Apply(tick)
		if !bytes.Equal(m.AppendState(nil), r.AppendState(nil)) {
			t.Fatalf("seed %d: replaying the %d logged commands gives another state", seed, len(logged))
		}
	}
}

func FuzzDecodeCommand(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20; i++ {
		f.Add(randomCommand(rng, 100, rng.Int64()).AppendBinary(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Command
		if DecodeCommand(b, &c) != nil {
			return
		}
		if !bytes.Equal(c.AppendBinary(nil), b) {
			// Varints have one canonical form per value only when minimal;
			// a decoded command must at least decode again to itself.
			var d Command
			if err := DecodeCommand(c.AppendBinary(nil), &d); err != nil || !reflect.DeepEqual(c, d) {
				t.Fatalf("re-encoding differs: %+v vs %+v", c, d)
			}
		}
		m := New(testIndex(t, 10), DefaultOptions())
		m.Apply(&c) // must not panic on any decoded command
	})
}

func FuzzRestore(f *testing.F) {
	ix := testIndex(f, 8)
	rng := rand.New(rand.NewPCG(7, 8))
	m := New(ix, DefaultOptions())
	f.Add(m.AppendState(nil))
	for i := 0; i < 200; i++ {
		m.Apply(randomCommand(rng, 8, int64(i)*sec))
		if i%50 == 0 {
			f.Add(m.AppendState(nil))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Restore(ix, DefaultOptions(), b)
		if err != nil {
			return
		}
		m.Apply(&Command{Op: OpTick, Now: m.Now() + 1000*sec})
		m.AppendState(nil)
	})
}
