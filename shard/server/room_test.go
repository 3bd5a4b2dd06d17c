package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/waitroom"
)

func roomKey(i int) string { return fmt.Sprintf("%032x", i+1) }

// waitRoom polls /v1/room/status (via get) until ok accepts it.
func waitRoom(t *testing.T, what string, get func() map[string]any, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := get()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: room status %v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func num(v any) int { f, _ := v.(float64); return int(f) }

// The room in single mode: configured from the flags by the writer, joins
// idempotent by key, the pre-queue drawn at opensAt, seat counts and an
// admission's holds fed from the seat commands, a sale ends the place and
// admits the next, idle expiry, and all of it back after a restart (from the
// final snapshot; replay of the log alone is TestRoomSurvivesSIGKILL's).
func TestRoomSingle(t *testing.T) {
	clk := &clock{}
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	clk.ns.Store(t0.UnixNano())
	dir := t.TempDir()
	mod := func(cfg *Config) {
		cfg.Now = clk.now
		cfg.Room = &RoomConfig{MaxActive: 1, IdleTimeout: time.Minute, PreQueue: 10 * time.Minute, OpensAt: t0.Add(time.Minute)}
	}
	h := start(t, dir, mod)
	status := func() map[string]any { return h.do("GET", "/v1/room/status", "").json(t) }
	waitRoom(t, "configured from the flags", status, func(m map[string]any) bool { return m["configured"] == true })
	h.expect(h.do("PUT", "/v1/room", `{"maxActiveBuyers":5,"idleTimeoutSeconds":60,"opensAt":"2026-06-01T10:00:00Z"}`), http.StatusConflict, "")

	join := func(i int) map[string]any {
		return h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(i)+`"}`), http.StatusOK, "")
	}
	a, b := join(0), join(1)
	if a["state"] != "pre_queued" || b["state"] != "pre_queued" || a["place"] == b["place"] {
		t.Fatalf("joins before the opening: %v %v", a, b)
	}
	if again := join(0); again["place"] != a["place"] {
		t.Fatalf("a retried join made another place: %v, first %v", again, a)
	}
	h.expect(h.do("POST", "/v1/room/join", `{"key":"xyz"}`), http.StatusBadRequest, "invalid_request")

	clk.advance(time.Minute)
	waitRoom(t, "opened", status, func(m map[string]any) bool { return m["open"] == true && num(m["active"]) == 1 })
	place := func(p any) map[string]any {
		return h.do("GET", fmt.Sprintf("/v1/room/places/%v", p), "").json(t)
	}
	first, second := a["place"], b["place"]
	if place(first)["state"] != "admitted" {
		first, second = second, first
	}
	if p := place(first); p["state"] != "admitted" || num(p["maxSeats"]) != 4 || p["idleDeadline"] == nil {
		t.Fatalf("admitted place: %v", p)
	}
	if p := place(second); p["state"] != "waiting" || num(p["ahead"]) != 0 {
		t.Fatalf("waiting place: %v", p)
	}

	// The admission holds two seats: the room knows the counts and that it
	// holds seats (no idle deadline) in the same record.
	hold := h.expect(h.do("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/1","stalls/A/2"],"holder":"w:%v"}`, first)), http.StatusCreated, "")
	st := status()
	if num(st["held"]) != 2 || num(st["free"]) != 38 || num(st["choosing"]) != 0 {
		// The view is published with the next tick: wait for it.
		st = waitRoom(t, "counts after a hold", status, func(m map[string]any) bool { return num(m["held"]) == 2 && num(m["choosing"]) == 0 })
	}
	if p := place(first); p["idleDeadline"] != nil {
		t.Fatalf("an admission holding seats has an idle deadline: %v", p)
	}
	// Touch from the API keeps the seats it holds.
	if p := h.expect(h.do("POST", fmt.Sprintf("/v1/room/places/%v/touch", first), ""), http.StatusOK, ""); p["idleDeadline"] != nil {
		t.Fatalf("touch forgot the admission's seats: %v", p)
	}
	// Selling the admission's seats ends its place and admits the next.
	h.expect(h.do("POST", "/v1/holds/"+hold["id"].(string)+"/confirm", `{"orderId":"o-1"}`, "Idempotency-Key", "k1"), http.StatusOK, "")
	h.expect(h.do("GET", fmt.Sprintf("/v1/room/places/%v", first), ""), http.StatusNotFound, "place_not_found")
	if p := place(second); p["state"] != "admitted" {
		t.Fatalf("the next was not admitted after a sale: %v", p)
	}
	waitRoom(t, "bought", status, func(m map[string]any) bool { return num(m["bought"]) == 1 && num(m["sold"]) == 2 })
	if m := h.do("GET", "/metrics", "").body; !strings.Contains(m, "boxoffice_shard_waitingroom_bought_total 1\n") ||
		!strings.Contains(m, "boxoffice_shard_waitingroom_active 1\n") || !strings.Contains(m, "boxoffice_shard_waitingroom_admitted_total 2\n") {
		t.Fatalf("room metrics after a sale:\n%s", m)
	}

	// A third buyer waits; the second idles out and the third is admitted.
	c := join(2)
	clk.advance(2 * time.Minute)
	waitRoom(t, "idle expiry", status, func(m map[string]any) bool { return num(m["timedOut"]) == 1 })
	if p := place(c["place"]); p["state"] != "admitted" {
		t.Fatalf("after an idle expiry: %v", p)
	}
	before := status()

	// Restart (final snapshot with both states).
	h.stop()
	h = start(t, dir, mod)
	if got := status(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("after a restart the room is\n%v\nwant\n%v", got, before)
	}
	if again := join(2); again["place"] != c["place"] || again["state"] != "admitted" {
		t.Fatalf("a join with a known key after a restart: %v, want place %v", again, c["place"])
	}
	h.expect(h.do("DELETE", fmt.Sprintf("/v1/room/places/%v", c["place"]), ""), http.StatusOK, "")
	h.expect(h.do("GET", fmt.Sprintf("/v1/room/places/%v", c["place"]), ""), http.StatusNotFound, "place_not_found")
}

// Without flags the room is configured through PUT /v1/room; before the
// pre-queue opens joins are refused; selling every seat closes the room.
func TestRoomConfigureAndSoldOut(t *testing.T) {
	h := start(t, t.TempDir(), func(cfg *Config) { cfg.SeatIDs = seatIDs("A", 2) })
	h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(0)+`"}`), http.StatusConflict, "waiting_room_not_configured")
	if m := h.do("GET", "/metrics", "").body; strings.Contains(m, "waitingroom") {
		t.Fatalf("room metrics without a room:\n%s", m)
	}
	h.expect(h.do("PUT", "/v1/room", `{"maxActiveBuyers":0,"idleTimeoutSeconds":60,"opensAt":"2030-01-01T00:00:00Z"}`), http.StatusBadRequest, "invalid_request")
	far := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	st := h.expect(h.do("PUT", "/v1/room", `{"maxActiveBuyers":2,"idleTimeoutSeconds":60,"preQueueSeconds":60,"opensAt":"`+far+`"}`), http.StatusOK, "")
	if st["configured"] != true {
		t.Fatalf("configure answered %v", st)
	}
	h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(0)+`"}`), http.StatusForbidden, "waiting_room_not_open")
	now := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	h.expect(h.do("PUT", "/v1/room", `{"maxActiveBuyers":2,"idleTimeoutSeconds":60,"opensAt":"`+now+`"}`), http.StatusOK, "")
	status := func() map[string]any { return h.do("GET", "/v1/room/status", "").json(t) }
	waitRoom(t, "opened by the writer", status, func(m map[string]any) bool { return m["open"] == true })
	p := h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(0)+`"}`), http.StatusOK, "")
	q := h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(1)+`"}`), http.StatusOK, "")
	hold := h.expect(h.do("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/1","stalls/A/2"],"holder":"w:%v"}`, p["place"])), http.StatusCreated, "")
	h.expect(h.do("POST", "/v1/holds/"+hold["id"].(string)+"/confirm", `{"orderId":"o-1"}`, "Idempotency-Key", "k1"), http.StatusOK, "")
	h.expect(h.do("GET", fmt.Sprintf("/v1/room/places/%v", q["place"]), ""), http.StatusGone, "sold_out")
	h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(5)+`"}`), http.StatusGone, "sold_out")
	waitRoom(t, "sold out in status", func() map[string]any { return h.do("GET", "/v1/status", "").json(t) },
		func(m map[string]any) bool {
			r, _ := m["room"].(map[string]any)
			return r != nil && r["soldOut"] == true
		})
}

