package waitroom

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// ref is a deliberately naive model of the waiting room: a list of places
// with an order number, everything else found by scanning. The machine must
// agree with it on every answer, every place and the status.
type ref struct {
	cfg        Config
	configured bool
	now        int64
	opened     bool
	closed     bool
	seats      SeatCounts
	seatsKnown bool
	places     []*refPlace
	nextOrder  int
	nextSlot   int
	admits     []int64 // admission times
	admitted   uint64
	timedOut   uint64
	bought     uint64
}

type refPlace struct {
	id       uint64
	key      [16]byte
	state    State
	gone     bool
	order    int
	slot     int // Waiting: the how-manieth place to enter the line
	queuedAt int64
	deadline int64
	holding  int32
	maxSeats int32
}

func (r *ref) live() []*refPlace {
	var l []*refPlace
	for _, p := range r.places {
		if !p.gone {
			l = append(l, p)
		}
	}
	return l
}

func (r *ref) find(id uint64) *refPlace {
	if id == 0 || id > uint64(len(r.places)) || r.places[id-1].gone {
		return nil
	}
	return r.places[id-1]
}

func (r *ref) count(f func(*refPlace) bool) int {
	n := 0
	for _, p := range r.places {
		if !p.gone && f(p) {
			n++
		}
	}
	return n
}

func (r *ref) apply(c *Command) Result {
	if c.Op < OpConfigure || c.Op >= maxOp {
		return Result{Code: ErrInvalid}
	}
	r.now = max(r.now, c.Now)
	for _, p := range r.live() {
		if p.state == Admitted && p.holding == 0 && p.deadline <= r.now {
			p.gone = true
			r.timedOut++
		}
	}
	res := r.do(c)
	r.fill()
	return res
}

func (r *ref) do(c *Command) Result {
	switch c.Op {
	case OpConfigure:
		if c.Config.Validate() != nil {
			return Result{Code: ErrInvalid}
		}
		r.cfg, r.configured = c.Config, true
	case OpJoin:
		return r.join(c.Key)
	case OpOpen:
		switch {
		case !r.configured:
			return Result{Code: ErrNotConfigured}
		case r.opened:
			return Result{}
		case r.now < r.cfg.OpensAt:
			return Result{Code: ErrTooEarly}
		}
		r.opened = true
		var pre []*refPlace
		for _, p := range r.live() {
			if p.state == PreQueued {
				pre = append(pre, p)
			}
		}
		slices.SortFunc(pre, func(a, b *refPlace) int { return cmp.Compare(a.order, b.order) })
		for _, i := range Shuffle(c.Seed, len(pre)) {
			pre[i].state, pre[i].order, pre[i].queuedAt, pre[i].slot = Waiting, r.nextOrder, r.now, r.nextSlot
			r.nextOrder++
			r.nextSlot++
		}
	case OpSeats:
		if c.Seats.Free < 0 || c.Seats.Held < 0 || c.Seats.Sold < 0 {
			return Result{Code: ErrInvalid}
		}
		r.seats, r.seatsKnown = c.Seats, true
		if c.Seats.Free == 0 && c.Seats.Held == 0 && c.Seats.Sold > 0 {
			r.closed = true
			for _, p := range r.places {
				p.gone = true
			}
		}
	case OpTouch, OpLeave:
		return r.onPlace(c)
	case OpSwitchOff:
		if r.configured {
			r.cfg, r.configured, r.opened = Config{}, false, false
			for _, p := range r.places {
				p.gone = true
			}
		}
	}
	return Result{}
}

func (r *ref) join(key [16]byte) Result {
	switch {
	case key == [16]byte{}:
		return Result{Code: ErrInvalid}
	case !r.configured:
		return Result{Code: ErrNotConfigured}
	case r.closed:
		return Result{Code: ErrSoldOut}
	}
	for _, p := range r.live() {
		if p.key == key {
			return Result{ID: p.id}
		}
	}
	if r.now < r.cfg.PreQueueAt {
		return Result{Code: ErrTooEarly}
	}
	p := &refPlace{id: uint64(len(r.places) + 1), key: key, state: PreQueued, order: r.nextOrder, queuedAt: r.now}
	r.nextOrder++
	if r.opened {
		p.state, p.slot = Waiting, r.nextSlot
		r.nextSlot++
	}
	r.places = append(r.places, p)
	return Result{ID: p.id}
}

