package server

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// Switching the Showtime's room off: the operator starts the shard without
// the room's flags. The leader then switches off the room its flags kept
// (logged, so replay and every member agree): holds are no longer gated,
// joins answer waiting_room_not_configured, and /v1/status still carries
// the room, as {"configured":false}, so front ends learn it. Starting with
// the flags again gates again, with place ids that go on from before (an
// old admission's holds never become a new place's), also across the
// snapshot written while the room was off.
func TestRoomSwitchedOffWhenItsFlagsGo(t *testing.T) {
	clk := &clock{}
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	clk.ns.Store(t0.UnixNano())
	dir := t.TempDir()
	on := func(cfg *Config) {
		cfg.Now = clk.now
		cfg.Room = &RoomConfig{MaxActive: 1, IdleTimeout: time.Hour, PreQueue: time.Hour, OpensAt: t0}
	}
	off := func(cfg *Config) { cfg.Now = clk.now }
	h := start(t, dir, on)
	status := func() map[string]any { return h.do("GET", "/v1/room/status", "").json(t) }
	waitRoom(t, "on", status, func(m map[string]any) bool { return m["configured"] == true && m["open"] == true })
	holdAs := func(holder, seat string) answer {
		return h.do("POST", "/v1/holds", fmt.Sprintf(`{"seats":[%q],"holder":%q}`, seat, holder))
	}
	a := h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(0)+`"}`), http.StatusOK, "")
	b := h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(1)+`"}`), http.StatusOK, "")
	if a["state"] != "admitted" || b["state"] != "waiting" {
		t.Fatalf("room on: %v %v", a, b)
	}
	h.expect(holdAs(fmt.Sprintf("w:%v", a["place"]), "stalls/A/1"), http.StatusCreated, "")
	h.expect(holdAs("b-1", "stalls/A/2"), http.StatusForbidden, "admission_required")
	h.expect(h.do("DELETE", "/v1/room", ""), http.StatusConflict, "room_configured_by_flags")
	h.stop()

	h = start(t, dir, off)
	waitRoom(t, "off", status, func(m map[string]any) bool { return m["configured"] == false })
	if r, _ := h.do("GET", "/v1/status", "").json(t)["room"].(map[string]any); r == nil || r["configured"] != false {
		t.Fatalf("/v1/status does not tell that the room was switched off: room %v", r)
	}
	h.expect(holdAs("b-1", "stalls/A/2"), http.StatusCreated, "")
	h.expect(holdAs(fmt.Sprintf("w:%v", b["place"]), "stalls/A/3"), http.StatusCreated, "")
	h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(2)+`"}`), http.StatusConflict, "waiting_room_not_configured")
	h.expect(h.do("GET", fmt.Sprintf("/v1/room/places/%v", a["place"]), ""), http.StatusConflict, "waiting_room_not_configured")
	h.stop()

	h = start(t, dir, on)
	waitRoom(t, "on again", status, func(m map[string]any) bool { return m["configured"] == true && m["open"] == true })
	h.expect(holdAs("b-2", "stalls/A/4"), http.StatusForbidden, "admission_required")
	c := h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(0)+`"}`), http.StatusOK, "")
	if num(c["place"]) <= num(b["place"]) || c["state"] != "admitted" {
		t.Fatalf("the first place after switching on again: %v (the last before: %v)", c, b["place"])
	}
	h.expect(holdAs(fmt.Sprintf("w:%v", a["place"]), "stalls/A/5"), http.StatusConflict, "admission_ended")
	h.expect(holdAs(fmt.Sprintf("w:%v", c["place"]), "stalls/A/5"), http.StatusCreated, "")
}

