package frontend

import (
	"testing"
	"time"
)

// TestRoomSwitchedOffStopsGating: the room is on (one admitted, one
// waiting, a hold without admission refused); then it is switched off at
// the shard: the waiting buyer's room-only stream says so, POST /api/room
// answers that there is no room, and holds need no admission, for the
// waiting buyer and a fresh one. Switched on again, holds are gated again.
func TestRoomSwitchedOffStopsGating(t *testing.T) {
	sh := startRealShard(t, roomSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)
	sh.configureRoom(1, time.Minute)
	waitRoomOn(t, fe)

	a, b := newBuyer(t, fe.url), newBuyer(t, fe.url)
	if p := a.room(); p.State != "admitted" {
		t.Fatalf("first buyer: %+v", p)
	}
	if p := b.room(); p.State != "waiting" {
		t.Fatalf("second buyer: %+v", p)
	}
	if r := b.hold("stalls/A/1"); r.Status != 403 || r.errCode() != "admission_required" {
		t.Fatalf("hold while waiting, room on: %d %s", r.Status, r.Body)
	}
	waiting := openRoomStream(t, fe.url)
	waiting.waitRoom(t, "the room on the waiting buyer's stream", func(m map[string]any) bool { return m["configured"] == true })

	if code, body := sh.call("DELETE", "/v1/room", ""); code != 200 {
		t.Fatalf("DELETE /v1/room: %d %s", code, body)
	}
	waiting.waitRoom(t, "the room switched off on the waiting buyer's stream", func(m map[string]any) bool { return m["configured"] == false })
	waitUntil(t, 10*time.Second, "the front end sees the room off", func() bool { sum, _ := fe.s.hub.roomState(); return !sum.Configured })
	if p := b.room(); p.Enabled {
		t.Fatalf("POST /api/room with the room off: %+v", p)
	}
	mustStatus(t, b.hold("stalls/A/1"), 201, "the waiting buyer's hold with the room off")
	mustStatus(t, newBuyer(t, fe.url).hold("stalls/A/2"), 201, "a new buyer's hold with the room off")

	sh.configureRoom(1, time.Minute)
	waitRoomOn(t, fe)
	if r := newBuyer(t, fe.url).hold("stalls/A/3"); r.Status != 403 || r.errCode() != "admission_required" {
		t.Fatalf("hold without admission, room on again: %d %s", r.Status, r.Body)
	}
}