// mayHold is MayHoldAt's verdict for place id at the model's time.
func (r *ref) mayHold(id uint64) Verdict {
	p := r.find(id)
	switch {
	case !r.configured:
		return Unguarded
	case p == nil:
		return TurnEnded // every id up to len(places) was taken
	case p.state != Admitted:
		return NotAdmitted
	case p.deadline <= r.now:
		return TurnEnded
	}
	return MayHold
}

func (r *ref) onPlace(c *Command) Result {
	if c.Op == OpTouch && c.Holding < 0 || c.Op == OpLeave && (c.Reason < ReasonLeft || c.Reason >= maxReason) {
		return Result{Code: ErrInvalid}
	}
	p := r.find(c.ID)
	if p == nil {
		if r.closed {
			return Result{Code: ErrSoldOut}
		}
		return Result{Code: ErrNotFound}
	}
	if c.Op == OpLeave {
		p.gone = true
		if c.Reason == ReasonBought {
			r.bought++
		}
		return Result{}
	}
	if p.state == Admitted {
		p.holding = c.Holding
		p.deadline = r.now + r.cfg.IdleTimeout
		if p.holding > 0 {
			p.deadline = never
		}
	}
	return Result{}
}

func (r *ref) fill() {
	for r.opened && !r.closed && r.configured {
		active := r.count(func(p *refPlace) bool { return p.state == Admitted })
		choosing := r.count(func(p *refPlace) bool { return p.state == Admitted && p.holding == 0 })
		if active >= int(r.cfg.MaxActive) || r.seatsKnown && choosing >= int(r.seats.Free) {
			return
		}
		var next *refPlace
		for _, p := range r.live() {
			if p.state == Waiting && (next == nil || p.order < next.order) {
				next = p
			}
		}
		if next == nil {
			return
		}
		next.state, next.holding, next.maxSeats = Admitted, 0, r.cfg.MaxSeats
		next.deadline = r.now + r.cfg.IdleTimeout
		r.admits = append(r.admits, r.now)
		r.admitted++
	}
}

// rate is admissions per second over the last 64 admissions (0: unmeasured).
func (r *ref) rate() float64 {
	k := min(len(r.admits), rateWindow)
	if k < 2 {
		return 0
	}
	last := r.admits[len(r.admits)-k:]
	if span := last[k-1] - last[0]; span > 0 {
		return float64(k-1) / (float64(span) / float64(time.Second))
	}
	return 0
}

func (r *ref) wait(ahead int) (time.Duration, bool) {
	if !r.configured {
		return 0, false
	}
	rate := r.rate()
	ok := rate > 0
	if !ok {
		rate = float64(r.cfg.MaxActive) / (float64(r.cfg.IdleTimeout) / float64(time.Second))
	}
	active := r.count(func(p *refPlace) bool { return p.state == Admitted })
	n := ahead + 1 - max(int(r.cfg.MaxActive)-active, 0)
	if n <= 0 {
		return 0, ok
	}
	return time.Duration(float64(n) / rate * float64(time.Second)).Round(time.Second), ok
}

func (r *ref) place(id uint64) (Place, bool) {
	p := r.find(id)
	if p == nil {
		return Place{}, false
	}
	v := Place{ID: id, State: p.state}
	switch p.state {
	case PreQueued:
		v.PreQueue = r.count(func(q *refPlace) bool { return q.state == PreQueued })
		v.Wait, v.Measured = r.wait(v.PreQueue / 2)
	case Waiting:
		v.Slot = p.slot
		v.Ahead = r.count(func(q *refPlace) bool { return q.state == Waiting && q.order < p.order })
		v.Wait, v.Measured = r.wait(v.Ahead)
	case Admitted:
		v.MaxSeats = p.maxSeats
		if p.holding == 0 {
			v.IdleDeadline = p.deadline
		}
	}
	return v, true
}

