package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
)

const testToken = "s3cret"

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type harness struct {
	t    *testing.T
	srv  *Server
	http *httptest.Server
	dir  string
}

func seatIDs(rows string, n int) []string {
	var ids []string
	for _, r := range rows {
		for i := 1; i <= n; i++ {
			ids = append(ids, fmt.Sprintf("stalls/%c/%d", r, i))
		}
	}
	return ids
}

func start(t *testing.T, dir string, mod func(*Config)) *harness {
	t.Helper()
	cfg := Config{
		Showtime: "venues/test", SeatIDs: seatIDs("ABCD", 10), DataDir: dir, Token: testToken,
		HoldTTL: 10 * time.Minute, MaxHoldTTL: 2 * time.Hour, MaxSeatsPerHolder: 4,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TickInterval: 20 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Recover(); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: s, http: httptest.NewServer(s.Handler()), dir: dir}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.http == nil {
		return
	}
	h.srv.BeginShutdown()
	h.http.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Close(ctx); err != nil {
		h.t.Error(err)
	}
	h.http = nil
}

type answer struct {
	status int
	body   string
	header http.Header
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("answer %d is not JSON: %q", a.status, a.body)
	}
	return m
}

func (h *harness) do(method, path, body string, hdr ...string) answer {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.http.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

func (h *harness) expect(a answer, status int, code string) map[string]any {
	h.t.Helper()
	if a.status != status {
		h.t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	m := a.json(h.t)
	if code != "" {
		if m["error"] != code {
			h.t.Fatalf("error %v, want %s: %s", m["error"], code, a.body)
		}
		if _, ok := m["message"].(string); !ok {
			h.t.Fatalf("no message: %s", a.body)
		}
		if _, ok := m["seats"].([]any); !ok {
			h.t.Fatalf("no seats list: %s", a.body)
		}
	}
	if a.header.Get("Content-Type") != "application/json" {
		h.t.Fatalf("content type %q", a.header.Get("Content-Type"))
	}
	return m
}

func TestContract(t *testing.T) {
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano())
	h := start(t, t.TempDir(), func(c *Config) { c.Now = clk.now })

	// Auth.
	for _, auth := range []string{"", "Bearer wrong", "Basic " + testToken, "Bearer " + testToken + "x"} {
		a := h.do("GET", "/v1/seats", "", "Authorization", auth)
		h.expect(a, 401, "unauthorized")
	}
	if a := h.do("GET", "/healthz", "", "Authorization", ""); a.status != 200 {
		t.Fatalf("healthz %d", a.status)
	}
	if a := h.do("GET", "/readyz", "", "Authorization", ""); a.status != 200 {
		t.Fatalf("readyz %d", a.status)
	}
	if a := h.do("GET", "/metrics", "", "Authorization", ""); a.status != 200 || !strings.Contains(a.body, "boxoffice_shard_epoch 1") {
		t.Fatalf("metrics %d", a.status)
	}

	m := h.expect(h.do("GET", "/v1/seats", ""), 200, "")
	if m["showtime"] != "venues/test" || m["version"] != 0.0 || len(m["seats"].([]any)) != 40 {
		t.Fatalf("seats: %v", m)
	}
	if c := m["counts"].(map[string]any); c["free"] != 40.0 || c["held"] != 0.0 || c["awaiting_payment"] != 0.0 || c["sold"] != 0.0 {
		t.Fatalf("counts %v", c)
	}

	// Hold: 201 with every field.
	hold := h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1","stalls/A/2"],"holder":"buyer-1","ttlSeconds":60}`), 201, "")
	id := hold["id"].(string)
	if hold["state"] != "held" || hold["holder"] != "buyer-1" || hold["orderId"] != "" || hold["version"] != 1.0 ||
		hold["expiresAt"] != "2026-11-25T10:01:00Z" || len(hold["seats"].([]any)) != 2 {
		t.Fatalf("hold %v", hold)
	}
	if got := h.expect(h.do("GET", "/v1/holds/"+id, ""), 200, ""); got["id"] != id || got["state"] != "held" {
		t.Fatalf("get %v", got)
	}
	// All or nothing, listing the seats that were not free.
	a := h.do("POST", "/v1/holds", `{"seats":["stalls/A/3","stalls/A/2"],"holder":"buyer-2"}`)
	if e := h.expect(a, 409, "seats_unavailable"); fmt.Sprint(e["seats"]) != "[stalls/A/2]" {
		t.Fatalf("conflict %v", e)
	}
	if s := h.expect(h.do("GET", "/v1/seats", ""), 200, ""); s["counts"].(map[string]any)["held"] != 2.0 {
		t.Fatalf("partial hold happened: %v", s["counts"])
	}
	// Shape errors.
	for _, body := range []string{``, `{`, `[]`, `{"seats":[],"holder":"x"}`, `{"seats":["stalls/A/5"]}`,
		`{"seats":["stalls/A/5","stalls/A/5"],"holder":"x"}`, `{"seats":["stalls/A/5"],"holder":"x","ttlSeconds":0}`,
		`{"seats":["stalls/A/5"],"holder":"x","ttlSeconds":-5}`, `{"seats":["stalls/A/5"],"holder":"x","ttlSeconds":1.5}`,
		`{"seats":"stalls/A/5","holder":"x"}`} {
		h.expect(h.do("POST", "/v1/holds", body), 400, "invalid_request")
	}
	if e := h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/Z/1","stalls/A/9"],"holder":"x"}`), 400, "unknown_seat"); fmt.Sprint(e["seats"]) != "[stalls/Z/1]" {
		t.Fatalf("unknown seat %v", e)
	}
	// Per-holder limit (4): buyer-1 holds 2.
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/B/1","stalls/B/2","stalls/B/3"],"holder":"buyer-1"}`), 422, "too_many_seats")
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/B/1","stalls/B/2","stalls/B/3","stalls/B/4","stalls/B/5"],"holder":"new"}`), 422, "too_many_seats")
	// Malformed beats too many: five seats (over the limit) with one twice.
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/B/1","stalls/B/2","stalls/B/3","stalls/B/4","stalls/B/1"],"holder":"new"}`), 400, "invalid_request")
	// Body limit.
	big := `{"seats":["` + strings.Repeat("x", 70<<10) + `"],"holder":"x"}`
	h.expect(h.do("POST", "/v1/holds", big), 413, "payload_too_large")

	// ttl cap: asked 1 day, max 2h.
	capped := h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/C/1"],"holder":"buyer-3","ttlSeconds":86400}`), 201, "")
	if capped["expiresAt"] != "2026-11-25T12:00:00Z" {
		t.Fatalf("ttl not capped: %v", capped["expiresAt"])
	}
	cid := capped["id"].(string)
	// Default ttl 10m.
	def := h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/C/2"],"holder":"buyer-4"}`), 201, "")
	if def["expiresAt"] != "2026-11-25T10:10:00Z" {
		t.Fatalf("default ttl: %v", def["expiresAt"])
	}

	// Extend, await payment, confirm, release.
	ext := h.expect(h.do("POST", "/v1/holds/"+id+"/extend", `{"ttlSeconds":300}`), 200, "")
	if ext["expiresAt"] != "2026-11-25T10:05:00Z" || ext["state"] != "held" {
		t.Fatalf("extend %v", ext)
	}
	h.expect(h.do("POST", "/v1/holds/"+id+"/extend", `{"ttlSeconds":0}`), 400, "invalid_request")
	aw := h.expect(h.do("POST", "/v1/holds/"+id+"/await-payment", ``), 200, "")
	if aw["state"] != "awaiting_payment" || aw["expiresAt"] != "2026-11-25T12:00:00Z" {
		t.Fatalf("await payment %v", aw)
	}
	h.expect(h.do("POST", "/v1/holds/"+id+"/confirm", `{}`), 400, "invalid_request")
	sold := h.expect(h.do("POST", "/v1/holds/"+id+"/confirm", `{"orderId":"order-1"}`), 200, "")
	if sold["state"] != "sold" || sold["orderId"] != "order-1" {
		t.Fatalf("confirm %v", sold)
	}
	again := h.do("POST", "/v1/holds/"+id+"/confirm", `{"orderId":"order-1"}`)
	if again.status != 200 {
		t.Fatalf("confirm again %d", again.status)
	}
	h.expect(h.do("POST", "/v1/holds/"+id+"/confirm", `{"orderId":"order-2"}`), 409, "hold_sold")
	h.expect(h.do("DELETE", "/v1/holds/"+id, ""), 409, "hold_sold")
	h.expect(h.do("POST", "/v1/holds/"+id+"/extend", `{"ttlSeconds":10}`), 409, "hold_sold")
	rel := h.expect(h.do("DELETE", "/v1/holds/"+cid, ""), 200, "")
	if rel["state"] != "released" {
		t.Fatalf("release %v", rel)
	}
	rel2 := h.do("DELETE", "/v1/holds/"+cid, "")
	if rel2.status != 200 || rel2.json(t)["state"] != "released" {
		t.Fatalf("release again %v", rel2)
	}
	h.expect(h.do("POST", "/v1/holds/"+cid+"/confirm", `{"orderId":"o"}`), 409, "hold_expired")
	for _, p := range []string{"/v1/holds/h999", "/v1/holds/nope", "/v1/holds/h0"} {
		h.expect(h.do("GET", p, ""), 404, "hold_not_found")
		h.expect(h.do("POST", p+"/confirm", `{"orderId":"o"}`), 404, "hold_not_found")
	}

	// Expiry: the default-ttl hold expires at 10:10.
	did := def["id"].(string)
	clk.advance(10 * time.Minute)
	h.expect(h.do("POST", "/v1/holds/"+did+"/extend", `{"ttlSeconds":10}`), 409, "hold_expired")
	h.expect(h.do("POST", "/v1/holds/"+did+"/confirm", `{"orderId":"o"}`), 409, "hold_expired")
	if g := h.expect(h.do("GET", "/v1/holds/"+did, ""), 200, ""); g["state"] != "expired" {
		t.Fatalf("expired hold %v", g)
	}
	h.expect(h.do("DELETE", "/v1/holds/"+did, ""), 200, "")

	// Idempotency keys.
	body := `{"seats":["stalls/D/1"],"holder":"buyer-9"}`
	first := h.do("POST", "/v1/holds", body, "Idempotency-Key", "key-1")
	second := h.do("POST", "/v1/holds", body, "Idempotency-Key", "key-1")
	if first.status != 201 || second.status != 201 || first.body != second.body {
		t.Fatalf("replay differs:\n%d %s\n%d %s", first.status, first.body, second.status, second.body)
	}
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/D/2"],"holder":"buyer-9"}`, "Idempotency-Key", "key-1"), 422, "idempotency_mismatch")
	// Another body that is not even valid is still another body; with an
	// unused key it is just invalid.
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/Z/99"],"holder":"buyer-9"}`, "Idempotency-Key", "key-1"), 422, "idempotency_mismatch")
	h.expect(h.do("POST", "/v1/holds", `{"seats":[],"holder":"buyer-9"}`, "Idempotency-Key", "key-1"), 422, "idempotency_mismatch")
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/Z/99"],"holder":"buyer-9"}`, "Idempotency-Key", "key-unused"), 400, "unknown_seat")
	// A key used for a hold is not a confirm's key.
	hid := first.json(t)["id"].(string)
	h.expect(h.do("POST", "/v1/holds/"+hid+"/confirm", `{}`, "Idempotency-Key", "key-1"), 400, "invalid_request")
	h.expect(h.do("POST", "/v1/holds/"+hid+"/confirm", `{"orderId":"ord-9"}`, "Idempotency-Key", "pay-1"), 200, "")
	h.expect(h.do("POST", "/v1/holds/"+hid+"/confirm", `{}`, "Idempotency-Key", "pay-1"), 422, "idempotency_mismatch")

	st := h.expect(h.do("GET", "/v1/status", ""), 200, "")
	if st["showtime"] != "venues/test" || st["epoch"] != 1.0 || st["version"].(float64) < 5 {
		t.Fatalf("status %v", st)
	}
	// Unknown method: not a success.
	if a := h.do("PUT", "/v1/holds", "{}"); a.status < 400 {
		t.Fatalf("PUT answered %d", a.status)
	}
}