// A room configured by hand is switched off by DELETE /v1/room, through the
// replicated log: every member stops gating, also after the leader changes.
func TestRoomSwitchOffInACluster(t *testing.T) {
	c := newMemCluster(t, nil)
	opens := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	if a := c.doLeader("PUT", "/v1/room", `{"maxActiveBuyers":1,"idleTimeoutSeconds":600,"opensAt":"`+opens+`"}`); a.status != http.StatusOK {
		t.Fatalf("configure: %d %s", a.status, a.raw)
	}
	status := func(i int) func() map[string]any {
		return func() map[string]any { return c.do(i, "GET", "/v1/room/status", "").body }
	}
	waitRoom(t, "open", status(c.leader()), func(m map[string]any) bool { return m["open"] == true })
	if a := c.doLeader("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"b-1"}`); a.status != http.StatusForbidden {
		t.Fatalf("hold without an admission, room on: %d %s", a.status, a.raw)
	}
	if a := c.doLeader("DELETE", "/v1/room", ""); a.status != http.StatusOK || a.body["configured"] != false {
		t.Fatalf("switch off: %d %s", a.status, a.raw)
	}
	for i := 1; i <= 3; i++ {
		waitRoom(t, fmt.Sprintf("member %d off", i), status(i), func(m map[string]any) bool { return m["configured"] == false })
	}
	l := c.leader()
	c.stop(l)
	if a := c.doLeader("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"b-1"}`); a.status != http.StatusCreated {
		t.Fatalf("hold without an admission on the new leader, room off: %d %s", a.status, a.raw)
	}
	if a := c.doLeader("PUT", "/v1/room", `{"maxActiveBuyers":1,"idleTimeoutSeconds":600,"opensAt":"`+opens+`"}`); a.status != http.StatusOK {
		t.Fatalf("configure again: %d %s", a.status, a.raw)
	}
	if a := c.doLeader("POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b-2"}`); a.status != http.StatusForbidden {
		t.Fatalf("hold without an admission, room on again: %d %s", a.status, a.raw)
	}
	c.start(l)
	c.converge()
}

// A room switched off before anyone joined is announced all the same (front
// ends that saw it on must stop gating), also after a restart.
func TestRoomSwitchedOffBeforeAnyoneJoined(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, nil)
	h.expect(h.do("PUT", "/v1/room", `{"maxActiveBuyers":1,"idleTimeoutSeconds":60,"opensAt":"2030-01-01T00:00:00Z"}`), http.StatusOK, "")
	h.expect(h.do("DELETE", "/v1/room", ""), http.StatusOK, "")
	for round := 1; round <= 2; round++ {
		if r, _ := h.do("GET", "/v1/status", "").json(t)["room"].(map[string]any); r == nil || r["configured"] != false {
			t.Fatalf("round %d: /v1/status does not tell that the room was switched off: room %v", round, r)
		}
		h.expect(h.do("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/%d"],"holder":"b-1"}`, round)), http.StatusCreated, "")
		h.stop()
		h = start(t, dir, nil) // from the final snapshot
	}
}

// The summary decodes into shardapi.RoomSummary (unknown fields refused):
// with the room on it carries the pre-queue's and the sale's times; switched
// off, just that it is off.
func TestRoomSummaryCarriesOpensAt(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	h.expect(h.do("PUT", "/v1/room", `{"maxActiveBuyers":1,"idleTimeoutSeconds":60,"preQueueSeconds":1800,"opensAt":"2030-01-01T19:00:00Z"}`), http.StatusOK, "")
	var on shardapi.RoomSummary
	strict(t, h.do("GET", "/v1/room/status", "").body, &on)
	if !on.Configured || on.OpensAt == nil || !on.OpensAt.Equal(time.Date(2030, 1, 1, 19, 0, 0, 0, time.UTC)) ||
		on.PreQueueAt == nil || !on.PreQueueAt.Equal(time.Date(2030, 1, 1, 18, 30, 0, 0, time.UTC)) {
		t.Fatalf("summary with the room on: %+v", on)
	}
	h.expect(h.do("DELETE", "/v1/room", ""), http.StatusOK, "")
	var off shardapi.RoomSummary
	strict(t, h.do("GET", "/v1/room/status", "").body, &off)
	if off.Configured || off.OpensAt != nil || off.PreQueueAt != nil {
		t.Fatalf("summary with the room off: %+v", off)
	}
}
