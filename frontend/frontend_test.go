package frontend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

func TestParseFlagsErrorsAndEnv(t *testing.T) {
	_, err := ParseFlags(nil, io.Discard)
	if err == nil {
		t.Fatal("no flags: want an error")
	}
	for _, want := range []string{"--shard-url", "--session-key-file", "--showtime", "--payment-secret-file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	_, err = ParseFlags([]string{"--shard-url=shard:7070", "--session-key-file=k", "--showtime=noslash", "--demo-payments"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "absolute http") || !strings.Contains(err.Error(), "NAMESPACE/NAME") {
		t.Fatalf("bad url and showtime: got %v", err)
	}
	t.Setenv("BOXOFFICE_FRONTEND_SHARD_URL", "http://shard:7070")
	t.Setenv("BOXOFFICE_FRONTEND_SESSION_KEY_FILE", "/k")
	t.Setenv("BOXOFFICE_FRONTEND_SHOWTIME", "venues/a")
	t.Setenv("BOXOFFICE_FRONTEND_DEMO_PAYMENTS", "true")
	t.Setenv("BOXOFFICE_FRONTEND_RATE_LIMIT", "3")
	cfg, err := ParseFlags([]string{"--rate-limit=5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ShardURL != "http://shard:7070" || !cfg.DemoPayments || cfg.Showtime != "venues/a" || cfg.RateLimit != 5 || cfg.Listen != ":8080" {
		t.Fatalf("env/flags not applied: %+v", cfg)
	}
	t.Setenv("BOXOFFICE_FRONTEND_COALESCE", "soon")
	if _, err := ParseFlags(nil, io.Discard); err == nil || !strings.Contains(err.Error(), "BOXOFFICE_FRONTEND_COALESCE") {
		t.Fatalf("bad env value: got %v", err)
	}
}

func TestSessionCookieIsSignedAndHttpOnly(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, nil)
	resp, err := http.Get(fe.url + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == SessionCookie {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || !c.Secure {
		t.Fatalf("session cookie missing or not HttpOnly/SameSite=Lax/Secure: %+v", c)
	}
	if c.MaxAge <= 0 || time.Duration(c.MaxAge)*time.Second > DefaultConfig().SessionMaxAge {
		t.Fatalf("cookie Max-Age %d, want at most %v", c.MaxAge, DefaultConfig().SessionMaxAge)
	}
	if se, ok := fe.s.sess.decode(c.Value); !ok || se.holder == "" {
		t.Fatal("own cookie does not verify")
	}
	forged := "b-000000000000000000000000." + strings.SplitN(c.Value, ".", 2)[1]
	if _, ok := fe.s.sess.decode(forged); ok {
		t.Fatal("forged cookie accepted")
	}
}

func TestHoldPayReleaseAndIsolation(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, nil)
	a, b := newBuyer(t, fe.url), newBuyer(t, fe.url)

	r := a.hold("stalls/A/1", "stalls/A/2")
	mustStatus(t, r, 201, "hold")
	h := r.hold(t)
	if len(h.Seats) != 2 || h.State != shardapi.SeatHeld || !strings.HasPrefix(h.Holder, "b-") {
		t.Fatalf("hold: %+v", h)
	}
	mustStatus(t, b.hold("stalls/A/2", "stalls/A/3"), 409, "overlapping hold")

	// Buyer b can neither see, pay nor release a's hold.
	mustStatus(t, b.do("GET", "/api/holds/"+h.ID, nil, ""), 404, "other's hold status")
	mustStatus(t, b.do("DELETE", "/api/holds/"+h.ID, nil, ""), 404, "other's release")
	mustStatus(t, b.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, ""), 404, "other's pay")
	mustStatus(t, a.do("GET", "/api/holds/"+h.ID, nil, ""), 200, "own hold status")

	r = a.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, "k1")
	mustStatus(t, r, 200, "pay")
	if got := r.hold(t); got.State != shardapi.SeatSold || got.OrderID != "demo-"+h.ID {
		t.Fatalf("after pay: %+v", got)
	}
	mustStatus(t, a.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, "k2"), 200, "pay again")
	mustStatus(t, a.do("DELETE", "/api/holds/"+h.ID, nil, ""), 409, "release sold")

	r = b.hold("stalls/B/1")
	mustStatus(t, r, 201, "b hold")
	h2 := r.hold(t)
	mustStatus(t, a.do("DELETE", "/api/holds/"+h2.ID, nil, ""), 404, "a releases b's")
	r = b.do("DELETE", "/api/holds/"+h2.ID, nil, "")
	mustStatus(t, r, 200, "release own")
	if r.hold(t).State != "released" {
		t.Fatalf("release: %s", r.Body)
	}
	mustStatus(t, a.do("GET", "/api/holds/..%2fv1%2fseats", nil, ""), 404, "path trick")

	// The seat map reflects it all.
	r = a.do("GET", "/api/seats", nil, "")
	mustStatus(t, r, 200, "seats")
	var v struct {
		Showtime string         `json:"showtime"`
		Counts   map[string]int `json:"counts"`
		Sections []LayoutSection
	}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Second, "seat counts", func() bool {
		r = a.do("GET", "/api/seats", nil, "")
		_ = json.Unmarshal(r.Body, &v)
		return v.Counts[shardapi.SeatSold] == 2 && v.Counts[shardapi.SeatHeld] == 0
	})
	if v.Showtime != testShowtime || len(v.Sections) != 2 || v.Sections[1].Name != "balcony" || len(v.Sections[0].Rows) != 4 {
		t.Fatalf("layout: %+v", v)
	}
}