func TestNotReadyAndShutdown(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	h.srv.BeginShutdown()
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"x"}`), 503, "not_ready")
	if a := h.do("GET", "/readyz", ""); a.status != 503 {
		t.Fatalf("readyz while stopping: %d", a.status)
	}
}

// TestExpiryTick: with the real clock, seats are free within a second after
// expiresAt without any request touching the hold.
func TestExpiryTick(t *testing.T) {
	h := start(t, t.TempDir(), func(c *Config) { c.TickInterval = 0 })
	hold := h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"x","ttlSeconds":1}`), 201, "")
	exp, _ := time.Parse(time.RFC3339Nano, hold["expiresAt"].(string))
	deadline := exp.Add(3 * time.Second) // generous under -race; the contract says one second
	for {
		s := h.expect(h.do("GET", "/v1/seats", ""), 200, "")
		if s["counts"].(map[string]any)["free"] == 40.0 {
			if late := time.Since(exp); late > time.Second {
				t.Logf("freed %v after expiresAt (slow machine?)", late)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("seat still held %v after expiresAt", time.Since(exp))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIdempotencyAfterRestart: the same key and body answer byte for byte the
// same after the shard restarts on its data directory, for holds and confirms.
func TestIdempotencyAfterRestart(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, nil)
	reqs := []struct{ method, path, body, key string }{
		{"POST", "/v1/holds", `{"seats":["stalls/A/1","stalls/A/2"],"holder":"a"}`, "k-hold"},
		{"POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b"}`, "k-conflict"},
		{"POST", "/v1/holds/h1/confirm", `{"orderId":"o-1"}`, "k-confirm"},
		{"POST", "/v1/holds/h77/confirm", `{"orderId":"o-1"}`, "k-missing"},
	}
	var before []answer
	for _, r := range reqs {
		before = append(before, h.do(r.method, r.path, r.body, "Idempotency-Key", r.key))
	}
	h.do("DELETE", "/v1/holds/h1", "")
	for round, snapshotEvery := range []uint64{1, 1 << 30} {
		h.stop()
		h = start(t, dir, func(c *Config) { c.SnapshotEvery = snapshotEvery })
		for i, r := range reqs {
			a := h.do(r.method, r.path, r.body, "Idempotency-Key", r.key)
			if a.status != before[i].status || a.body != before[i].body {
				t.Fatalf("round %d %s %s: after restart %d %s, before %d %s", round, r.path, r.key, a.status, a.body, before[i].status, before[i].body)
			}
		}
		h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/3"],"holder":"a"}`, "Idempotency-Key", "k-hold"), 422, "idempotency_mismatch")
	}
	if h.srv.Epoch() != 3 {
		t.Fatalf("epoch %d after two restarts", h.srv.Epoch())
	}
}

