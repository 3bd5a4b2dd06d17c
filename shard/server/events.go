package server

import (
	"net/http"
	"strconv"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// heartbeatEvery is how often an idle stream sends a keep-alive comment (a
// variable for tests).
var heartbeatEvery = 15 * time.Second

// events serves GET /v1/events. Memory per client is bounded: the client
// holds a cursor into the hub's shared ring, copies at most the ring's size
// per event, and is disconnected when the ring no longer holds what it has
// not seen yet or when a write takes longer than StreamWriteTimeout.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// The server's read and write timeouts do not apply to a stream.
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	c, ok := s.hub.subscribe(s.cfg.MaxStreams)
	if !ok {
		w.Header().Set("Retry-After", "5")
		writeError(w, shardapi.CodeNotReady, "the shard is stopping or serves as many event streams as it allows", nil)
		return
	}
	defer s.hub.unsubscribe(c)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	st := &eventStream{s: s, w: w, rc: rc, c: c, seen: map[int32]int{}}
	if !st.open(r.Header.Get(shardapi.HeaderLastEventID)) {
		return
	}
	// Wake up once at the start in case changes arrived meanwhile.
	select {
	case c.notify <- struct{}{}:
	default:
	}
	st.run(r)
}

// eventStream is one client's event stream: where it is in the hub's ring
// and the buffers reused from one event to the next.
type eventStream struct {
	s  *Server
	w  http.ResponseWriter
	rc *http.ResponseController
	c  *streamClient

	cursor  uint64 // the last seat version the client has
	out     []byte
	changes []seats.Change
	seen    map[int32]int
	room    *roomPacer
	offSeq  uint64 // the switched-off room view last sent
}

// write sends b at once, within StreamWriteTimeout; false means the client
// is gone and the stream ends.
func (st *eventStream) write(b []byte) bool {
	st.rc.SetWriteDeadline(time.Now().Add(st.s.cfg.StreamWriteTimeout))
	if _, err := st.w.Write(b); err != nil {
		st.s.met.streamDrop.Inc()
		return false
	}
	if err := st.rc.Flush(); err != nil {
		st.s.met.streamDrop.Inc()
		return false
	}
	return true
}

// open starts the stream: it resumes after lastEventID if the ring still
// holds every change since then, and otherwise sends a snapshot of all seats.
func (st *eventStream) open(lastEventID string) bool {
	if lastEventID != "" {
		if v, err := strconv.ParseUint(lastEventID, 10, 64); err == nil && st.s.hub.retained(v) {
			st.cursor = v
			return st.write([]byte(": resumed\n\n"))
		}
	}
	v, _, arr := st.s.hub.seatsJSON()
	st.out = append(st.out[:0], "id: "...)
	st.out = strconv.AppendUint(st.out, v, 10)
	st.out = append(st.out, "\nevent: snapshot\ndata: {\"version\":"...)
	st.out = strconv.AppendUint(st.out, v, 10)
	st.out = append(st.out, `,"seats":`...)
	st.out = append(st.out, arr...)
	st.out = append(st.out, "}\n\n"...)
	if !st.write(st.out) {
		return false
	}
	st.cursor = v
	return true
}

// run sends keep-alives, room views and seat changes until the client or the
// shard goes away, or the client falls behind the ring.
func (st *eventStream) run(r *http.Request) {
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	st.room = newRoomPacer()
	defer st.room.stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-st.s.hub.done:
			return
		case <-heartbeat.C:
			if !st.write([]byte(": ping\n\n")) {
				return
			}
		case <-st.room.timer.C:
			st.room.armed = false
			if !st.sendRoom() {
				return
			}
		case <-st.c.notify:
			if !st.sendRoom() || !st.sendChanges() {
				return
			}
		}
	}
}

// sendRoom sends the waiting room's view if the pacer says it is due.
func (st *eventStream) sendRoom() bool {
	cur := st.s.roomView.Load()
	v := st.room.next(cur, time.Now())
	if v == nil && cur != nil && cur.off && cur.seq != st.offSeq {
		v = cur // a room switched off is told at once, outside the pacing
	}
	if v == nil {
		return true
	}
	if v.off {
		st.offSeq = v.seq
	}
	// No id: Last-Event-ID stays the seat version.
	st.out = append(st.out[:0], "event: room\ndata: "...)
	st.out = append(st.out, v.json...)
	st.out = append(st.out, "\n\n"...)
	return st.write(st.out)
}

// sendChanges sends the seat changes after the cursor as one event whose id
// is the last change's version. It disconnects a client the ring has left
// behind: it resumes with Last-Event-ID, or a fresh snapshot.
func (st *eventStream) sendChanges() bool {
	var v uint64
	var ok bool
	st.changes, v, ok = st.s.hub.since(st.cursor, st.changes[:0])
	if !ok {
		st.s.met.streamDrop.Inc()
		st.s.log.Info("event-stream client fell too far behind; disconnecting (it resumes with Last-Event-ID)", "cursor", st.cursor, "version", v)
		return false
	}
	if len(st.changes) == 0 {
		return true
	}
	last := st.changes[len(st.changes)-1].Version
	st.out = append(st.out[:0], "id: "...)
	st.out = strconv.AppendUint(st.out, last, 10)
	st.out = append(st.out, "\nevent: seats\ndata: "...)
	st.out = appendChanges(st.out, st.s.ix, last, st.changes, st.seen)
	st.out = append(st.out, "\n\n"...)
	if !st.write(st.out) {
		return false
	}
	st.cursor = last
	if cap(st.out) > 1<<20 {
		st.out = nil
	}
	if cap(st.changes) > 1<<14 {
		st.changes = nil
	}
	return true
}