func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIdempotencyKeyMakesRetriesSafe(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, nil)
	a, b := newBuyer(t, fe.url), newBuyer(t, fe.url)
	body := map[string]any{"seats": []string{"stalls/C/1"}}
	r1 := a.do("POST", "/api/holds", body, "action-1")
	r2 := a.do("POST", "/api/holds", body, "action-1")
	mustStatus(t, r1, 201, "first")
	mustStatus(t, r2, 201, "retry")
	if r1.hold(t).ID != r2.hold(t).ID {
		t.Fatalf("retry made a second hold: %s vs %s", r1.Body, r2.Body)
	}
	// Another session using the same key is a different action.
	mustStatus(t, b.do("POST", "/api/holds", body, "action-1"), 409, "other session same key")
	mustStatus(t, a.do("POST", "/api/holds", body, "bad key!"), 400, "bad key")
}

func TestWritesRetriedWhileShardNotReady(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, nil)
	a := newBuyer(t, fe.url)
	fs.FailWrites(3)
	r := a.hold("stalls/D/4")
	mustStatus(t, r, 201, "hold through 503s")
	if n := fs.WritesToFail(); n != 0 {
		t.Fatalf("%d 503s left, retries did not happen", n)
	}
	// Budget exhausted: a clear 503 for the buyer.
	fe2 := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.RetryBudget = 300 * time.Millisecond })
	fs.FailWrites(1000)
	r = newBuyer(t, fe2.url).hold("stalls/D/5")
	fs.FailWrites(0)
	mustStatus(t, r, 503, "budget exhausted")
	if r.errCode() != "shard_unavailable" {
		t.Fatalf("code %q", r.errCode())
	}
}