// The snapshot state: without a room it is the seats' state alone (format
// 1, what older shards read); with one, both; format 1 still restores.
func TestRoomSnapshotFormats(t *testing.T) {
	s, err := New(Config{SeatIDs: seatIDs("A", 3), HoldTTL: time.Minute, MaxHoldTTL: time.Hour, MaxSeatsPerHolder: 2})
	if err != nil {
		t.Fatal(err)
	}
	s.m = seats.New(s.ix, seats.DefaultOptions())
	s.applySeat(&seats.Command{Op: seats.OpHold, Now: 1, Holder: "w:1", Seats: []int32{0}, TTL: 100, MaxSeats: 2})
	v1 := s.m.Capture(nil).AppendTo(nil)
	if got := encodeState(v1, s.roomState()); !bytes.Equal(got, v1) {
		t.Fatal("a shard without a room wrote a format-2 snapshot")
	}
	m, room, err := s.restoreState(v1)
	if err != nil || m.Counts()[seats.Held] != 1 {
		t.Fatalf("format 1: %v", err)
	}
	if _, ok := room.Config(); ok {
		t.Fatal("format 1 restored a configured room")
	}
	s.applyRoom(&waitroom.Command{Op: waitroom.OpConfigure, Now: 2, Config: waitroom.Config{MaxActive: 1, IdleTimeout: 10, MaxSeats: 2, PreQueueAt: 0, OpensAt: 0}})
	s.applyRoom(&waitroom.Command{Op: waitroom.OpJoin, Now: 3, Key: [16]byte{1}})
	v2 := encodeState(s.m.Capture(nil).AppendTo(nil), s.roomState())
	if !strings.HasPrefix(string(v2), stateMagic2) {
		t.Fatal("no format-2 header with a room")
	}
	m, room, err = s.restoreState(v2)
	if err != nil || m.Counts()[seats.Held] != 1 || !bytes.Equal(room.AppendState(nil), s.room.AppendState(nil)) {
		t.Fatalf("format 2 did not round-trip: %v", err)
	}
	if st := room.Status(); st.Seats.Held != 1 || st.Seats.Free != 2 {
		t.Fatalf("the room's seat counts after configure: %+v", st.Seats)
	}
	for _, bad := range [][]byte{[]byte(stateMagic2), append([]byte(stateMagic2), 0xff, 0xff, 0x7f)} {
		if _, _, err := s.restoreState(bad); err == nil {
			t.Fatalf("damaged state %q restored", bad)
		}
	}
}