func randomKey(rng *rand.Rand, pool int) [16]byte {
	var k [16]byte
	k[0] = byte(1 + rng.IntN(pool))
	return k
}

func randomCommand(rng *rand.Rand, now int64, maxID uint64) *Command {
	c := &Command{Now: now}
	switch x := rng.IntN(100); {
	case x < 4:
		c.Op = OpConfigure
		c.Config = Config{MaxActive: int32(rng.IntN(4)), IdleTimeout: int64(rng.IntN(8)) * sec,
			MaxSeats: int32(1 + rng.IntN(6)), PreQueueAt: int64(rng.IntN(10)) * sec, OpensAt: int64(5+rng.IntN(20)) * sec,
			Managed: rng.IntN(2) == 0}
	case x < 40:
		c.Op = OpJoin
		c.Key = randomKey(rng, 60)
		if rng.IntN(30) == 0 {
			c.Key = [16]byte{}
		}
	case x < 44:
		c.Op = OpOpen
		c.Seed = [2]uint64{rng.Uint64(), rng.Uint64()}
	case x < 54:
		c.Op = OpSeats
		c.Seats = SeatCounts{Free: int32(rng.IntN(6)), Held: int32(rng.IntN(3)), Sold: int32(rng.IntN(20))}
		if rng.IntN(60) != 0 && c.Seats.Free+c.Seats.Held == 0 {
			c.Seats.Held = 1 // sold out only now and then, so most runs go on
		}
	case x < 72:
		c.Op = OpTouch
		c.ID = uint64(rng.IntN(int(maxID) + 2))
		c.Holding = int32(rng.IntN(3)) - int32(rng.IntN(2)*rng.IntN(2))
	case x < 82:
		c.Op = OpLeave
		c.ID = uint64(rng.IntN(int(maxID) + 2))
		c.Reason = Reason(rng.IntN(4))
	case x < 96:
		c.Op = OpTick
	case x < 98:
		c.Op = OpSwitchOff
	default:
		c.Op = Op(maxOp + Op(rng.IntN(3)))
	}
	return c
}

// TestAgainstModel runs random command sequences through the machine and the
// model and compares every answer, every place and the status after each
// step; then checks that replaying only the logged commands, or restoring a
// snapshot, rebuilds exactly the same state.
func TestAgainstModel(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 17))
		m, model := New(), &ref{}
		var logged []*Command
		now := int64(0)
		for step := 0; step < 500; step++ {
			now += int64(rng.IntN(5)) * sec / 4
			c := randomCommand(rng, now, uint64(len(model.places)))
			got, want := m.Apply(c), model.apply(c)
			if got.Code != want.Code || got.ID != want.ID {
				t.Fatalf("seed %d step %d %+v:\nmachine %+v\nmodel   %+v", seed, step, c, got, want)
			}
			if got.Log {
				logged = append(logged, c)
			}
			compare(t, m, model, seed, step)
			if step%97 == 0 {
				r, err := Restore(m.AppendState(nil))
				if err != nil {
					t.Fatalf("seed %d step %d: restore: %v", seed, step, err)
				}
				if !bytes.Equal(r.AppendState(nil), m.AppendState(nil)) {
					t.Fatalf("seed %d step %d: a restored snapshot encodes differently", seed, step)
				}
				m = r // go on from the restored machine: it must behave the same
			}
		}
		r := New()
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

