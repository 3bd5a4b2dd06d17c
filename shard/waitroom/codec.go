package waitroom

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"math"
	"slices"

	"boxoffice.dev/boxoffice/shard/internal/deadline"
	"boxoffice.dev/boxoffice/shard/internal/varcodec"
)

// Binary encodings of commands (log records) and of the whole state
// (snapshots): little-endian varints; decoders never trust a length.

var errShort = errors.New("waitroom: truncated encoding")

// reader adds the waiting room's records to the shared varint reader.
type reader struct{ varcodec.Reader }

func newReader(b []byte) reader { return reader{varcodec.NewReader(b, errShort, "waitroom")} }

// count reads a count of items each at least min bytes long.
func (r *reader) count(min int) int { return r.Count(math.MaxUint64, min) }

func appendConfig(b []byte, c Config) []byte {
	b = binary.AppendVarint(b, int64(c.MaxActive))
	b = binary.AppendVarint(b, c.IdleTimeout)
	b = binary.AppendVarint(b, int64(c.MaxSeats))
	b = binary.AppendVarint(b, c.PreQueueAt)
	return binary.AppendVarint(b, c.OpensAt)
}

func (r *reader) config() Config {
	return Config{MaxActive: r.Int32(), IdleTimeout: r.Varint(), MaxSeats: r.Int32(), PreQueueAt: r.Varint(), OpensAt: r.Varint()}
}

func appendSeats(b []byte, s SeatCounts) []byte {
	b = binary.AppendVarint(b, int64(s.Free))
	b = binary.AppendVarint(b, int64(s.Held))
	return binary.AppendVarint(b, int64(s.Sold))
}

func (r *reader) seats() SeatCounts {
	return SeatCounts{Free: r.Int32(), Held: r.Int32(), Sold: r.Int32()}
}

// AppendBinary appends the command's encoding.
func (c *Command) AppendBinary(b []byte) []byte {
	b = append(b, byte(c.Op))
	b = binary.AppendVarint(b, c.Now)
	switch c.Op {
	case OpConfigure:
		b = appendConfig(b, c.Config)
		if c.Config.Managed {
			b = append(b, 1) // absent in records from before Managed: false
		}
	case OpJoin:
		b = append(b, c.Key[:]...)
	case OpOpen:
		b = binary.LittleEndian.AppendUint64(b, c.Seed[0])
		b = binary.LittleEndian.AppendUint64(b, c.Seed[1])
	case OpSeats:
		b = appendSeats(b, c.Seats)
	case OpTouch:
		b = binary.AppendUvarint(b, c.ID)
		b = binary.AppendVarint(b, int64(c.Holding))
	case OpLeave:
		b = binary.AppendUvarint(b, c.ID)
		b = append(b, byte(c.Reason))
	}
	return b
}

// DecodeCommand decodes one command from exactly b.
func DecodeCommand(b []byte, c *Command) error {
	r := newReader(b)
	*c = Command{Op: Op(r.Byte()), Now: r.Varint()}
	switch c.Op {
	case OpConfigure:
		c.Config = r.config()
		if r.Err() == nil && r.Len() > 0 {
			if r.Byte() != 1 {
				r.Fail("bad managed marker")
			}
			c.Config.Managed = true
		}
	case OpJoin:
		c.Key = r.Key()
	case OpOpen:
		k := r.Key()
		c.Seed = [2]uint64{binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[8:])}
	case OpSeats:
		c.Seats = r.seats()
	case OpTouch:
		c.ID = r.Uvarint()
		c.Holding = r.Int32()
	case OpLeave:
		c.ID = r.Uvarint()
		c.Reason = Reason(r.Byte())
	case OpTick, OpSwitchOff:
	default:
		r.Fail("unknown command %d", c.Op)
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("%d trailing bytes", r.Len())
	}
	return r.Err()
}

const stateMagic = "BOXWAIT1"

func flags(bs ...bool) byte {
	var f byte
	for i, b := range bs {
		if b {
			f |= 1 << i
		}
	}
	return f
}