// The room in a 3-member cluster: the leader configures and opens it (with
// the seed in the log), every member applies the same commands, and after
// the leader stops the new leader answers the same places, and a join
// retried with the same key after the leader change is the same place.
func TestRoomCluster(t *testing.T) {
	clk := &clock{}
	t0 := time.Now()
	clk.ns.Store(t0.UnixNano())
	c := newMemCluster(t, func(cfg *Config) {
		cfg.Now = clk.now
		cfg.Room = &RoomConfig{MaxActive: 2, IdleTimeout: time.Hour, PreQueue: time.Hour, OpensAt: t0.Add(time.Minute)}
	})
	status := func(i int) func() map[string]any {
		return func() map[string]any { return c.do(i, "GET", "/v1/room/status", "").body }
	}
	waitRoom(t, "configured", status(c.leader()), func(m map[string]any) bool { return m["configured"] == true })
	const n = 6
	places := make([]any, n)
	for i := range places {
		a := c.doLeader("POST", "/v1/room/join", `{"key":"`+roomKey(i)+`"}`)
		if a.status != http.StatusOK || a.body["state"] != "pre_queued" {
			t.Fatalf("join %d: %d %s", i, a.status, a.raw)
		}
		places[i] = a.body["place"]
	}
	l := c.leader()
	f := l%3 + 1
	if a := c.do(f, "POST", "/v1/room/join", `{"key":"`+roomKey(9)+`"}`); a.status != http.StatusMisdirectedRequest {
		t.Fatalf("join on a follower: %d %s", a.status, a.raw)
	}
	clk.advance(time.Minute)
	waitRoom(t, "opened", status(l), func(m map[string]any) bool { return m["open"] == true && num(m["active"]) == 2 })
	// Only an admitted place holds (decided where the hold is applied).
	var admitted, waiting any
	for _, p := range places {
		switch c.doLeader("GET", fmt.Sprintf("/v1/room/places/%v", p), "").body["state"] {
		case "admitted":
			admitted = p
		case "waiting":
			waiting = p
		}
	}
	if a := c.doLeader("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/1"],"holder":"w:%v"}`, waiting)); a.status != http.StatusForbidden || a.body["error"] != "admission_required" {
		t.Fatalf("hold by a waiting place: %d %s", a.status, a.raw)
	}
	hold := c.doLeader("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/1"],"holder":"w:%v"}`, admitted))
	if hold.status != http.StatusCreated {
		t.Fatalf("hold: %d %s", hold.status, hold.raw)
	}
	answers := func() string {
		var b strings.Builder
		for _, p := range places {
			a := c.doLeader("GET", fmt.Sprintf("/v1/room/places/%v", p), "")
			fmt.Fprintf(&b, "%d %v %v %v %v|", a.status, a.body["state"], a.body["slot"], a.body["ahead"], a.body["maxSeats"])
		}
		return b.String()
	}
	before := answers()
	// Every member's summary agrees (each publishes after it applied).
	var want string
	for i := 1; i <= 3; i++ {
		st := waitRoom(t, "member summary", status(i), func(m map[string]any) bool { return num(m["held"]) == 1 && num(m["active"]) == 2 })
		if got := fmt.Sprint(st); want == "" {
			want = got
		} else if got != want {
			t.Fatalf("members disagree on the room:\n%s\n%s", got, want)
		}
	}
	c.stop(l)
	if after := answers(); after != before {
		t.Fatalf("places changed with the leader:\n%s\nwant\n%s", after, before)
	}
	for i, p := range places {
		a := c.doLeader("POST", "/v1/room/join", `{"key":"`+roomKey(i)+`"}`)
		if a.status != http.StatusOK || a.body["place"] != p {
			t.Fatalf("join %d retried on the new leader: %d %s, want place %v", i, a.status, a.raw, p)
		}
	}
	if a := c.doLeader("POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b-1"}`); a.status != http.StatusForbidden || a.body["error"] != "admission_required" {
		t.Fatalf("hold without an admission on the new leader: %d %s", a.status, a.raw)
	}
	c.start(l)
	c.converge()
}

// A member that was down while the leader compacted its log catches up from
// a snapshot that carries the room, and then answers the same places.
func TestRoomClusterCatchUpBySnapshot(t *testing.T) {
	old := retainEntries
	retainEntries = 5
	defer func() { retainEntries = old }()
	opens := time.Now().Add(-time.Second)
	c := newMemCluster(t, func(cfg *Config) {
		cfg.SnapshotEvery = 10
		cfg.Room = &RoomConfig{MaxActive: 3, IdleTimeout: time.Hour, OpensAt: opens}
	})
	l := c.leader()
	f := l%3 + 1
	c.stop(f)
	places := make([]any, 30)
	for i := range places {
		a := c.doLeader("POST", "/v1/room/join", `{"key":"`+roomKey(i)+`"}`)
		for a.status == http.StatusServiceUnavailable { // the leader configures the room at its first tick
			time.Sleep(10 * time.Millisecond)
			a = c.doLeader("POST", "/v1/room/join", `{"key":"`+roomKey(i)+`"}`)
		}
		if a.status != http.StatusOK {
			t.Fatalf("join %d: %d %s", i, a.status, a.raw)
		}
		places[i] = a.body["place"]
	}
	deadline := time.Now().Add(10 * time.Second)
	for first, _ := c.srv[l].node.ms.FirstIndex(); first <= 10; first, _ = c.srv[l].node.ms.FirstIndex() {
		if time.Now().After(deadline) {
			t.Fatal("the leader did not compact its log")
		}
		time.Sleep(10 * time.Millisecond)
	}
	answers := func() string {
		var b strings.Builder
		for _, p := range places {
			a := c.doLeader("GET", fmt.Sprintf("/v1/room/places/%v", p), "")
			fmt.Fprintf(&b, "%d %v %v %v|", a.status, a.body["state"], a.body["slot"], a.body["ahead"])
		}
		return b.String()
	}
	before := answers()
	c.start(f)
	// (The seats do not change with joins: wait for the room itself.)
	waitRoom(t, "the caught-up member's room", func() map[string]any { return c.do(f, "GET", "/v1/room/status", "").body },
		func(m map[string]any) bool { return num(m["waiting"]) == 27 && num(m["active"]) == 3 })
	if c.srv[f].node.snapsInstalled.Load() == 0 {
		t.Fatal("the member caught up without a snapshot")
	}
	// The other two stop in turn: the caught-up member leads with the others' places.
	for i := 1; i <= 3; i++ {
		if i != f && i != l {
			c.stop(i)
		}
	}
	c.stop(l)
	c.start(l)
	if after := answers(); after != before {
		t.Fatalf("places after catching up by snapshot\n%s\nwant\n%s", after, before)
	}
}

// A stream sends the room's summary as soon as it connects and as soon as
// the room changes after a quiet roomEventEvery, not on a fixed tick: with
// roomEventEvery an hour, only that leading edge can deliver it here.
func TestRoomSummaryAtOnceOnAQuietStream(t *testing.T) {
	defer func(d time.Duration) { roomEventEvery = d }(roomEventEvery)
	roomEventEvery = time.Hour
	h := start(t, t.TempDir(), func(cfg *Config) { cfg.SeatIDs = seatIDs("A", 2) })
	now := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	h.expect(h.do("PUT", "/v1/room", `{"maxActiveBuyers":1,"idleTimeoutSeconds":60,"opensAt":"`+now+`"}`), http.StatusOK, "")
	waitRoom(t, "opened", func() map[string]any { return h.do("GET", "/v1/room/status", "").json(t) },
		func(m map[string]any) bool { return m["open"] == true })
	h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(0)+`"}`), http.StatusOK, "")
	r, closeStream := h.stream("")
	defer closeStream()
	bound := time.AfterFunc(10*time.Second, closeStream) // a read that waits for the hour fails instead
	defer bound.Stop()
	ev := readEvents(t, r, 2)
	if ev[0].event != "snapshot" || ev[1].event != "room" || !strings.Contains(ev[1].data, `"active":1,`) {
		t.Fatalf("a new stream's first events: %+v", ev)
	}
}

