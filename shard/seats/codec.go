package seats

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"slices"

	"boxoffice.dev/boxoffice/shard/internal/deadline"
	"boxoffice.dev/boxoffice/shard/internal/varcodec"
)

// Binary encodings of commands (log records) and of the whole state
// (snapshots). Both are little-endian varints; decoders never trust lengths.

var errShort = errors.New("seats: truncated encoding")

// reader adds the seat machine's records to the shared varint reader.
type reader struct{ varcodec.Reader }

func newReader(b []byte) reader { return reader{varcodec.NewReader(b, errShort, "seats")} }

// Bounds on decoded fields.
const (
	MaxStringLen       = 1024
	MaxSeatsPerCommand = 1024
)

// MaxSeatsPerHold is the most seats one hold may name, and so the highest
// per-holder seat limit (Command.MaxSeats) a shard or front end may be set
// to: a log record carries at most MaxSeatsPerCommand seats.
const MaxSeatsPerHold = MaxSeatsPerCommand

// AppendBinary appends the command's encoding.
func (c *Command) AppendBinary(b []byte) []byte {
	b = append(b, byte(c.Op))
	b = binary.AppendVarint(b, c.Now)
	switch c.Op {
	case OpHold:
		b = varcodec.AppendString(b, c.Holder)
		b = binary.AppendUvarint(b, uint64(len(c.Seats)))
		for _, s := range c.Seats {
			b = binary.AppendUvarint(b, uint64(s))
		}
		b = binary.AppendVarint(b, c.TTL)
		b = binary.AppendUvarint(b, uint64(c.MaxSeats))
		b = varcodec.AppendString(b, c.IdempotencyKey)
		b = append(b, c.Fingerprint[:]...)
	case OpExtend, OpAwaitPayment:
		b = binary.AppendUvarint(b, c.HoldID)
		b = binary.AppendVarint(b, c.TTL)
	case OpConfirm:
		b = binary.AppendUvarint(b, c.HoldID)
		b = varcodec.AppendString(b, c.OrderID)
		b = varcodec.AppendString(b, c.IdempotencyKey)
		b = append(b, c.Fingerprint[:]...)
	case OpRelease, OpGet:
		b = binary.AppendUvarint(b, c.HoldID)
	}
	return b
}

// DecodeCommand decodes one command from exactly b. Seats reuses c.Seats'
// backing array.
func DecodeCommand(b []byte, c *Command) error {
	r := newReader(b)
	seats := c.Seats[:0]
	*c = Command{Op: Op(r.Byte()), Now: r.Varint()}
	switch c.Op {
	case OpHold:
		c.Holder = r.String(MaxStringLen)
		n := r.Count(MaxSeatsPerCommand, 1)
		for i := 0; i < n; i++ {
			v := r.Uvarint()
			if v > 1<<31-1 {
				r.Fail("seat index %d out of range", v)
			}
			seats = append(seats, int32(v))
		}
		c.Seats = seats
		c.TTL = r.Varint()
		ms := r.Uvarint()
		if ms > 1<<31-1 {
			r.Fail("seat limit %d out of range", ms)
		}
		c.MaxSeats = int32(ms)
		c.IdempotencyKey = r.String(MaxStringLen)
		copy(c.Fingerprint[:], r.Bytes(16))
	case OpExtend, OpAwaitPayment:
		c.HoldID = r.Uvarint()
		c.TTL = r.Varint()
	case OpConfirm:
		c.HoldID = r.Uvarint()
		c.OrderID = r.String(MaxStringLen)
		c.IdempotencyKey = r.String(MaxStringLen)
		copy(c.Fingerprint[:], r.Bytes(16))
	case OpRelease, OpGet:
		c.HoldID = r.Uvarint()
	case OpTick:
	default:
		r.Fail("unknown command %d", c.Op)
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("%d trailing bytes", r.Len())
	}
	if c.Seats == nil {
		c.Seats = seats
	}
	return r.Err()
}

