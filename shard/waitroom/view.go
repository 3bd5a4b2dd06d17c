package waitroom

import (
	"time"
)

// Place is what a buyer is told about their place.
type Place struct {
	ID    uint64
	State State
	// Ahead is how many wait before this place (Waiting); for a pre-queued
	// place it is 0 and PreQueue says how many are drawn with it.
	Ahead    int
	PreQueue int
	// Slot is a waiting place's slot in the line: it never changes while
	// the place waits, and with a LineSummary it gives Ahead (AheadOf).
	Slot int
	// Wait is the estimated wait (Waiting, PreQueued): the places ahead
	// and this one over the measured admission rate; Measured is false while
	// too few were admitted to measure one, and the estimate then assumes
	// every admitted buyer stays the whole idle timeout.
	Wait     time.Duration
	Measured bool
	// MaxSeats and IdleDeadline (unix ns; 0 while holding seats) of an
	// admission.
	MaxSeats     int32
	IdleDeadline int64
}

// Status is the whole room at a glance.
type Status struct {
	Configured bool
	Open       bool // the sale opened and the pre-queue was drawn
	SoldOut    bool // every seat sold: the queue is closed for good
	// SeatsMayReturn: no seat is free but some are held, so admissions wait
	// for holds to end.
	SeatsMayReturn bool
	PreQueued      int
	Waiting        int // in line (not counting the pre-queue)
	Active         int // admitted
	Choosing       int // admitted and holding no seat
	Admitted       uint64
	TimedOut       uint64
	Bought         uint64
	// Rate is the measured admission rate per second (0 unmeasured).
	Rate float64
	// MedianWait and P99Wait bound the waits of everyone admitted so far,
	// from a histogram with buckets a factor of sqrt(2) wide.
	MedianWait time.Duration
	P99Wait    time.Duration
	Seats      SeatCounts
	// PreQueueAt and OpensAt are the configuration's times (unix
	// nanoseconds; zero while not configured), so a summary can tell a
	// waiting buyer when the sale opens.
	PreQueueAt, OpensAt int64
}

// Place answers where a place stands, without applying anything. ok is
// false for a place that ended or never was; SoldOut in Status then says
// whether that is because the queue closed.
func (m *Machine) Place(id uint64) (Place, bool) {
	e := m.entries[id]
	if e == nil {
		return Place{}, false
	}
	p := Place{ID: id, State: e.state}
	switch e.state {
	case PreQueued:
		p.PreQueue = m.preN
		p.Wait, p.Measured = m.estimate(m.preN / 2)
	case Waiting:
		p.Slot = e.seq
		p.Ahead = m.line.ahead(e.seq)
		p.Wait, p.Measured = m.estimate(p.Ahead)
	case Admitted:
		p.MaxSeats = e.maxSeats
		if e.deadline != never {
			p.IdleDeadline = e.deadline
		}
	}
	return p, true
}

// Join looks a key up: the place a join with it made, if it still stands.
func (m *Machine) Join(key [16]byte) (uint64, bool) {
	id, ok := m.byKey[key]
	return id, ok
}

// estimate is the wait of a buyer with ahead places before them.
func (m *Machine) estimate(ahead int) (time.Duration, bool) {
	rate, ok := m.stats.rate()
	if !ok {
		if !m.configured {
			return 0, false
		}
		// Before any measurement: every slot turns over once per idle timeout.
		rate = float64(m.cfg.MaxActive) / (float64(m.cfg.IdleTimeout) / float64(time.Second))
	}
	slots := 0
	if m.configured {
		slots = int(m.cfg.MaxActive) - m.active
	}
	n := ahead + 1 - max(slots, 0)
	if n <= 0 {
		return 0, ok
	}
	return time.Duration(float64(n) / rate * float64(time.Second)).Round(time.Second), ok
}

// Status summarises the room.
func (m *Machine) Status() Status {
	rate, _ := m.stats.rate()
	return Status{
		Configured:     m.configured,
		Open:           m.opened,
		SoldOut:        m.closed,
		SeatsMayReturn: m.seatsKnown && !m.closed && m.seats.Free == 0 && m.seats.Held > 0,
		PreQueued:      m.preN,
		Waiting:        m.line.len(),
		Active:         m.active,
		Choosing:       m.shopping,
		Admitted:       m.stats.admitted,
		TimedOut:       m.stats.timedOut,
		Bought:         m.stats.bought,
		Rate:           rate,
		MedianWait:     m.stats.quantile(0.5),
		P99Wait:        m.stats.quantile(0.99),
		Seats:          m.seats,
		PreQueueAt:     m.cfg.PreQueueAt,
		OpensAt:        m.cfg.OpensAt,
	}
}

// LineSummary is the line in a few numbers, for the shard to broadcast so
// that every waiting buyer can work out their place without asking: Head is
// the slot of the first place that may still be waiting, Counts[i] how many
// wait in slots [Start+i*Size, Start+(i+1)*Size).
type LineSummary struct {
	Head   int
	Start  int
	Size   int
	Counts []int32
}

// Line summarises the line in buckets of size slots (size >= 1).
func (m *Machine) Line(size int) LineSummary {
	l := &m.line
	head := l.base + l.head
	start := head - head%size
	end := l.base + len(l.ids)
	s := LineSummary{Head: head, Start: start, Size: size}
	prev := 0
	for b := start + size; ; b += size {
		upto := l.before(min(b, end) - l.base)
		s.Counts = append(s.Counts, int32(upto-prev))
		prev = upto
		if b >= end {
			break
		}
	}
	if l.n == 0 {
		s.Counts = nil
	}
	return s
}

// AheadOf is how many wait before slot, from a summary: everyone in earlier
// buckets, and in the slot's own bucket everyone who could be before it. It
// is never below the exact count and above it by at most the places of that
// bucket that left from before the slot. ok is false for a slot before the
// head (admitted, or ended).
func (s LineSummary) AheadOf(slot int) (ahead int, ok bool) {
	if slot < s.Head || s.Size < 1 {
		return 0, false
	}
	b := (slot - s.Start) / s.Size
	for i := 0; i < b && i < len(s.Counts); i++ {
		ahead += int(s.Counts[i])
	}
	if b < len(s.Counts) {
		from := max(s.Start+b*s.Size, s.Head)
		ahead += min(slot-from, int(s.Counts[b])-1)
	}
	return max(ahead, 0), true
}