func TestFanOutUsesOneUpstreamStream(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, nil)
	const n = 40
	streams := make([]*sseClient, n)
	views := make([]*seatView, n)
	for i := range streams {
		streams[i] = openStream(t, fe.url, "")
		views[i] = &seatView{}
		streams[i].waitFor(t, views[i], 5*time.Second, "snapshot", func(v *seatView) bool { return v.snapshots == 1 })
	}
	waitUntil(t, time.Second, "stream gauge", func() bool { return fe.s.hub.subscribers() == n })
	a := newBuyer(t, fe.url)
	mustStatus(t, a.hold("balcony/A/1", "balcony/A/2"), 201, "hold")
	for i := range streams {
		streams[i].waitFor(t, views[i], 5*time.Second, "held seats", statesAre(shardapi.SeatHeld, "balcony/A/1", "balcony/A/2"))
	}
	if c := fs.EventsConns(); c != 1 {
		t.Fatalf("shard saw %d event streams for %d browsers, want 1", c, n)
	}
	if c := fs.SeatsCalls(); c != 0 {
		t.Fatalf("browsers caused %d GET /v1/seats at the shard, want 0", c)
	}
	// The metrics page reports the streams.
	resp, err := http.Get(fe.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"boxoffice_frontend_streams_connected " + strconv.Itoa(n),
		"boxoffice_frontend_fanout_delay_seconds_count", `boxoffice_frontend_requests_total{result="201",route="hold"} 1`,
		"boxoffice_frontend_upstream_request_duration_seconds_bucket"} {
		if !bytes.Contains(mb, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestChangesAreCoalesced(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.Coalesce = 400 * time.Millisecond })
	s := openStream(t, fe.url, "")
	v := &seatView{}
	s.waitFor(t, v, 5*time.Second, "snapshot", func(v *seatView) bool { return v.snapshots == 1 })
	a := newBuyer(t, fe.url)
	ids := []string{"stalls/A/1", "stalls/A/2", "stalls/A/3", "stalls/A/4", "stalls/A/5", "stalls/A/6"}
	for _, id := range ids {
		mustStatus(t, a.hold(id), 201, "hold "+id)
	}
	s.waitFor(t, v, 5*time.Second, "all held", statesAre(shardapi.SeatHeld, ids...))
	if v.updates >= len(ids) {
		t.Fatalf("%d commits arrived as %d events; expected them merged", len(ids), v.updates)
	}
}

func TestHubDropsSlowSubscriberWhoResumes(t *testing.T) {
	h := newHub(testLogger(t), newMetrics(func() float64 { return 0 }), time.Hour, 2, nil)
	ids := testSeatIDs(t)
	seats := make([]shardapi.Seat, len(ids))
	for i, id := range ids {
		seats[i] = shardapi.Seat{ID: id, State: shardapi.SeatFree}
	}
	h.applySnapshot(10, seats, time.Now())
	slow, first := h.subscribe(0, false, false)
	if len(first) != 1 || !bytes.Contains(first[0], []byte("event: snapshot")) {
		t.Fatalf("first frames: %q", first)
	}
	for i := 0; i < 3; i++ {
		h.applyChanges(uint64(11+i), []shardapi.Seat{{ID: ids[i], State: shardapi.SeatHeld}}, time.Now())
		h.flush()
	}
	select {
	case <-slow.dropped:
	default:
		t.Fatal("slow subscriber with a full buffer was not dropped")
	}
	got := 0
	for len(slow.ch) > 0 {
		<-slow.ch
		got++
	}
	if got != 2 {
		t.Fatalf("buffered %d frames, want 2", got)
	}
	// It read up to version 12 and resumes from there: only version 13 comes.
	_, first = h.subscribe(12, true, false)
	if len(first) != 1 || !bytes.Contains(first[0], []byte("id: 13\n")) || !bytes.Contains(first[0], []byte(ids[2])) {
		t.Fatalf("resume frames: %q", first)
	}
	// Too old (before the retained frames): a snapshot from memory.
	_, first = h.subscribe(3, true, false)
	if len(first) != 1 || !bytes.Contains(first[0], []byte("event: snapshot")) || !bytes.Contains(first[0], []byte("id: 13\n")) {
		t.Fatalf("old resume: %q", first)
	}
	// Up to date: nothing to send.
	if _, first = h.subscribe(13, true, false); len(first) != 0 {
		t.Fatalf("current resume: %q", first)
	}
}