// The shard itself holds the waiting room's rule (single mode, through
// HTTP): while the room is on only an admitted place holds or extends, within
// its admission's limit; its holds are paid and released after its turn.
func TestRoomAdmissionAtTheShard(t *testing.T) {
	clk := &clock{}
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	clk.ns.Store(t0.UnixNano())
	h := start(t, t.TempDir(), func(cfg *Config) {
		cfg.Now = clk.now
		cfg.Room = &RoomConfig{MaxActive: 1, IdleTimeout: time.Minute, PreQueue: time.Hour, OpensAt: t0.Add(time.Second)}
	})
	status := func() map[string]any { return h.do("GET", "/v1/room/status", "").json(t) }
	waitRoom(t, "configured", status, func(m map[string]any) bool { return m["configured"] == true })
	holdAs := func(holder string, seats ...string) answer {
		return h.do("POST", "/v1/holds", fmt.Sprintf(`{"seats":["%s"],"holder":"%s"}`, strings.Join(seats, `","`), holder))
	}
	h.expect(holdAs("b-1", "stalls/A/1"), http.StatusForbidden, "admission_required")
	a := h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(0)+`"}`), http.StatusOK, "")
	b := h.expect(h.do("POST", "/v1/room/join", `{"key":"`+roomKey(1)+`"}`), http.StatusOK, "")
	wa, wb := fmt.Sprintf("w:%v", a["place"]), fmt.Sprintf("w:%v", b["place"])
	h.expect(holdAs(wa, "stalls/A/1"), http.StatusForbidden, "admission_required") // pre-queued
	clk.advance(time.Second)
	waitRoom(t, "opened", status, func(m map[string]any) bool { return m["open"] == true && num(m["active"]) == 1 })
	if h.do("GET", fmt.Sprintf("/v1/room/places/%v", a["place"]), "").json(t)["state"] != "admitted" {
		wa, wb = wb, wa
	}
	h.expect(holdAs(wb, "stalls/A/1"), http.StatusForbidden, "admission_required") // waiting
	h.expect(holdAs(wa, "stalls/A/1", "stalls/A/2", "stalls/A/3", "stalls/A/4", "stalls/A/5"), http.StatusUnprocessableEntity, "too_many_seats")
	first := h.expect(holdAs(wa, "stalls/A/1", "stalls/A/2"), http.StatusCreated, "")
	second := h.expect(holdAs(wa, "stalls/A/3"), http.StatusCreated, "")
	h.expect(h.do("POST", "/v1/holds/"+first["id"].(string)+"/extend", `{"ttlSeconds":60}`), http.StatusOK, "")

	// The turn ends (the place leaves; the next is admitted): no more holds
	// or extensions, but the holds it made are still paid and released.
	h.expect(h.do("DELETE", "/v1/room/places/"+strings.TrimPrefix(wa, "w:"), ""), http.StatusOK, "")
	h.expect(holdAs(wa, "stalls/A/4"), http.StatusConflict, "admission_ended")
	h.expect(h.do("POST", "/v1/holds/"+first["id"].(string)+"/extend", `{"ttlSeconds":60}`), http.StatusConflict, "admission_ended")
	h.expect(h.do("POST", "/v1/holds/"+first["id"].(string)+"/await-payment", `{"ttlSeconds":60}`), http.StatusOK, "")
	h.expect(h.do("POST", "/v1/holds/"+first["id"].(string)+"/confirm", `{"orderId":"o-1"}`), http.StatusOK, "")
	h.expect(h.do("DELETE", "/v1/holds/"+second["id"].(string), ""), http.StatusOK, "")

	// The next buyer's turn idles out with no seat held: from that instant
	// (the idle deadline, by the shard's clock) its holds are refused.
	if h.do("GET", fmt.Sprintf("/v1/room/places/%v", strings.TrimPrefix(wb, "w:")), "").json(t)["state"] != "admitted" {
		t.Fatal("the next was not admitted when the first left")
	}
	h.expect(h.do("DELETE", "/v1/holds/"+h.expect(holdAs(wb, "stalls/A/5"), http.StatusCreated, "")["id"].(string), ""), http.StatusOK, "")
	clk.advance(time.Minute) // the release set its idle deadline to now + 1 min
	h.expect(holdAs(wb, "stalls/A/6"), http.StatusConflict, "admission_ended")
	if m := h.do("GET", "/metrics", "").body; !strings.Contains(m, `boxoffice_shard_holds_total{result="admission_required"} 3`) ||
		!strings.Contains(m, `boxoffice_shard_holds_total{result="admission_ended"} 2`) {
		t.Fatalf("hold results:\n%s", m)
	}
}
