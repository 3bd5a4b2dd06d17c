package fakeshard

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// events serves GET /v1/events: a snapshot unless Last-Event-ID names a
// retained version, then every seats event as it is committed.
func (f *Seats) events(w http.ResponseWriter, r *http.Request) {
	f.eventsConns.Add(1)
	last := r.Header.Get("Last-Event-ID")
	select {
	case f.lastEventIDs <- last:
	default:
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	f.mu.Lock()
	closing := f.closeStreams
	var sent uint64
	v, err := strconv.ParseUint(last, 10, 64)
	if err == nil && v <= f.version && (len(f.log) == 0 || v+1 >= f.log[0].Version) {
		sent = v
	} else {
		_, _ = w.Write(sseEvent(shardapi.EventSnapshot, f.version, shardapi.SnapshotEvent{Version: f.version, Seats: f.snapshotLocked()}))
		sent = f.version
	}
	f.mu.Unlock()
	for {
		f.mu.Lock()
		var out []byte
		for _, e := range f.log {
			if e.Version > sent {
				out = append(out, sseEvent(shardapi.EventSeats, e.Version, e)...)
				sent = e.Version
			}
		}
		changed := f.changed
		f.mu.Unlock()
		if len(out) > 0 {
			if _, err := w.Write(out); err != nil {
				return
			}
		}
		w.(http.Flusher).Flush()
		select {
		case <-changed:
		case <-closing:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// sseEvent is one server-sent event with id and JSON data.
func sseEvent(event string, id uint64, v any) []byte {
	var b bytes.Buffer
	b.WriteString("id: " + strconv.FormatUint(id, 10) + "\nevent: " + event + "\ndata: ")
	_ = json.NewEncoder(&b).Encode(v) // ends with \n
	b.WriteString("\n")
	return b.Bytes()
}