func compare(t *testing.T, m *Machine, model *ref, seed uint64, step int) {
	t.Helper()
	for id := uint64(0); id <= uint64(len(model.places))+1; id++ {
		got, gok := m.Place(id)
		want, wok := model.place(id)
		if gok != wok || got != want {
			t.Fatalf("seed %d step %d: place %d\nmachine %+v %v\nmodel   %+v %v", seed, step, id, got, gok, want, wok)
		}
	}
	if step%3 == 0 {
		checkSummary(t, m, model, seed, step)
	}
	s := m.Status()
	isState := func(st State) func(*refPlace) bool { return func(p *refPlace) bool { return p.state == st } }
	want := Status{
		Configured: model.configured, Open: model.opened, SoldOut: model.closed,
		SeatsMayReturn: model.seatsKnown && !model.closed && model.seats.Free == 0 && model.seats.Held > 0,
		PreQueued:      model.count(isState(PreQueued)),
		Waiting:        model.count(isState(Waiting)),
		Active:         model.count(isState(Admitted)),
		Choosing:       model.count(func(p *refPlace) bool { return p.state == Admitted && p.holding == 0 }),
		Admitted:       model.admitted, TimedOut: model.timedOut, Bought: model.bought,
		Rate: model.rate(), MedianWait: s.MedianWait, P99Wait: s.P99Wait, Seats: model.seats,
		PreQueueAt: model.cfg.PreQueueAt, OpensAt: model.cfg.OpensAt,
	}
	for id := uint64(1); id <= uint64(len(model.places)); id++ {
		got, _ := m.MayHoldAt(HolderPrefix+strconv.FormatUint(id, 10), model.now)
		if want := model.mayHold(id); got != want {
			t.Fatalf("seed %d step %d: may place %d hold? machine %v, model %v", seed, step, id, got, want)
		}
	}
	if s != want {
		t.Fatalf("seed %d step %d: status\nmachine %+v\nmodel   %+v", seed, step, s, want)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 30; i++ {
		f.Add(randomCommand(rng, rng.Int64(), 100).AppendBinary(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Command
		if DecodeCommand(b, &c) != nil {
			return
		}
		var d Command
		if err := DecodeCommand(c.AppendBinary(nil), &d); err != nil || c != d {
			t.Fatalf("re-encoding differs: %+v vs %+v (%v)", c, d, err)
		}
		m := New()
		m.Apply(&Command{Op: OpConfigure, Config: Config{MaxActive: 2, IdleTimeout: sec, MaxSeats: 4}})
		m.Apply(&c) // must not panic on any decoded command
	})
}

func FuzzRestore(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	m := New()
	f.Add(m.AppendState(nil))
	for i := 0; i < 300; i++ {
		m.Apply(randomCommand(rng, int64(i)*sec/2, 60))
		if i%60 == 0 {
			f.Add(m.AppendState(nil))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Restore(b)
		if err != nil {
			return
		}
		again := m.AppendState(nil)
		for i := int64(1); i <= 20; i++ { // must not panic, and stay consistent
			m.Apply(&Command{Op: Op(1 + i%7), Now: m.Now() + i*sec, ID: uint64(i), Key: [16]byte{byte(i)}, Holding: int32(i % 2), Reason: ReasonLeft})
		}
		if _, err := Restore(again); err != nil {
			t.Fatalf("a restored state does not restore again: %v", err)
		}
		if _, err := Restore(m.AppendState(nil)); err != nil {
			t.Fatalf("state after commands does not restore: %v", err)
		}
	})
}

// checkSummary: for every waiting place, the ahead worked out from a line
// summary is never below the exact count and above it by at most the places
// that left from its bucket.
func checkSummary(t *testing.T, m *Machine, model *ref, seed uint64, step int) {
	t.Helper()
	for _, size := range []int{1, 3, 8} {
		sum := m.Line(size)
		for _, p := range model.live() {
			if p.state != Waiting {
				continue
			}
			exact := model.count(func(q *refPlace) bool { return q.state == Waiting && q.order < p.order })
			got, ok := sum.AheadOf(p.slot)
			slack := size - 1
			if size == 1 {
				slack = 0
			}
			if !ok || got < exact || got > exact+slack {
				t.Fatalf("seed %d step %d: bucket %d: slot %d has %d ahead, summary says %d %v (%+v)", seed, step, size, p.slot, exact, got, ok, sum)
			}
		}
	}
}
