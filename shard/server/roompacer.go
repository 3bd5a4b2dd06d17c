package server

import "time"

// roomEventEvery is the least time between two room summaries on one
// stream (a variable for tests).
var roomEventEvery = time.Second

// roomPacer paces one stream's room summaries: a summary that changed goes
// out at once when the last went out at least roomEventEvery ago (a new
// stream, a quiet room: one admission reaches the pages without waiting
// for a tick), else when its timer fires roomEventEvery after the last.
// Streams are woken for every published summary (hub.wake), so between the
// wake and the timer no change waits longer than roomEventEvery.
type roomPacer struct {
	timer *time.Timer
	armed bool // the timer runs for a summary held back
	seq   uint64
	sent  time.Time
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
	if wait := roomEventEvery - now.Sub(p.sent); wait > 0 && !p.sent.IsZero() {
		if !p.armed {
			p.timer.Reset(wait)
			p.armed = true
		}
		return nil
	}
	p.seq, p.sent = v.seq, now
	return v
}
