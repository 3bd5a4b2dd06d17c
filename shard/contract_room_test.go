package shard_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/openapitest"
)

// room drives the waiting room's endpoints on the contract test's shard
// (started without --waiting-room): configured through PUT /v1/room.
func (s *shardAPI) room() {
	s.t.Helper()
	key := func(i int) string { return fmt.Sprintf(`{"key":"%032x"}`, i) }
	s.expect(s.do("POST", "/v1/room/join", key(1), false), 409, "waiting_room_not_configured")
	s.expect(s.do("GET", "/v1/room/places/1", "", false), 409, "waiting_room_not_configured")
	if st := s.expect(s.do("GET", "/v1/room/status", "", false), 200, ""); st["configured"] != false {
		s.t.Fatalf("room status before any configuration: %v", st)
	}
	s.expect(s.do("PUT", "/v1/room", `{"maxActiveBuyers":0,"idleTimeoutSeconds":60,"opensAt":"2030-01-01T00:00:00Z"}`, true), 400, "invalid_request")
	far := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	s.expect(s.do("PUT", "/v1/room", `{"maxActiveBuyers":1,"idleTimeoutSeconds":60,"preQueueSeconds":60,"opensAt":"`+far+`"}`, false), 200, "")
	s.expect(s.do("POST", "/v1/room/join", key(1), false), 403, "waiting_room_not_open")
	now := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	s.expect(s.do("PUT", "/v1/room", `{"maxActiveBuyers":1,"idleTimeoutSeconds":60,"opensAt":"`+now+`"}`, false), 200, "")
	s.waitRoom(func(m map[string]any) bool { return m["open"] == true })
	stream, stop := s.openStream("")
	defer stop()
	a := s.expect(s.do("POST", "/v1/room/join", key(1), false), 200, "")
	b := s.expect(s.do("POST", "/v1/room/join", key(2), false), 200, "")
	if a["state"] != "admitted" || b["state"] != "waiting" {
		s.t.Fatalf("joins with room for one: %v %v", a, b)
	}
	s.expect(s.do("POST", "/v1/room/join", `{"key":"zz"}`, true), 400, "invalid_request")
	pa, pb := fmt.Sprintf("/v1/room/places/%v", a["place"]), fmt.Sprintf("/v1/room/places/%v", b["place"])
	s.expect(s.do("GET", pb, "", false), 200, "")
	s.expect(s.do("POST", pa+"/touch", "", false), 200, "")
	s.expect(s.do("POST", "/v1/room/places/999999/touch", "", false), 404, "place_not_found")
	s.expect(s.do("GET", "/v1/room/places/abc", "", false), 404, "place_not_found")
	s.expect(s.do("DELETE", pa, "", false), 200, "")
	s.expect(s.do("DELETE", pa, "", false), 404, "place_not_found")
	if p := s.expect(s.do("GET", pb, "", false), 200, ""); p["state"] != "admitted" {
		s.t.Fatalf("the next was not admitted when the first left: %v", p)
	}
	// The summary on the event stream and in /v1/status.
	for {
		ev, err := stream.st.Next()
		if err != nil {
			s.t.Fatalf("event stream: %v", err)
		}
		if ev.Event == "room" {
			if ev.ID != "" {
				s.t.Fatalf("a room event with an id: %q", ev.ID)
			}
			s.c.Event("RoomSummary", []byte(ev.Data))
			break
		}
	}
	s.waitRoom(func(m map[string]any) bool { return m["active"] == float64(1) && m["admitted"] == float64(2) })
	if st := s.expect(s.do("GET", "/v1/status", "", false), 200, ""); st["room"] == nil {
		s.t.Fatal("no room in /v1/status with a configured room")
	}
	if st := s.expect(s.do("GET", "/v1/room/status", "", false), 200, ""); st["opensAt"] != now {
		s.t.Fatalf("the summary's opensAt is %v, want %s", st["opensAt"], now)
	}
	s.switchOff(stream)
}