func TestUpstreamResumesWithLastEventID(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, nil)
	if first := <-fs.LastEventIDs(); first != "" {
		t.Fatalf("first upstream connect sent Last-Event-ID %q", first)
	}
	s := openStream(t, fe.url, "")
	v := &seatView{}
	s.waitFor(t, v, 5*time.Second, "snapshot", func(v *seatView) bool { return v.snapshots == 1 })
	a := newBuyer(t, fe.url)
	mustStatus(t, a.hold("stalls/B/1"), 201, "hold")
	s.waitFor(t, v, 5*time.Second, "B1 held", statesAre(shardapi.SeatHeld, "stalls/B/1"))

	// Cut the upstream and commit behind the front end's back.
	fs.DropStreams()
	fs.Commit([]shardapi.Seat{{ID: "stalls/B/2", State: shardapi.SeatSold}}, []shardapi.Seat{{ID: "stalls/B/3", State: shardapi.SeatSold}})
	select {
	case id := <-fs.LastEventIDs():
		if id == "" {
			t.Fatal("upstream reconnected without Last-Event-ID")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("upstream did not reconnect")
	}
	s.waitFor(t, v, 5*time.Second, "changes made during the gap", statesAre(shardapi.SeatSold, "stalls/B/2", "stalls/B/3"))
	if v.snapshots != 1 {
		t.Fatalf("browser got %d snapshots; the resume should need none", v.snapshots)
	}

	// A browser that comes back with Last-Event-ID gets only what it missed.
	last := v.lastID
	mustStatus(t, a.hold("stalls/B/4"), 201, "hold")
	s2 := openStream(t, fe.url, last)
	v2 := &seatView{states: map[string]string{}}
	s2.waitFor(t, v2, 5*time.Second, "missed change", statesAre(shardapi.SeatHeld, "stalls/B/4"))
	if v2.snapshots != 0 || len(v2.states) > 1 {
		t.Fatalf("resumed browser got %d snapshots and %d seats", v2.snapshots, len(v2.states))
	}
}

func TestPaymentCallback(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	secret := "callback-secret-0123456789"
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) {
		c.DemoPayments = false
		c.PaymentSecretFile = writeFile(t, t.TempDir(), "pay", secret)
		c.PaymentURL = "https://pay.example/checkout"
	})
	a := newBuyer(t, fe.url)
	h := a.hold("stalls/C/5").hold(t)
	r := a.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, "")
	mustStatus(t, r, 202, "start payment")
	var started struct {
		Hold       shardapi.Hold `json:"hold"`
		PaymentURL string        `json:"paymentUrl"`
	}
	_ = json.Unmarshal(r.Body, &started)
	if started.Hold.State != shardapi.SeatAwaitingPayment || started.PaymentURL != "https://pay.example/checkout?hold="+h.ID {
		t.Fatalf("start payment: %s", r.Body)
	}
	post := func(body []byte, sig string) apiResp {
		req, _ := http.NewRequest("POST", fe.url+"/payments/callback", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set(SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return apiResp{resp.StatusCode, b}
	}
	body := []byte(fmt.Sprintf(`{"holdId":%q,"orderId":"ord-1","status":"paid"}`, h.ID))
	mustStatus(t, post(body, ""), 401, "unsigned")
	mustStatus(t, post(body, SignPayment([]byte("wrong-secret-0123456"), body, time.Now())), 401, "wrong secret")
	mustStatus(t, post(body, SignPayment([]byte(secret), body, time.Now().Add(-time.Hour))), 401, "stale")
	r = post(body, SignPayment([]byte(secret), body, time.Now()))
	mustStatus(t, r, 200, "signed callback")
	if got := r.hold(t); got.State != shardapi.SeatSold || got.OrderID != "ord-1" {
		t.Fatalf("after callback: %s", r.Body)
	}
	mustStatus(t, post(body, SignPayment([]byte(secret), body, time.Now())), 200, "callback delivered twice")
}

func TestRateAndBodyLimits(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.RateLimit = 1; c.RateBurst = 3; c.MaxBodyBytes = 512 })
	a := newBuyer(t, fe.url)
	mustStatus(t, a.do("GET", "/api/session", nil, ""), 200, "session")
	big := make([]string, 60)
	for i := range big {
		big[i] = "stalls/A/" + strings.Repeat("9", 10)
	}
	r := a.do("POST", "/api/holds", map[string]any{"seats": big}, "")
	mustStatus(t, r, 413, "large body")
	limited := false
	for i := 0; i < 6; i++ {
		if a.do("GET", "/api/session", nil, "").Status == 429 {
			limited = true
		}
	}
	if !limited {
		t.Fatal("no 429 after exceeding the burst")
	}
	// Another buyer has its own bucket.
	mustStatus(t, newBuyer(t, fe.url).do("GET", "/api/session", nil, ""), 200, "other buyer")
}