// AppendState appends the whole state. Equal states encode to equal bytes:
// places in id order, the pre-queue and the line without ended places.
func (m *Machine) AppendState(b []byte) []byte {
	b = append(b, stateMagic...)
	b = append(b, flags(m.configured, m.opened, m.closed, m.seatsKnown, m.cfg.Managed, m.off))
	b = appendConfig(b, m.cfg)
	b = binary.AppendVarint(b, m.now)
	b = appendSeats(b, m.seats)
	b = binary.AppendUvarint(b, m.nextID)
	ids := make([]uint64, 0, len(m.entries))
	for id := range m.entries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		e := m.entries[id]
		b = binary.AppendUvarint(b, e.id)
		b = append(b, e.key[:]...)
		b = append(b, byte(e.state))
		b = binary.AppendVarint(b, e.queuedAt)
		b = binary.AppendVarint(b, e.deadline)
		b = binary.AppendVarint(b, int64(e.holding))
		b = binary.AppendVarint(b, int64(e.maxSeats))
	}
	pre := m.livePre()
	b = binary.AppendUvarint(b, uint64(len(pre)))
	for _, id := range pre {
		b = binary.AppendUvarint(b, id)
	}
	return m.stats.appendTo(m.line.appendTo(b))
}

func (s *stats) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(s.nRecent))
	for i := s.nRecent; i > 0; i-- { // oldest first
		b = binary.AppendVarint(b, s.recent[(s.next+rateWindow-i)%rateWindow])
	}
	for _, n := range s.hist {
		b = binary.AppendUvarint(b, n)
	}
	b = binary.AppendUvarint(b, s.admitted)
	b = binary.AppendUvarint(b, s.timedOut)
	return binary.AppendUvarint(b, s.bought)
}

func (r *reader) stats() stats {
	var s stats
	n := r.count(1)
	if n > rateWindow {
		r.Fail("%d recent admissions, at most %d", n, rateWindow)
		return s
	}
	for i := 0; i < n; i++ {
		s.recent[i] = r.Varint()
	}
	s.nRecent, s.next = n, n%rateWindow
	for i := range s.hist {
		s.hist[i] = r.Uvarint()
	}
	s.admitted, s.timedOut, s.bought = r.Uvarint(), r.Uvarint(), r.Uvarint()
	return s
}

// Restore rebuilds a machine from AppendState's bytes, checking that every
// place stands in exactly one spot that fits its state.
func Restore(data []byte) (*Machine, error) {
	if len(data) < len(stateMagic) || string(data[:len(stateMagic)]) != stateMagic {
		return nil, errors.New("waitroom: not a waiting-room state")
	}
	r := newReader(data[len(stateMagic):])
	m := New()
	f := r.Byte()
	m.configured, m.opened, m.closed, m.seatsKnown = f&1 != 0, f&2 != 0, f&4 != 0, f&8 != 0
	m.cfg = r.config()
	m.cfg.Managed, m.off = f&16 != 0, f&32 != 0
	if f > 63 || m.cfg.Managed && !m.configured || m.off && m.configured {
		r.Fail("bad state flags %#x", f)
	}
	m.now = r.Varint()
	m.seats = r.seats()
	m.nextID = r.Uvarint()
	if m.configured && m.cfg.Validate() != nil {
		r.Fail("invalid configuration")
	}
	if m.nextID == 0 {
		r.Fail("next place id 0") // ids start at 1; 0 marks an empty slot in the line
	}
	r.entries(m)
	r.order(m)
	m.stats = r.stats()
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("%d trailing bytes", r.Len())
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	return m, nil
}