type sse struct {
	id, event, data string
}

func readEvents(t *testing.T, r *bufio.Reader, n int) []sse {
	t.Helper()
	var out []sse
	var cur sse
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended after %d events: %v", len(out), err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if cur.event != "" {
				out = append(out, cur)
			}
			cur = sse{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	return out
}

func (h *harness) stream(lastID string) (*bufio.Reader, func()) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", h.http.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		h.t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body), func() { cancel(); resp.Body.Close() }
}

func TestEvents(t *testing.T) {
	h := start(t, t.TempDir(), func(c *Config) { c.RingSize = 8 })
	r, closeStream := h.stream("")
	ev := readEvents(t, r, 1)
	if ev[0].event != "snapshot" || ev[0].id != "0" || !strings.HasPrefix(ev[0].data, `{"version":0,"seats":[{"id":"stalls/A/1","state":"free"}`) {
		t.Fatalf("first event %+v", ev[0])
	}
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1","stalls/A/2"],"holder":"a"}`), 201, "")
	ev = readEvents(t, r, 1)
	if ev[0].event != "seats" || ev[0].id != "1" || ev[0].data != `{"version":1,"changes":[{"id":"stalls/A/1","state":"held"},{"id":"stalls/A/2","state":"held"}]}` {
		t.Fatalf("seats event %+v", ev[0])
	}
	closeStream()

	// Resume: no snapshot, only what happened after id 1 (coalesced per seat).
	h.expect(h.do("POST", "/v1/holds/h1/confirm", `{"orderId":"o"}`), 200, "")
	r, closeStream = h.stream("1")
	ev = readEvents(t, r, 1)
	if ev[0].event != "seats" || ev[0].id != "2" || !strings.Contains(ev[0].data, `"state":"sold"`) {
		t.Fatalf("resumed event %+v", ev[0])
	}
	closeStream()

	// Too old for the ring (8 changes): a snapshot again.
	for i := 1; i <= 8; i++ {
		h.expect(h.do("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/B/%d"],"holder":"h%d"}`, i, i)), 201, "")
	}
	r, closeStream = h.stream("1")
	ev = readEvents(t, r, 1)
	if ev[0].event != "snapshot" || ev[0].id != "10" {
		t.Fatalf("stale Last-Event-ID: %+v", ev[0])
	}
	closeStream()
	// A version from the future: snapshot.
	r, closeStream = h.stream("999")
	if ev = readEvents(t, r, 1); ev[0].event != "snapshot" {
		t.Fatalf("future Last-Event-ID: %+v", ev[0])
	}
	closeStream()
}

func TestHubRingBounds(t *testing.T) {
	ix, _ := seats.NewIndex(seatIDs("A", 4))
	hb := newHub(ix, 4)
	var v uint64
	for i := 0; i < 10; i++ {
		v++
		hb.publish([]seats.Change{{Version: v, Seat: int32(i % 4), State: seats.Held}}, v)
	}
	if _, _, ok := hb.since(2, nil); ok {
		t.Fatal("a cursor behind the ring must be dropped")
	}
	got, ver, ok := hb.since(7, nil)
	if !ok || ver != 10 || len(got) != 3 {
		t.Fatalf("since 7: %v %d %v", got, ver, ok)
	}
	if !hb.retained(6) || hb.retained(5) || hb.retained(11) {
		t.Fatal("retained window wrong")
	}
}

// TestExpiredWhileDown: a hold whose deadline passes while the shard is down
// comes back expired, its seats free, before the shard reports ready.
func TestExpiredWhileDown(t *testing.T) {
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano())
	dir := t.TempDir()
	h := start(t, dir, func(c *Config) { c.Now = clk.now; c.TickInterval = time.Hour })
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"a","ttlSeconds":30}`), 201, "")
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b","ttlSeconds":300}`), 201, "")
	h.stop()
	clk.advance(time.Minute)
	h = start(t, dir, func(c *Config) { c.Now = clk.now; c.TickInterval = time.Hour })
	if g := h.expect(h.do("GET", "/v1/holds/h1", ""), 200, ""); g["state"] != "expired" {
		t.Fatalf("h1 %v", g["state"])
	}
	s := h.expect(h.do("GET", "/v1/seats", ""), 200, "")
	if c := s["counts"].(map[string]any); c["held"] != 1.0 || c["free"] != 39.0 || s["version"] != 3.0 {
		t.Fatalf("after restart: %v version %v", c, s["version"])
	}
	if a := h.do("PUT", "/v1/holds", "", "Authorization", ""); a.status != 401 {
		t.Fatalf("unauthenticated PUT: %d", a.status)
	}
}