// switchOff switches the room off: holds are no longer gated, and the
// stream and /v1/status say {"configured":false}.
func (s *shardAPI) switchOff(stream *openStream) {
	s.t.Helper()
	s.expect(s.do("DELETE", "/v1/room", "", false), 200, "")
	s.expect(s.do("DELETE", "/v1/room", "", false), 200, "") // off already: unchanged
	for {
		ev, err := stream.st.Next()
		if err != nil {
			s.t.Fatalf("event stream after switching off: %v", err)
		}
		if ev.Event == "room" && strings.Contains(ev.Data, `"configured":false`) {
			s.c.Event("RoomSummary", []byte(ev.Data))
			break
		}
	}
	if st := s.expect(s.do("GET", "/v1/status", "", false), 200, ""); st["room"] == nil || st["room"].(map[string]any)["configured"] != false {
		s.t.Fatalf("/v1/status after switching the room off: room %v", st["room"])
	}
	h := s.expect(s.do("POST", "/v1/holds", `{"seats":["stalls/E/2"],"holder":"grace"}`, false), 201, "")
	s.expect(s.do("DELETE", "/v1/holds/"+h["id"].(string), "", false), 200, "")
	s.expect(s.do("POST", "/v1/room/join", `{"key":"00000000000000000000000000000009"}`, false), 409, "waiting_room_not_configured")
}

func (s *shardAPI) waitRoom(ok func(map[string]any) bool) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.expect(s.do("GET", "/v1/room/status", "", false), 200, "")
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("room status: %v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// roomFromFlags runs a second shard with --waiting-room and two seats: PUT
// /v1/room is refused, only the admitted place holds, and selling both seats
// closes the room.
func roomFromFlags(t *testing.T, codes map[string]bool) {
	dir := t.TempDir()
	mapFile, tokenFile := filepath.Join(dir, "map.yaml"), filepath.Join(dir, "token")
	os.WriteFile(mapFile, []byte("sections:\n- name: box\n  rows:\n  - {names: \"A\", seats: \"1-2\"}\n"), 0o644)
	os.WriteFile(tokenFile, []byte("tok\n"), 0o600)
	p := launch(t, filepath.Join(dir, "data"), mapFile, tokenFile, "--waiting-room", "--waiting-room-max-active", "1",
		"--opens-at", time.Now().Add(-time.Second).UTC().Format(time.RFC3339))
	p.waitReady()
	s := &shardAPI{t: t, p: p, c: openapitest.New(t, openapitest.Doc("shard-v1.openapi.yaml"), "http://"+p.addr),
		hc: &http.Client{Timeout: 10 * time.Second}, codes: codes}
	s.expect(s.do("PUT", "/v1/room", `{"maxActiveBuyers":5,"idleTimeoutSeconds":60,"opensAt":"2030-01-01T00:00:00Z"}`, false), 409, "room_configured_by_flags")
	s.expect(s.do("DELETE", "/v1/room", "", false), 409, "room_configured_by_flags")
	s.waitRoom(func(m map[string]any) bool { return m["open"] == true })
	a := s.expect(s.do("POST", "/v1/room/join", fmt.Sprintf(`{"key":"%032x"}`, 1), false), 200, "")
	b := s.expect(s.do("POST", "/v1/room/join", fmt.Sprintf(`{"key":"%032x"}`, 2), false), 200, "")
	// With the room on, only an admitted place holds.
	s.expect(s.do("POST", "/v1/holds", `{"seats":["box/A/1"],"holder":"b-1"}`, false), 403, "admission_required")
	s.expect(s.do("POST", "/v1/holds", fmt.Sprintf(`{"seats":["box/A/1"],"holder":"w:%v"}`, b["place"]), false), 403, "admission_required")
	h := s.expect(s.do("POST", "/v1/holds", fmt.Sprintf(`{"seats":["box/A/1","box/A/2"],"holder":"w:%v"}`, a["place"]), false), 201, "")
	s.expect(s.do("POST", "/v1/holds/"+h["id"].(string)+"/confirm", `{"orderId":"o1"}`, false), 200, "")
	s.expect(s.do("POST", "/v1/holds", fmt.Sprintf(`{"seats":["box/A/1"],"holder":"w:%v"}`, a["place"]), false), 409, "admission_ended")
	pb := fmt.Sprintf("/v1/room/places/%v", b["place"])
	s.expect(s.do("GET", pb, "", false), 410, "sold_out")
	s.expect(s.do("POST", pb+"/touch", "", false), 410, "sold_out")
	s.expect(s.do("DELETE", pb, "", false), 410, "sold_out")
	s.expect(s.do("POST", "/v1/room/join", fmt.Sprintf(`{"key":"%032x"}`, 3), false), 410, "sold_out")
	s.waitRoom(func(m map[string]any) bool { return m["soldOut"] == true && m["bought"] == float64(1) })
}
