package frontend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/ticket"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// roomSeatMap is one row of six seats: small enough to sell out.
const roomSeatMap = `sections:
- name: stalls
  rows:
  - {names: "A", seats: "1-6"}
`

// call sends one request to the shard and gives status and body.
func (s *realShard) call(method, path, body string) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, _ := http.NewRequest(method, s.url()+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// configureRoom turns the shard's waiting room on, open since a second ago.
func (s *realShard) configureRoom(maxActive int, idle time.Duration) {
	s.t.Helper()
	body := fmt.Sprintf(`{"maxActiveBuyers":%d,"idleTimeoutSeconds":%d,"opensAt":%q}`, maxActive, int(idle.Seconds()),
		time.Now().Add(-time.Second).UTC().Format(time.RFC3339))
	if code, b := s.call("PUT", "/v1/room", body); code != 200 {
		s.t.Fatalf("PUT /v1/room: %d %s", code, b)
	}
}

// waitRoomOn waits until a front end has seen the room configured and open.
func waitRoomOn(t testing.TB, fe *testFrontend) {
	t.Helper()
	waitUntil(t, 10*time.Second, "the front end sees the open waiting room", func() bool {
		sum, _ := fe.s.hub.roomState()
		return sum.Configured && sum.Open
	})
}

// roomPlace is the body of POST /api/room.
type roomPlace struct {
	Enabled     bool    `json:"enabled"`
	Place       uint64  `json:"place"`
	State       string  `json:"state"`
	Slot        int     `json:"slot"`
	Ahead       int     `json:"ahead"`
	WaitSeconds float64 `json:"waitSeconds"`
	Measured    bool    `json:"measured"`
	MaxSeats    int     `json:"maxSeats"`
}

func (b *buyer) room() roomPlace {
	b.t.Helper()
	r := b.do("POST", "/api/room", map[string]any{}, "")
	mustStatus(b.t, r, 200, "POST /api/room")
	var p roomPlace
	if err := json.Unmarshal(r.Body, &p); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// setCookie puts a cookie for base in the buyer's jar (a forged ticket).
func (b *buyer) setCookie(base, name, value string) {
	u, _ := url.Parse(base)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// TestRoomAdmitsInTurnAcrossPods: with room for one buyer, the first is
// admitted and the next two wait in order, whichever pod they ask; a hold
// without an admission (missing, forged, ended) is refused; the seat limit
// is the admission's; a purchase admits the next.
func TestRoomAdmitsInTurnAcrossPods(t *testing.T) {
	sh := startRealShard(t, roomSeatMap, "--max-seats-per-holder", "3")
	fe1 := startFrontend(t, sh.url(), sh.token, nil)
	fe2 := startFrontend(t, sh.url(), sh.token, nil)
	a := newBuyer(t, fe1.url)
	mustStatus(t, a.hold("stalls/A/6"), 201, "a hold before the room is on")
	if p := a.room(); p.Enabled {
		t.Fatalf("room answer without a room: %+v", p)
	}
	sh.configureRoom(1, time.Minute)
	waitRoomOn(t, fe1)
	waitRoomOn(t, fe2)

	pa := a.room()
	if pa.State != "admitted" || pa.MaxSeats != 3 {
		t.Fatalf("first buyer: %+v", pa)
	}
	b, c := newBuyer(t, fe2.url), newBuyer(t, fe1.url)
	pb, pc := b.room(), c.room()
	if pb.State != "waiting" || pb.Ahead != 0 || pc.State != "waiting" || pc.Ahead != 1 || pc.WaitSeconds <= pb.WaitSeconds {
		t.Fatalf("waiting buyers: %+v, %+v", pb, pc)
	}
	// The place is in the shard, not the pod: b asks the other pod.
	b.base = fe1.url
	if again := b.room(); again.Place != pb.Place || again.Ahead != 0 {
		t.Fatalf("b on the other pod: %+v, was %+v", again, pb)
	}

	r := b.hold("stalls/A/1")
	mustStatus(t, r, 403, "hold while waiting")
	if r.errCode() != "admission_required" {
		t.Fatalf("hold while waiting: %s", r.Body)
	}
	other, _ := ticket.NewKeys(bytes.Repeat([]byte("k"), 32), nil)
	forged, _ := other.Sign(ticket.Ticket{Kind: ticket.Admission, Showtime: testShowtime, Place: pb.Place, MaxSeats: 6,
		IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	b.setCookie(fe1.url, AdmissionCookie, forged)
	if r := b.hold("stalls/A/1"); r.Status != 403 || r.errCode() != "admission_required" {
		t.Fatalf("hold with a forged admission: %d %s", r.Status, r.Body)
	}
	// A queue ticket is not an admission, even a genuine one.
	queueTicket, _ := fe1.s.roomKeys.Sign(ticket.Ticket{Kind: ticket.Queue, Showtime: testShowtime, Place: pb.Place,
		IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	b.setCookie(fe1.url, AdmissionCookie, queueTicket)
	if r := b.hold("stalls/A/1"); r.Status != 403 || r.errCode() != "admission_required" {
		t.Fatalf("hold with a queue ticket as admission: %d %s", r.Status, r.Body)
	}

	mustStatus(t, a.hold("stalls/A/1", "stalls/A/2", "stalls/A/3", "stalls/A/4"), 422, "more than the admission's seats")
	r = a.hold("stalls/A/1", "stalls/A/2")
	mustStatus(t, r, 201, "admitted hold")
	h := r.hold(t)
	if h.Holder != shardapi.AdmissionHolder(pa.Place) {
		t.Fatalf("hold by %q, want the place's holder %q", h.Holder, shardapi.AdmissionHolder(pa.Place))
	}
	// A fresh cookie is a new place at the back, not more seats.
	d := newBuyer(t, fe2.url)
	if pd := d.room(); pd.State != "waiting" || pd.Ahead != 2 {
		t.Fatalf("a new cookie: %+v", pd)
	}
	mustStatus(t, d.hold("stalls/A/3"), 403, "new cookie holds")

	mustStatus(t, a.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, ""), 200, "pay")
	waitUntil(t, 10*time.Second, "b admitted after a's purchase", func() bool { return b.room().State == "admitted" })
	if r := a.hold("stalls/A/3"); r.Status != 409 || r.errCode() != "admission_ended" {
		t.Fatalf("hold after buying: %d %s", r.Status, r.Body)
	}
	mustStatus(t, a.do("GET", "/api/holds/"+h.ID, nil, ""), 200, "a reads what it bought")
	mustStatus(t, b.do("GET", "/api/holds/"+h.ID, nil, ""), 404, "b reads a's hold")
	mustStatus(t, b.hold("stalls/A/3"), 201, "b holds once admitted")
	if p := c.room(); p.Ahead != 0 {
		t.Fatalf("c after b's admission: %+v", p)
	}
	// c leaves: d moves up.
	mustStatus(t, c.do("DELETE", "/api/room", nil, ""), 200, "leave")
	if p := d.room(); p.Ahead != 0 {
		t.Fatalf("d after c left: %+v", p)
	}
}

// TestRoomSoldOutClosesTheLine: the last seat sold, everyone waiting is
// told "sold out" at once, by the room stream and by POST /api/room.
func TestRoomSoldOutClosesTheLine(t *testing.T) {
	sh := startRealShard(t, roomSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)
	// Every seat but one sold at the box office before the room is on (with
	// it on, only admitted places hold); the last one goes to a.
	for i := 2; i <= 6; i++ {
		if code, body := sh.call("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/%d"],"holder":"box-%d"}`, i, i)); code != 201 {
			t.Fatalf("direct hold: %d %s", code, body)
		} else {
			var h shardapi.Hold
			_ = json.Unmarshal(body, &h)
			if code, body := sh.call("POST", "/v1/holds/"+h.ID+"/confirm", `{"orderId":"o"}`); code != 200 {
				t.Fatalf("confirm: %d %s", code, body)
			}
		}
	}
	sh.configureRoom(1, time.Minute)
	waitRoomOn(t, fe)
	a, b := newBuyer(t, fe.url), newBuyer(t, fe.url)
	if p := a.room(); p.State != "admitted" {
		t.Fatalf("a: %+v", p)
	}
	if p := b.room(); p.State != "waiting" {
		t.Fatalf("b: %+v", p)
	}
	events := openRoomStream(t, fe.url)
	events.waitRoom(t, "the first summary", func(m map[string]any) bool { return m["configured"] == true })

	events.waitRoom(t, "one seat free", func(m map[string]any) bool { return m["free"] == float64(1) })
	h := a.hold("stalls/A/1")
	mustStatus(t, h, 201, "the last seat")
	events.waitRoom(t, "seats may return", func(m map[string]any) bool { return m["seatsMayReturn"] == true })
	mustStatus(t, a.do("POST", "/api/holds/"+h.hold(t).ID+"/pay", map[string]any{}, ""), 200, "pay the last seat")
	events.waitRoom(t, "sold out on the room stream", func(m map[string]any) bool { return m["soldOut"] == true })
	for _, who := range []*buyer{b, newBuyer(t, fe.url)} {
		if r := who.do("POST", "/api/room", map[string]any{}, ""); r.Status != 410 || r.errCode() != "sold_out" {
			t.Fatalf("POST /api/room after the sale: %d %s", r.Status, r.Body)
		}
	}
}

// roomStream reads a room-only event stream (GET /api/room/events).
type roomStream struct {
	events chan sseEvent
}

func openRoomStream(t *testing.T, base string) *roomStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/room/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		t.Fatalf("GET /api/room/events: %v %v", err, resp)
	}
	s := &roomStream{events: make(chan sseEvent, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		_ = readSSE(bufio.NewReader(resp.Body), func(ev sseEvent) error {
			ev.Data = bytes.Clone(ev.Data)
			s.events <- ev
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// waitRoom reads room summaries until cond accepts one; a seat event on a
// room-only stream fails the test.
func (s *roomStream) waitRoom(t *testing.T, what string, cond func(map[string]any) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-s.events:
			if ev.Event != "room" || ev.ID != "" {
				t.Fatalf("room stream sent event %q id %q: %s", ev.Event, ev.ID, ev.Data)
			}
			var m map[string]any
			if err := json.Unmarshal(ev.Data, &m); err != nil {
				t.Fatal(err)
			}
			if cond(m) {
				return
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s on the room stream", what)
		}
	}
}

// TestHubSendsRoomFramesToRoomStreamsOnly: seat streams get seat frames,
// room-only streams get room summaries (the latest first, then each new one
// once), and both get heartbeats.
func TestHubSendsRoomFramesToRoomStreamsOnly(t *testing.T) {
	h := newHub(testLogger(t), newMetrics(func() float64 { return 0 }), time.Hour, 16, nil)
	ids := testSeatIDs(t)
	seats := make([]shardapi.Seat, len(ids))
	for i, id := range ids {
		seats[i] = shardapi.Seat{ID: id, State: shardapi.SeatFree}
	}
	h.applySnapshot(1, seats, time.Now())
	if _, first := h.subscribe(0, false, true); len(first) != 0 {
		t.Fatalf("room stream before any summary got %q", first)
	}
	if err := h.applyRoom([]byte(`{"configured":true,"open":true,"head":3}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := h.applyRoom([]byte(`not json`), time.Now()); err == nil {
		t.Fatal("a bad summary was taken")
	}
	seatSub, _ := h.subscribe(0, false, false)
	roomSub, first := h.subscribe(0, false, true)
	if len(first) != 1 || string(first[0]) != "event: room\ndata: {\"configured\":true,\"open\":true,\"head\":3}\n\n" {
		t.Fatalf("room stream's first frames: %q", first)
	}
	h.applyChanges(2, []shardapi.Seat{{ID: ids[0], State: shardapi.SeatHeld}}, time.Now())
	h.flush()
	h.flushRoom()
	h.flushRoom() // nothing new: not sent again
	if len(seatSub.ch) != 1 || len(roomSub.ch) != 1 {
		t.Fatalf("seat stream got %d frames, room stream %d; want 1 each", len(seatSub.ch), len(roomSub.ch))
	}
	if f := <-seatSub.ch; f.room || !bytes.Contains(f.data, []byte("event: seats")) {
		t.Fatalf("seat stream got %q", f.data)
	}
	if f := <-roomSub.ch; !f.room || !bytes.Contains(f.data, []byte(`"head":3`)) {
		t.Fatalf("room stream got %q", f.data)
	}
	h.mu.Lock()
	h.broadcastLocked(&frame{data: []byte(": keep-alive\n\n"), heartbeat: true})
	h.mu.Unlock()
	if len(seatSub.ch) != 1 || len(roomSub.ch) != 1 {
		t.Fatal("a heartbeat did not reach both streams")
	}
	if sum, _ := h.roomState(); !sum.Configured || !sum.Open {
		t.Fatalf("room state %+v", sum)
	}
}

// TestRoomShardRefusesWhatThePodLetThrough: the shard checks every hold and
// extension itself. A pod that has not heard of the room yet holds as the
// session and the shard refuses it (the buyer gets 403 admission_required);
// an extension after the turn ended is 409 admission_ended, while paying for
// the hold still works.
func TestRoomShardRefusesWhatThePodLetThrough(t *testing.T) {
	sh := startRealShard(t, roomSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)
	sh.configureRoom(1, time.Minute)
	waitRoomOn(t, fe)
	a := newBuyer(t, fe.url)
	if p := a.room(); p.State != "admitted" {
		t.Fatalf("first buyer: %+v", p)
	}
	r := a.hold("stalls/A/1")
	mustStatus(t, r, 201, "admitted hold")
	var h struct {
		shardapi.Hold
		HoldToken string `json:"holdToken"`
	}
	if err := json.Unmarshal(r.Body, &h); err != nil || h.HoldToken == "" {
		t.Fatalf("hold answer: %s", r.Body)
	}
	made := time.Now()

	// The pod as it is when it read /v1/status before the room was on.
	_, on := fe.s.hub.roomState()
	if err := fe.s.hub.applyRoom([]byte(`{"configured":false}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	r = newBuyer(t, fe.url).hold("stalls/A/2")
	if r.Status != 403 || r.errCode() != "admission_required" || !bytes.Contains(r.Body, []byte(msgNotAdmitted)) {
		t.Fatalf("hold through a pod unaware of the room: %d %s", r.Status, r.Body)
	}
	if code, m := sh.call("GET", "/metrics", ""); code != 200 || !bytes.Contains(m, []byte(`boxoffice_shard_holds_total{result="admission_required"} 1`)) {
		t.Fatalf("the shard did not refuse the hold itself: %d\n%s", code, m)
	}
	if err := fe.s.hub.applyRoom(on, time.Now()); err != nil {
		t.Fatal(err)
	}

	// a's turn ends: no extension (the pod cannot tell; the shard can), but
	// the hold is still a's to pay.
	mustStatus(t, a.do("DELETE", "/api/room", nil, ""), 200, "leave")
	waitUntil(t, 5*time.Second, "an extension to gain a second", func() bool { return time.Since(made) > 1500*time.Millisecond })
	r = a.do("POST", "/api/holds/"+h.ID+"/extend", map[string]any{"holdToken": h.HoldToken}, "")
	if r.Status != 409 || r.errCode() != "admission_ended" || !bytes.Contains(r.Body, []byte(msgTurnEnded)) {
		t.Fatalf("extend after the turn: %d %s", r.Status, r.Body)
	}
	mustStatus(t, a.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, ""), 200, "pay after the turn")
}