const stateMagic = "BOXSEAT1"

func appendView(b []byte, v *HoldView) []byte {
	b = binary.AppendUvarint(b, v.ID)
	b = binary.AppendUvarint(b, uint64(len(v.Seats)))
	for _, s := range v.Seats {
		b = binary.AppendUvarint(b, uint64(s))
	}
	b = varcodec.AppendString(b, v.Holder)
	b = append(b, byte(v.State))
	b = binary.AppendVarint(b, v.ExpiresAt)
	b = varcodec.AppendString(b, v.OrderID)
	return binary.AppendUvarint(b, v.Version)
}

func (r *reader) view(nSeats int) HoldView {
	var v HoldView
	v.ID = r.Uvarint()
	n := r.Count(MaxSeatsPerCommand, 1)
	if n > 0 {
		v.Seats = make([]int32, n)
	}
	for i := range v.Seats {
		s := r.Uvarint()
		if s >= uint64(nSeats) {
			r.Fail("seat index %d out of range", s)
		}
		v.Seats[i] = int32(s)
	}
	v.Holder = r.String(MaxStringLen)
	v.State = HoldState(r.Byte())
	if v.State > HoldExpired {
		r.Fail("bad hold state %d", v.State)
	}
	v.ExpiresAt = r.Varint()
	v.OrderID = r.String(MaxStringLen)
	v.Version = r.Uvarint()
	return v
}

// viewShared decodes a hold view, sharing the seats and holder of the hold
// with the same id when they are equal (the usual case for remembered
// answers), which keeps restore time and memory down.
func (r *reader) viewShared(nSeats int, m *Machine, scratch *[]int32) HoldView {
	var v HoldView
	v.ID = r.Uvarint()
	n := r.Count(MaxSeatsPerCommand, 1)
	buf := (*scratch)[:0]
	for i := 0; i < n; i++ {
		s := r.Uvarint()
		if s >= uint64(nSeats) {
			r.Fail("seat index %d out of range", s)
		}
		buf = append(buf, int32(s))
	}
	*scratch = buf
	h := m.holds[v.ID]
	if h != nil && slices.Equal(h.seats, buf) {
		v.Seats = h.seats
	} else if n > 0 {
		v.Seats = slices.Clone(buf)
	}
	hn := r.Count(MaxStringLen, 1)
	hb := r.Bytes(hn)
	if h != nil && h.holder == string(hb) {
		v.Holder = h.holder
	} else {
		v.Holder = string(hb)
	}
	v.State = HoldState(r.Byte())
	if v.State > HoldExpired {
		r.Fail("bad hold state %d", v.State)
	}
	v.ExpiresAt = r.Varint()
	v.OrderID = r.String(MaxStringLen)
	v.Version = r.Uvarint()
	return v
}

// Capture is the machine's state at one moment, to be encoded on another
// goroutine while the machine goes on. It shares the hold records instead of
// copying them: the machine copies a record before its first change after a
// Capture (Machine.writable). Idempotency entries and the data holds point to
// (seats, holder, order id) never change once written.
type Capture struct {
	hash    [32]byte
	version uint64
	nextID  uint64
	now     int64
	holds   []idHold // in map order; AppendTo sorts them by id
	ended   []uint64
	idem    []*idemEntry
}

// Capture takes the state for AppendTo: the pointers to the hold records
// and the two queues, not the records (about 1 ms for 100,000 holds). It
// runs on the shard's writer loop, which no write passes meanwhile.
//
// reuse, if not nil, is an earlier capture that nothing reads any more
// (Release was called): its buffers are filled again, so that a capture in
// steady state allocates nothing (otherwise about 4 MB per snapshot for
// 100,000 holds, on the loop every write waits for).
func (m *Machine) Capture(reuse *Capture) *Capture {
	c := reuse
	if c == nil {
		c = &Capture{}
	}
	c.hash, c.version, c.nextID, c.now = m.ix.Hash(), m.version, m.nextID, m.now
	c.holds = slices.Grow(c.holds[:0], len(m.holds))
	for id, h := range m.holds {
		c.holds = append(c.holds, idHold{id, h})
	}
	c.ended = append(c.ended[:0], m.ended.items[m.ended.head:]...)
	c.idem = append(c.idem[:0], m.idemQ.items[m.idemQ.head:]...)
	m.gen++
	return c
}

