package frontend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// upstream keeps the pod's single event stream from the shard and applies it
// to the hub. It reconnects with Last-Event-ID set to the version of the
// in-memory copy, so the shard sends only what was missed (or a snapshot if it
// no longer retains that version, which the hub turns into a diff). Every
// member of a replicated shard serves the stream with the same versions, so
// after a failure it reconnects to the next member and resumes there.
type upstream struct {
	c        *shardClient
	hub      *hub
	log      *slog.Logger
	m        *metrics
	showtime string
	member   int // index of the member the stream is read from
}

func (u *upstream) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := u.streamOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 5*time.Second {
			backoff = 100 * time.Millisecond
		}
		from := u.c.members.at(u.member)
		if u.c.members.len() > 1 {
			u.member++
		}
		u.log.Warn("shard event stream ended; reconnecting", "err", err, "member", from, "next", u.c.members.at(u.member), "in", backoff)
		u.m.upstreamReconnects.Inc()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

func (u *upstream) checkShowtime(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := u.c.onceAt(ctx, base, "status", http.MethodGet, shardapi.PathStatus, nil, "")
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("GET /v1/status: %d %s", resp.Status, bytes.TrimSpace(resp.Body))
	}
	var st shardapi.Status
	// The room summary as the shard wrote it, to relay unchanged.
	var raw struct {
		Room json.RawMessage `json:"room"` // only while a waiting room is configured
	}
	_ = json.Unmarshal(resp.Body, &raw)
	if err := json.Unmarshal(resp.Body, &st); err != nil {
		return fmt.Errorf("GET /v1/status: %v", err)
	}
	if u.showtime != "" && st.Showtime != "" && st.Showtime != u.showtime {
		return fmt.Errorf("shard serves showtime %q but this front end is for %q; check --shard-url", st.Showtime, u.showtime)
	}
	// The room's state before the first seat snapshot: holds are gated by it
	// from the moment the pod is ready, not from the first room event.
	if len(raw.Room) > 0 {
		if err := u.hub.applyRoom(raw.Room, time.Now()); err != nil {
			return fmt.Errorf("GET /v1/status: bad room summary: %v", err)
		}
	}
	// A follower applies what the leader committed a heartbeat later: one
	// behind our copy would answer Last-Event-ID with a snapshot older than
	// what browsers have seen. Try the next member; this one catches up.
	select {
	case <-u.hub.Loaded():
		if ours := u.hub.Version(); u.c.members.len() > 1 && st.Version < ours {
			return fmt.Errorf("member %s is at version %d, behind this pod's copy at %d", base, st.Version, ours)
		}
	default:
	}
	return nil
}

func (u *upstream) streamOnce(ctx context.Context) error {
	base := u.c.members.at(u.member)
	if err := u.checkShowtime(ctx, base); err != nil {
		return err
	}
	call := shardapi.Request{Method: http.MethodGet, Path: shardapi.PathEvents}
	select {
	case <-u.hub.Loaded():
		call.LastEventID = strconv.FormatUint(u.hub.Version(), 10)
	default:
	}
	req, err := u.c.api.NewRequest(ctx, base, call)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	// The stream client has no overall timeout; the dialer's TCP keep-alive
	// notices a peer that vanished.
	resp, err := u.c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET /v1/events: %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	u.m.upstreamConnected.Set(1)
	defer u.m.upstreamConnected.Set(0)
	return readSSE(resp.Body, func(ev sseEvent) error {
		now := time.Now()
		switch ev.Event {
		case shardapi.EventSnapshot:
			var s shardapi.SnapshotEvent
			if err := json.Unmarshal(ev.Data, &s); err != nil {
				return fmt.Errorf("bad snapshot event: %v", err)
			}
			u.hub.applySnapshot(s.Version, s.Seats, now)
		case shardapi.EventSeats:
			var s shardapi.SeatsEvent
			if err := json.Unmarshal(ev.Data, &s); err != nil {
				return fmt.Errorf("bad seats event: %v", err)
			}
			u.hub.applyChanges(s.Version, s.Changes, now)
		case shardapi.EventRoom:
			if err := u.hub.applyRoom(ev.Data, now); err != nil {
				return fmt.Errorf("bad room event: %v", err)
			}
		}
		u.m.upstreamEvents.WithLabelValues(ev.Event).Inc()
		return nil
	})
}

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	ID    string
	Event string
	Data  []byte
}

var errSSELineTooLong = errors.New("event stream line too long")

// readSSE parses a text/event-stream body and calls fn for each event.
func readSSE(r io.Reader, fn func(sseEvent) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	var ev sseEvent
	var data bytes.Buffer
	haveData := false
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if haveData {
				ev.Data = bytes.TrimSuffix(data.Bytes(), []byte("\n"))
				if ev.Event == "" {
					ev.Event = "message"
				}
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev = sseEvent{ID: ev.ID}
			data.Reset()
			haveData = false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Event = string(value)
		case "data":
			data.Write(value)
			data.WriteByte('\n')
			haveData = true
		case "id":
			ev.ID = string(value)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return errSSELineTooLong
		}
		return err
	}
	return io.ErrUnexpectedEOF
}
