package server

import (
	"net/http"
	"strconv"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

const heartbeatEvery = 15 * time.Second

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

	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(s.cfg.StreamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			s.met.streamDrop.Inc()
			return false
		}
		if err := rc.Flush(); err != nil {
			s.met.streamDrop.Inc()
			return false
		}
		return true
	}

	cursor := uint64(0)
	resumed := false
	if id := r.Header.Get(shardapi.HeaderLastEventID); id != "" {
		if v, err := strconv.ParseUint(id, 10, 64); err == nil && s.hub.retained(v) {
			cursor, resumed = v, true
		}
	}
	var out []byte
	if !resumed {
		v, _, arr := s.hub.seatsJSON()
		out = append(out[:0], "id: "...)
		out = strconv.AppendUint(out, v, 10)
		out = append(out, "\nevent: snapshot\ndata: {\"version\":"...)
		out = strconv.AppendUint(out, v, 10)
		out = append(out, `,"seats":`...)
		out = append(out, arr...)
		out = append(out, "}\n\n"...)
		if !write(out) {
			return
		}
		cursor = v
	} else if !write([]byte(": resumed\n\n")) {
		return
	}
	// Wake up once at the start in case changes arrived meanwhile.
	select {
	case c.notify <- struct{}{}:
	default:
	}
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	room := newRoomPacer()
	defer room.stop()
	sendRoom := func() bool {
		v := room.next(s.roomView.Load(), time.Now())
		if v == nil {
			return true
		}
		// No id: Last-Event-ID stays the seat version.
		out = append(out[:0], "event: room\ndata: "...)
		out = append(out, v.json...)
		out = append(out, "\n\n"...)
		return write(out)
	}
	var changes []seats.Change
	seen := map[int32]int{}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.hub.done:
			return
		case <-heartbeat.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
			continue
		case <-room.timer.C:
			room.armed = false
			if !sendRoom() {
				return
			}
			continue
		case <-c.notify:
			if !sendRoom() {
				return
			}
		}
		var v uint64
		var ok bool
		changes, v, ok = s.hub.since(cursor, changes[:0])
		if !ok {
			s.met.streamDrop.Inc()
			s.log.Info("event-stream client fell too far behind; disconnecting (it resumes with Last-Event-ID)", "cursor", cursor, "version", v)
			return
		}
		if len(changes) == 0 {
			continue
		}
		last := changes[len(changes)-1].Version
		out = append(out[:0], "id: "...)
		out = strconv.AppendUint(out, last, 10)
		out = append(out, "\nevent: seats\ndata: "...)
		out = appendChanges(out, s.ix, last, changes, seen)
		out = append(out, "\n\n"...)
		if !write(out) {
			return
		}
		cursor = last
		if cap(out) > 1<<20 {
			out = nil
		}
		if cap(changes) > 1<<14 {
			changes = nil
		}
	}
}
