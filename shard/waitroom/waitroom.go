package waitroom

import (
	"container/heap"
	"fmt"
	"math"

	"boxoffice.dev/boxoffice/shard/internal/deadline"
)

// Op is a command kind.
type Op uint8

const (
	OpConfigure Op = iota + 1 // set Command.Config
	OpJoin                    // a buyer arrives with Command.Key
	OpOpen                    // the sale opens: shuffle the pre-queue with Command.Seed
	OpSeats                   // the seat counts changed: Command.Seats
	OpTouch                   // admission Command.ID is active and holds Command.Holding seats
	OpLeave                   // place Command.ID ends for Command.Reason
	OpTick                    // only time passes
	OpSwitchOff               // the room is switched off: every place ends, holds are no longer gated
	maxOp
)

// Reason is why a place ends (OpLeave).
type Reason uint8

const (
	ReasonLeft   Reason = iota + 1 // the buyer gave up the place
	ReasonBought                   // the buyer bought seats
	maxReason
)

// Config is the waiting room's setting, decided by the caller (from the
// Showtime's spec.sales) and carried by OpConfigure. Times are unix
// nanoseconds, durations nanoseconds.
type Config struct {
	// MaxActive is how many buyers may be admitted (choosing seats) at once.
	MaxActive int32
	// IdleTimeout is how long an admitted buyer holding no seat may stay idle.
	IdleTimeout int64
	// MaxSeats is the seat limit an admission carries.
	MaxSeats int32
	// PreQueueAt is when joins are first accepted (into the pre-queue).
	PreQueueAt int64
	// OpensAt is when the sale opens; OpOpen is refused before it.
	OpensAt int64
	// Managed marks a room kept by the shard's flags (the operator's):
	// a leader started without them switches such a room off, while a
	// room configured by hand (PUT /v1/room) stays until switched off.
	Managed bool
}

// Validate checks a configuration and names the bad field.
func (c Config) Validate() error {
	switch {
	case c.MaxActive < 1:
		return fmt.Errorf("maxActive must be at least 1, got %d", c.MaxActive)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("idleTimeout must be positive, got %dns", c.IdleTimeout)
	case c.MaxSeats < 1:
		return fmt.Errorf("maxSeats must be at least 1, got %d", c.MaxSeats)
	case c.PreQueueAt > c.OpensAt:
		return fmt.Errorf("the pre-queue must open (%d) at or before the sale (%d)", c.PreQueueAt, c.OpensAt)
	}
	return nil
}

// SeatCounts are the showtime's seats as the queue needs them. Held counts
// held and awaiting-payment seats alike.
type SeatCounts struct {
	Free, Held, Sold int32
}

// Command is one request to the machine.
type Command struct {
	Op     Op
	Now    int64 // unix nanoseconds
	Config Config
	// Key identifies a join (OpJoin); it must not be zero.
	Key [16]byte
	// Seed orders the pre-queue (OpOpen).
	Seed [2]uint64
	// ID names the place (OpTouch, OpLeave).
	ID uint64
	// Holding is how many seats admission ID holds now (OpTouch).
	Holding int32
	Reason  Reason
	Seats   SeatCounts
}

// Code is the outcome of a command.
type Code uint8

const (
	OK               Code = iota
	ErrInvalid            // malformed command
	ErrNotConfigured      // no OpConfigure yet
	ErrTooEarly           // a join before PreQueueAt, an open before OpensAt
	ErrNotFound           // no such place (ended, or never was)
	ErrSoldOut            // the queue closed: every seat is sold
	numCodes
)

var codeNames = [...]string{"ok", "invalid_request", "waiting_room_not_configured", "waiting_room_not_open",
	"place_not_found", "sold_out"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", c)
}

// Result is the answer to a command.
type Result struct {
	Code Code
	// ID is the place of a join.
	ID uint64
	// Log is true when the command changed the state and so must be logged.
	Log bool
}

// State is where a place stands.
type State uint8

const (
	PreQueued State = iota + 1 // joined before the sale opened; order drawn at opening
	Waiting                    // in line
	Admitted                   // may choose seats
	numStates
)

var stateNames = [...]string{"", "pre_queued", "waiting", "admitted"}

