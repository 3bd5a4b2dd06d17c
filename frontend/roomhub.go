package frontend

import (
	"encoding/json"
	"time"
)

// The waiting room's summary in the hub. The shard sends it as `room` events
// (paced per stream: shard/server/roompacer.go; also in /v1/status); the
// pod keeps the latest one, learns from it whether the room is on, and fans
// it out as an `event: room` frame without an id (Last-Event-ID stays a seat
// version) to every browser stream. Queue pages open room-only streams
// (GET /api/room/events), which get room frames and heartbeats but no seat
// frames, so fifty thousand waiting pages cost the pod a socket each and one
// shared frame a second, not the hall's seat traffic.

// roomSummary is the part of the shard's room summary the pod acts on; the
// page reads the rest from the raw summary.
type roomSummary struct {
	Configured     bool `json:"configured"`
	Open           bool `json:"open"`
	SoldOut        bool `json:"soldOut"`
	SeatsMayReturn bool `json:"seatsMayReturn"`
}

// applyRoom takes a room summary from the shard and wakes the run goroutine,
// which fans the frame out at once: the shard already paces summaries, so
// the pod adds no tick of its own. A summary that arrives while the last one is still
// going out replaces it if that one has not started yet (pages get every
// summary or the latest).
func (h *hub) applyRoom(raw []byte, at time.Time) error {
	var sum roomSummary
	if err := json.Unmarshal(raw, &sum); err != nil {
		return err
	}
	data := make([]byte, 0, len(raw)+32)
	data = append(data, "event: room\ndata: "...)
	data = append(data, raw...)
	data = append(data, "\n\n"...)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.room = sum
	h.roomRaw = append(h.roomRaw[:0], raw...)
	h.roomFrame = &frame{data: data, at: at, room: true}
	h.roomPending = true
	select {
	case h.roomKick <- struct{}{}:
	default: // the run goroutine is already woken
	}
	return nil
}

// roomState is the latest summary and its JSON (nil before any).
func (h *hub) roomState() (roomSummary, json.RawMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.roomRaw == nil {
		return h.room, nil
	}
	return h.room, json.RawMessage(append([]byte(nil), h.roomRaw...))
}

// takeRoomFrameLocked gives the room frame to send now, once per summary.
func (h *hub) takeRoomFrameLocked() *frame {
	if !h.roomPending {
		return nil
	}
	h.roomPending = false
	return h.roomFrame
}

// flushRoom offers a new room frame to every stream (run goroutine only).
func (h *hub) flushRoom() {
	h.mu.Lock()
	f := h.takeRoomFrameLocked()
	if f == nil {
		h.mu.Unlock()
		return
	}
	h.broadcastLocked(f)
	conns := h.directListLocked()
	h.mu.Unlock()
	h.sendDirect(conns, f)
}

// roomFirstLocked is what a new stream gets first: the latest room summary.
func (h *hub) roomFirstLocked() [][]byte {
	if h.roomFrame == nil {
		return nil
	}
	return [][]byte{h.roomFrame.data}
}
