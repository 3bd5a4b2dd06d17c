package server

import "time"

// roomEventEvery is the least time between two room summaries on one
// stream when the summary only recounts the line (joins, holds, seats); a
// variable for tests.
var roomEventEvery = time.Second

// roomMoveEvery is the least time between two summaries on one stream when
// the later one moves the line (an admission: every waiting page's place
// changes) or opens or closes it (the sale opened, sold out, seats may come
// back). Such a summary is not held back behind a recount that just went
// out; at most four a second, however fast buyers are admitted.
var roomMoveEvery = 250 * time.Millisecond

// roomPacer paces one stream's room summaries: a summary that changed goes
// out at once when the last went out at least its interval ago (a new
// stream, a quiet room, or an admission after a recount: it reaches the
// pages without waiting for a tick), else when its timer fires that long
// after the last. Streams are woken for every published summary
// (hub.wake), so between the wake and the timer no change waits longer
// than roomEventEvery, nor an admission longer than roomMoveEvery.
type roomPacer struct {
	timer *time.Timer
	armed bool      // the timer runs for a summary held back
	due   time.Time // when the armed timer fires
	seq   uint64
	sent  time.Time
	last  roomMarks // of the last summary sent
}

// roomMarks is what of a summary decides its interval.
type roomMarks struct {
	admitted                      uint64
	open, soldOut, seatsMayReturn bool
}

func marksOf(v *roomView) roomMarks {
	return roomMarks{admitted: v.st.Admitted, open: v.st.Open, soldOut: v.st.SoldOut, seatsMayReturn: v.st.SeatsMayReturn}
}

func newRoomPacer() *roomPacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &roomPacer{timer: t}
}

func (p *roomPacer) stop() { p.timer.Stop() }

// next returns the view to send now: nil when there is no configured room,
// nothing new since the last one sent, or the last went out too recently
// (then the timer is armed for when it may).
func (p *roomPacer) next(v *roomView, now time.Time) *roomView {
	if v == nil || !v.st.Configured || v.seq == p.seq {
		return nil
	}
	every := roomEventEvery
	if m := marksOf(v); m != p.last {
		every = min(every, roomMoveEvery)
	}
	if wait := every - now.Sub(p.sent); wait > 0 && !p.sent.IsZero() {
		if due := now.Add(wait); !p.armed || due.Before(p.due) {
			p.timer.Reset(wait)
			p.armed, p.due = true, due
		}
		return nil
	}
	p.seq, p.sent, p.last = v.seq, now, marksOf(v)
	return v
}