func (s State) String() string {
	if s > 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

const never = math.MaxInt64

type entry struct {
	id       uint64
	key      [16]byte
	state    State
	seq      int   // Waiting: absolute index in the line
	queuedAt int64 // when the wait started (join, or the opening for the pre-queue)
	deadline int64 // Admitted: idle deadline (never while holding seats)
	holding  int32
	maxSeats int32
}

// Machine is the waiting room of one showtime. It is not safe for concurrent
// use.
type Machine struct {
	cfg        Config
	configured bool
	off        bool // switched off (OpSwitchOff) and not configured since
	now        int64
	opened     bool
	closed     bool
	seats      SeatCounts
	seatsKnown bool

	nextID  uint64
	entries map[uint64]*entry
	byKey   map[[16]byte]uint64
	pre     []uint64 // pre-queue in join order; may hold ended ids
	preN    int      // places in the pre-queue
	line    line
	exp     deadline.Heap

	active   int // admitted
	shopping int // admitted and holding no seat
	stats    stats

	dirty bool
}

// New gives an empty, unconfigured waiting room.
func New() *Machine {
	return &Machine{nextID: 1, entries: map[uint64]*entry{}, byKey: map[[16]byte]uint64{}}
}

// Now is the latest command time seen.
func (m *Machine) Now() int64 { return m.now }

// Config is the configuration in force, and whether there is one.
func (m *Machine) Config() (Config, bool) { return m.cfg, m.configured }

// NextDeadline gives the earliest pending idle deadline (possibly stale): the
// caller applies an OpTick then so the next buyer is admitted on time.
func (m *Machine) NextDeadline() (int64, bool) {
	for len(m.exp) > 0 {
		e := m.entries[m.exp[0].ID]
		if e != nil && e.state == Admitted && e.deadline == m.exp[0].At {
			return m.exp[0].At, true
		}
		heap.Pop(&m.exp) // stale: dropping it changes no answer
	}
	return 0, false
}

// Apply runs one command at c.Now (clamped so time never goes backwards).
// A command of unknown kind is refused before anything happens, so nothing
// that cannot be encoded is ever logged.
func (m *Machine) Apply(c *Command) Result {
	if c.Op < OpConfigure || c.Op >= maxOp {
		return Result{Code: ErrInvalid}
	}
	m.now = max(m.now, c.Now)
	m.dirty = false
	m.expire()
	var r Result
	switch c.Op {
	case OpConfigure:
		r = m.configure(c.Config)
	case OpJoin:
		r = m.join(c.Key)
	case OpOpen:
		r = m.open(c.Seed)
	case OpSeats:
		r = m.setSeats(c.Seats)
	case OpTouch:
		r = m.touch(c.ID, c.Holding)
	case OpLeave:
		r = m.leave(c.ID, c.Reason)
	case OpTick:
	case OpSwitchOff:
		m.switchOff()
	}
	m.fill()
	r.Log = m.dirty
	return r
}

func (m *Machine) configure(c Config) Result {
	if c.Validate() != nil {
		return Result{Code: ErrInvalid}
	}
	if m.configured && c == m.cfg {
		return Result{}
	}
	m.cfg, m.configured, m.off, m.dirty = c, true, false, true
	return Result{}
}

func (m *Machine) join(key [16]byte) Result {
	switch {
	case key == [16]byte{}:
		return Result{Code: ErrInvalid}
	case !m.configured:
		return Result{Code: ErrNotConfigured}
	case m.closed:
		return Result{Code: ErrSoldOut}
	}
	if id, ok := m.byKey[key]; ok {
		return Result{ID: id}
	}
	if m.now < m.cfg.PreQueueAt {
		return Result{Code: ErrTooEarly}
	}
	e := &entry{id: m.nextID, key: key, queuedAt: m.now}
	m.nextID++
	m.entries[e.id] = e
	m.byKey[key] = e.id
	if m.opened {
		m.enqueue(e)
	} else {
		e.state = PreQueued
		m.pre = append(m.pre, e.id)
		m.preN++
	}
	m.dirty = true
	return Result{ID: e.id}
}

func (m *Machine) enqueue(e *entry) {
	e.state = Waiting
	e.seq = m.line.push(e.id)
}

func (m *Machine) open(seed [2]uint64) Result {
	switch {
	case !m.configured:
		return Result{Code: ErrNotConfigured}
	case m.opened:
		return Result{}
	case m.now < m.cfg.OpensAt:
		return Result{Code: ErrTooEarly}
	}
	m.opened, m.dirty = true, true
	pre := m.livePre()
	for _, i := range Shuffle(seed, len(pre)) {
		e := m.entries[pre[i]]
		e.queuedAt = m.now
		m.enqueue(e)
	}
	m.pre, m.preN = nil, 0
	return Result{}
}

func (m *Machine) setSeats(s SeatCounts) Result {
	if s.Free < 0 || s.Held < 0 || s.Sold < 0 {
		return Result{Code: ErrInvalid}
	}
	if m.seatsKnown && s == m.seats {
		return Result{}
	}
	m.seats, m.seatsKnown, m.dirty = s, true, true
	if s.Free == 0 && s.Held == 0 && s.Sold > 0 {
		m.close()
	}
	return Result{}
}

// livePre is the pre-queue without the places that ended, in join order.
func (m *Machine) livePre() []uint64 {
	live := make([]uint64, 0, m.preN)
	for _, id := range m.pre {
		if e := m.entries[id]; e != nil && e.state == PreQueued {
			live = append(live, id)
		}
	}
	return live
}

// switchOff turns the room off: every place ends (nobody is counted as
// timed out or as a buyer), joins answer ErrNotConfigured and MayHoldAt
// answers Unguarded. What must outlive the room stays: place ids go on from
// nextID (holds of "w:<place>" made earlier never name a later place), slots
// go on from the line's end, and the seat counts, the sold-out close and
// the statistics are kept. Configuring again starts an empty room, opened
// by the leader's next OpOpen.
func (m *Machine) switchOff() {
	if !m.configured {
		return
	}
	m.cfg, m.configured, m.opened, m.off = Config{}, false, false, true
	m.entries = map[uint64]*entry{}
	m.byKey = map[[16]byte]uint64{}
	m.pre, m.preN = nil, 0
	m.line = line{base: m.line.base + len(m.line.ids)}
	m.exp = nil
	m.active, m.shopping = 0, 0
	m.dirty = true
}

// Pristine reports whether the machine is as New made it: never configured.
// A machine that is not must be kept in snapshots even while switched off,
// so that place ids are never reused and the room is still known to be off.
func (m *Machine) Pristine() bool { return !m.configured && !m.off && m.nextID == 1 }

// SwitchedOff reports whether the room was switched off and not configured
// again since.
func (m *Machine) SwitchedOff() bool { return m.off }

// close ends every place: every seat is sold and none can come back.
func (m *Machine) close() {
	m.closed = true
	m.entries = map[uint64]*entry{}
	m.byKey = map[[16]byte]uint64{}
	m.pre, m.preN = nil, 0
	m.line = line{}
	m.exp = nil
	m.active, m.shopping = 0, 0
}

func (m *Machine) touch(id uint64, holding int32) Result {
	e := m.entries[id]
	switch {
	case holding < 0:
		return Result{Code: ErrInvalid}
	case e == nil && m.closed:
		return Result{Code: ErrSoldOut}
	case e == nil:
		return Result{Code: ErrNotFound}
	case e.state != Admitted:
		return Result{}
	}
	if (e.holding == 0) != (holding == 0) {
		if holding == 0 {
			m.shopping++
		} else {
			m.shopping--
		}
	}
	e.holding = holding
	m.setDeadline(e)
	m.dirty = true
	return Result{}
}

func (m *Machine) setDeadline(e *entry) {
	if e.holding > 0 {
		e.deadline = never
		return
	}
	e.deadline = m.now + m.cfg.IdleTimeout
	heap.Push(&m.exp, deadline.Entry{At: e.deadline, ID: e.id})
}

func (m *Machine) leave(id uint64, why Reason) Result {
	e := m.entries[id]
	switch {
	case why < ReasonLeft || why >= maxReason:
		return Result{Code: ErrInvalid}
	case e == nil && m.closed:
		return Result{Code: ErrSoldOut}
	case e == nil:
		return Result{Code: ErrNotFound}
	}
	m.end(e)
	if why == ReasonBought {
		m.stats.bought++
	}
	return Result{}
}

// end forgets a place wherever it stands.
func (m *Machine) end(e *entry) {
	switch e.state {
	case PreQueued:
		m.preN-- // its id stays in m.pre until the opening skips it
	case Waiting:
		m.line.remove(e.seq)
	case Admitted:
		m.active--
		if e.holding == 0 {
			m.shopping--
		}
	}
	delete(m.entries, e.id)
	delete(m.byKey, e.key)
	m.dirty = true
}

func (m *Machine) expire() {
	for len(m.exp) > 0 && m.exp[0].At <= m.now {
		x := heap.Pop(&m.exp).(deadline.Entry)
		e := m.entries[x.ID]
		if e == nil || e.state != Admitted || e.deadline != x.At {
			continue
		}
		m.end(e)
		m.stats.timedOut++
	}
}

// admitting reports whether the seats allow one more buyer to choose.
func (m *Machine) admitting() bool {
	return m.opened && !m.closed && m.configured && m.active < int(m.cfg.MaxActive) &&
		(!m.seatsKnown || m.shopping < int(m.seats.Free))
}

// fill admits from the head of the line while there is room.
func (m *Machine) fill() {
	for m.line.len() > 0 && m.admitting() {
		e := m.entries[m.line.pop()]
		e.state = Admitted
		e.maxSeats = m.cfg.MaxSeats
		e.holding = 0
		m.active++
		m.shopping++
		m.setDeadline(e)
		m.stats.admit(m.now, m.now-e.queuedAt)
		m.dirty = true
	}
}