// idHold is a hold record with its id beside it: sorting these by id reads
// no record. Sorting the records' pointers by the id inside each read every
// record in map order: encoding 100,000 holds took 25.5 ms rather than 20.5
// (BenchmarkCaptureEncode).
type idHold struct {
	id uint64
	h  *hold
}

// Release forgets the captured state (so that the records it points to can
// be collected) and keeps its buffers for Capture(c).
func (c *Capture) Release() {
	clear(c.holds)
	clear(c.idem)
	c.holds, c.ended, c.idem = c.holds[:0], c.ended[:0], c.idem[:0]
}

// AppendState appends the machine's whole state. Equal states give equal bytes.
func (m *Machine) AppendState(b []byte) []byte { return m.Capture(nil).AppendTo(b) }

// AppendTo appends the captured state's encoding (what Restore reads).
func (c *Capture) AppendTo(b []byte) []byte {
	b = append(b, stateMagic...)
	b = append(b, c.hash[:]...)
	b = binary.AppendUvarint(b, c.version)
	b = binary.AppendUvarint(b, c.nextID)
	b = binary.AppendVarint(b, c.now)
	slices.SortFunc(c.holds, func(x, y idHold) int { return cmpU64(x.id, y.id) })
	b = binary.AppendUvarint(b, uint64(len(c.holds)))
	for _, x := range c.holds {
		h := x.h
		v := h.view()
		b = appendView(b, &v)
		b = binary.AppendVarint(b, h.endedAt)
	}
	b = binary.AppendUvarint(b, uint64(len(c.ended)))
	for _, id := range c.ended {
		b = binary.AppendUvarint(b, id)
	}
	b = binary.AppendUvarint(b, uint64(len(c.idem)))
	for _, e := range c.idem {
		b = varcodec.AppendString(b, e.key)
		b = binary.AppendVarint(b, e.at)
		b = append(b, e.fp[:]...)
		b = append(b, byte(e.res.Code))
		var flags byte
		if e.res.Created {
			flags |= 1
		}
		b = append(b, flags)
		b = appendView(b, &e.res.Hold)
		b = binary.AppendUvarint(b, uint64(len(e.res.Seats)))
		for _, s := range e.res.Seats {
			b = binary.AppendUvarint(b, uint64(s))
		}
	}
	return b
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Restore rebuilds a machine from AppendState's bytes. The seat map must be
// the one the state was written with.
func Restore(ix *Index, opts Options, data []byte) (*Machine, error) {
	m := New(ix, opts)
	r := newReader(data)
	if err := m.restoreHeader(&r); err != nil {
		return nil, err
	}
	m.restoreHolds(&r)
	m.restoreEnded(&r)
	m.restoreIdem(&r)
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("%d trailing bytes", r.Len())
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	return m, nil
}

// restoreHeader checks the magic and the seat map's hash and reads the
// machine's counters.
func (m *Machine) restoreHeader(r *reader) error {
	if string(r.Bytes(len(stateMagic))) != stateMagic {
		return errors.New("seats: not a state encoding")
	}
	h := m.ix.Hash()
	if string(r.Bytes(32)) != string(h[:]) {
		return errors.New("seats: the state was written for a different seat map")
	}
	m.version = r.Uvarint()
	m.nextID = r.Uvarint()
	m.now = r.Varint()
	return nil
}

// restoreHolds reads the hold records, places their seats and rebuilds the
// expiry heap.
func (m *Machine) restoreHolds(r *reader) {
	n := r.Count(1<<40, 8)
	// One allocation for all holds and presized maps: restore time is
	// recovery time.
	slab := make([]hold, n)
	m.holds = make(map[uint64]*hold, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		v := r.view(m.ix.Len())
		endedAt := r.Varint()
		if r.Err() != nil {
			break
		}
		if _, dup := m.holds[v.ID]; dup || v.State == 0 || v.ID >= m.nextID {
			r.Fail("bad hold %d", v.ID)
			break
		}
		hd := &slab[i]
		*hd = hold{id: v.ID, seats: v.Seats, holder: v.Holder, state: v.State, expiresAt: v.ExpiresAt,
			endedAt: endedAt, orderID: v.OrderID, version: v.Version}
		m.holds[v.ID] = hd
		m.placeRestoredHold(r, hd)
	}
	heap.Init(&m.exp)
}

// placeRestoredHold marks a live hold's seats as its own and, unless they are
// sold, counts them for its holder and queues its expiry. Ended holds own no
// seats.
func (m *Machine) placeRestoredHold(r *reader, hd *hold) {
	var st SeatState
	switch hd.state {
	case HoldHeld:
		st = Held
	case HoldAwaitingPayment:
		st = AwaitingPayment
	case HoldSold:
		st = Sold
	default:
		return
	}
	for _, s := range hd.seats {
		if m.seat[s] != Free {
			r.Fail("seat %d in two holds", s)
			break
		}
		m.counts[Free]--
		m.seat[s] = st
		m.counts[st]++
		m.owner[s] = hd.id
		m.seatVer[s] = hd.version
	}
	if st != Sold {
		m.holderSeats[hd.holder] += int32(len(hd.seats))
		m.exp = append(m.exp, deadline.Entry{At: hd.expiresAt, ID: hd.id})
	}
}

// restoreEnded reads the ids of ended holds, oldest first.
func (m *Machine) restoreEnded(r *reader) {
	n := r.Count(1<<40, 1)
	for i := 0; i < n && r.Err() == nil; i++ {
		m.ended.push(r.Uvarint())
	}
}

// restoreIdem reads the remembered answers to idempotent commands, oldest
// first.
func (m *Machine) restoreIdem(r *reader) {
	n := r.Count(1<<40, 20)
	ents := make([]idemEntry, n)
	m.idem = make(map[string]*idemEntry, n)
	m.idemQ.items = make([]*idemEntry, 0, n)
	var scratch []int32
	for i := 0; i < n && r.Err() == nil; i++ {
		e := &ents[i]
		r.idemEntry(e, m, &scratch)
		if _, dup := m.idem[e.key]; dup {
			r.Fail("duplicate idempotency key")
		}
		m.idem[e.key] = e
		m.idemQ.push(e)
	}
}

// idemEntry decodes one remembered answer into e.
func (r *reader) idemEntry(e *idemEntry, m *Machine, scratch *[]int32) {
	nSeats := m.ix.Len()
	*e = idemEntry{key: r.String(MaxStringLen + 2), at: r.Varint()}
	copy(e.fp[:], r.Bytes(16))
	e.res.Code = Code(r.Byte())
	if e.res.Code >= numCodes {
		r.Fail("bad result code %d", e.res.Code)
	}
	e.res.Created = r.Byte()&1 != 0
	e.res.Hold = r.viewShared(nSeats, m, scratch)
	if e.res.Hold.State == 0 {
		e.res.Hold = HoldView{}
	}
	k := r.Count(MaxSeatsPerCommand, 1)
	for j := 0; j < k; j++ {
		s := r.Uvarint()
		if s >= uint64(nSeats) {
			r.Fail("seat index %d out of range", s)
		}
		e.res.Seats = append(e.res.Seats, int32(s))
	}
}