func (r *reader) entries(m *Machine) {
	n := r.count(16 + 6)
	prev := uint64(0)
	for i := 0; i < n && r.Err() == nil; i++ {
		e := &entry{id: r.Uvarint(), key: r.Key(), state: State(r.Byte()), queuedAt: r.Varint(),
			deadline: r.Varint(), holding: r.Int32(), maxSeats: r.Int32()}
		switch {
		case e.id <= prev || e.id >= m.nextID:
			r.Fail("place %d out of order or beyond the next id %d", e.id, m.nextID)
		case e.state < PreQueued || e.state >= numStates:
			r.Fail("place %d in unknown state %d", e.id, e.state)
		case e.key == [16]byte{} || m.byKey[e.key] != 0:
			r.Fail("place %d: zero or repeated key", e.id)
		case e.holding < 0 || (e.state == Admitted) != (e.maxSeats > 0):
			r.Fail("place %d: bad admission fields", e.id)
		case e.state == Admitted && (e.holding > 0) != (e.deadline == never):
			r.Fail("place %d: idle deadline does not match its seats", e.id)
		case m.closed:
			r.Fail("a closed room keeps no places")
		}
		prev = e.id
		m.entries[e.id], m.byKey[e.key] = e, e.id
		if e.state == Admitted {
			m.active++
			if e.holding == 0 {
				m.shopping++
				heap.Push(&m.exp, deadline.Entry{At: e.deadline, ID: e.id})
			}
		}
	}
}

// order reads the pre-queue and the line and checks that they hold exactly
// the places in those states, each once.
func (r *reader) order(m *Machine) {
	want := map[State]int{}
	for _, e := range m.entries {
		want[e.state]++
	}
	n := r.count(1)
	if r.Err() == nil && n != want[PreQueued] {
		r.Fail("%d places listed as pre-queued, %d in that state", n, want[PreQueued])
	}
	seen := map[uint64]bool{}
	for i := 0; i < n && r.Err() == nil; i++ {
		e := m.entries[r.Uvarint()]
		if e == nil || e.state != PreQueued || seen[e.id] {
			r.Fail("the pre-queue names a place not pre-queued, or twice")
			return
		}
		seen[e.id] = true
		m.pre = append(m.pre, e.id)
		m.preN++
	}
	r.line(m, want[Waiting])
	if r.Err() == nil && !m.opened && want[Waiting]+want[Admitted] > 0 {
		r.Fail("places in line before the sale opened")
	}
	if r.Err() == nil && m.opened && want[PreQueued] > 0 {
		r.Fail("a pre-queue after the sale opened")
	}
}

// maxLineSpan bounds the slots a decoded line may span (memory).
const maxLineSpan = 1 << 24

// appendTo encodes the line with its slots: the head, the next slot, and
// each waiting place as (slot - previous slot, id). Slots are kept, so a
// place's slot is the same after a restore.
func (l *line) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(l.base+l.head))
	b = binary.AppendUvarint(b, uint64(l.base+len(l.ids)))
	b = binary.AppendUvarint(b, uint64(l.n))
	prev := l.base + l.head
	for i, id := range l.ids[l.head:] {
		if id != 0 {
			slot := l.base + l.head + i
			b = binary.AppendUvarint(b, uint64(slot-prev))
			b = binary.AppendUvarint(b, id)
			prev = slot
		}
	}
	return b
}

// line reads the line; want places must be waiting.
func (r *reader) line(m *Machine, want int) {
	head, end := r.Uvarint(), r.Uvarint()
	n := r.count(2)
	if r.Err() != nil {
		return
	}
	if head > end || end-head > maxLineSpan || uint64(n) > end-head || n != want {
		r.Fail("a line from slot %d to %d with %d places (%d waiting)", head, end, n, want)
		return
	}
	l := &m.line
	l.base, l.ids = int(head), make([]uint64, end-head)
	slot := head
	seen := make(map[uint64]bool, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		d := r.Uvarint()
		if (i > 0 && d == 0) || d >= end-slot {
			r.Fail("slot out of order or beyond the line")
			return
		}
		slot += d
		e := m.entries[r.Uvarint()]
		if e == nil || e.state != Waiting || seen[e.id] {
			r.Fail("the line names a place not waiting, or twice")
			return
		}
		seen[e.id] = true
		e.seq, l.ids[slot-head] = int(slot), e.id
	}
	l.n = n
	l.fen = make([]int32, len(l.ids))
	l.rebuild()
}