func TestPageIsEmbedded(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, nil)
	for path, want := range map[string]string{"/": "<main", "/static/app.js": "EventSource", "/static/style.css": ".seat", "/readyz": "ok", "/healthz": "ok"} {
		resp, err := http.Get(fe.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(want)) {
			t.Errorf("GET %s: %d, lacks %q", path, resp.StatusCode, want)
		}
	}
	// Nothing on the page comes from elsewhere.
	for _, f := range []string{"web/index.html", "web/app.js", "web/style.css"} {
		b, _ := webFS.ReadFile(f)
		if bytes.Contains(b, []byte("http://")) || bytes.Contains(b, []byte("https://")) {
			t.Errorf("%s refers to an outside URL", f)
		}
	}
}

// A browser that read a version the pod has not flushed yet (GET /api/seats
// answers from memory, pending changes included) and resumes from it, or
// gets a snapshot at it, is not sent that version again when it is flushed:
// the frame would repeat an event id it already has.
func TestHubDoesNotRepeatAVersionAStreamHas(t *testing.T) {
	h := newHub(testLogger(t), newMetrics(func() float64 { return 0 }), time.Hour, 8, nil)
	ids := testSeatIDs(t)
	seats := make([]shardapi.Seat, len(ids))
	for i, id := range ids {
		seats[i] = shardapi.Seat{ID: id, State: shardapi.SeatFree}
	}
	change := func(v uint64, i int) {
		h.applyChanges(v, []shardapi.Seat{{ID: ids[i], State: shardapi.SeatHeld}}, time.Now())
	}
	h.applySnapshot(5, seats, time.Now())
	change(6, 0)
	h.flush()
	change(7, 1) // not flushed yet
	at7, first := h.subscribe(7, true, false)
	if len(first) != 0 {
		t.Fatalf("resume at the current version sent %q", first)
	}
	fresh, first := h.subscribe(0, false, false)
	if len(first) != 1 || !bytes.Contains(first[0], []byte("id: 7\n")) {
		t.Fatalf("snapshot: %q", first)
	}
	at6, first := h.subscribe(6, true, false)
	if len(first) != 0 {
		t.Fatalf("resume at the last flushed version sent %q", first)
	}
	h.flush() // the frame of version 7
	change(8, 2)
	h.flush()
	versions := func(s *subscriber) (got []uint64) {
		for len(s.ch) > 0 {
			got = append(got, (<-s.ch).version)
		}
		return got
	}
	for name, c := range map[string]struct {
		s    *subscriber
		want []uint64
	}{"resumed at 7": {at7, []uint64{8}}, "snapshot at 7": {fresh, []uint64{8}}, "resumed at 6": {at6, []uint64{7, 8}}} {
		if got := versions(c.s); !slices.Equal(got, c.want) {
			t.Errorf("%s: frames of versions %v, want %v", name, got, c.want)
		}
	}
}
