package frontend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/seatmap"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

const testShowtime = "venues/standup-night-1"

// testSeatMap is 2 sections: stalls A-D x 1-10, balcony A-B x 1-6.
const testSeatMap = `sections:
- name: stalls
  rows:
  - {names: "A-D", seats: "1-10"}
- name: balcony
  rows:
  - {names: "A-B", seats: "1-6"}
`

func testSeatIDs(t testing.TB) []string {
	l, err := seatmap.Parse([]byte(testSeatMap))
	if err != nil {
		t.Fatal(err)
	}
	return l.SeatIDs()
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func writeFile(t testing.TB, dir, name, content string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testFrontend is a front end served by httptest in this process.
type testFrontend struct {
	s   *Server
	ts  *httptest.Server
	url string
}

func startFrontend(t testing.TB, shardURL, token string, mut func(*Config)) *testFrontend {
	t.Helper()
	return startFrontendHook(t, shardURL, token, mut, nil)
}

// testConfig is the front end's configuration in tests: the shard at
// shardURL with token, a fixed session key, demo payments.
func testConfig(t testing.TB, shardURL, token string) Config {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.ShardURL = shardURL
	cfg.ShardTokenFile = writeFile(t, dir, "token", token+"\n")
	cfg.SessionKeyFile = writeFile(t, dir, "session", "0123456789abcdef0123456789abcdef")
	cfg.Showtime = testShowtime
	cfg.DemoPayments = true
	return cfg
}

// startFrontendHook is startFrontend with a hook that may adjust the server
// (its shard transport, say) before it starts.
func startFrontendHook(t testing.TB, shardURL, token string, mut func(*Config), hook func(*Server)) *testFrontend {
	t.Helper()
	cfg := testConfig(t, shardURL, token)
	cfg.RateLimit = 1000
	cfg.RateBurst = 1000
	cfg.NewSessionRate = 1000 // every test buyer comes from 127.0.0.1
	cfg.NewSessionBurst = 1000
	cfg.ClientSeats = 0      // tests that need the per-address limits turn them on
	cfg.MaxClientStreams = 0 // (every test buyer comes from 127.0.0.1)
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.CloseStreams()
		cancel()
		ts.Close()
	})
	select {
	case <-s.hub.Loaded():
	case <-time.After(20 * time.Second):
		t.Fatal("front end did not load the seat snapshot from the shard within 20s")
	}
	return &testFrontend{s: s, ts: ts, url: ts.URL}
}

// buyer is one browser session talking to the buyer API.
type buyer struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newBuyer(t testing.TB, base string) *buyer {
	jar, _ := cookiejar.New(nil)
	return &buyer{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

type apiResp struct {
	Status int
	Body   []byte
}

func (r apiResp) hold(t testing.TB) shardapi.Hold {
	t.Helper()
	var h shardapi.Hold
	if err := json.Unmarshal(r.Body, &h); err != nil {
		t.Fatalf("not a hold: %s", r.Body)
	}
	return h
}

func (r apiResp) errCode() string {
	var e apiError
	_ = json.Unmarshal(r.Body, &e)
	return e.Error
}

func (b *buyer) do(method, path string, body any, idemKey string) apiResp {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return apiResp{Status: resp.StatusCode, Body: rb}
}

func (b *buyer) hold(seats ...string) apiResp {
	return b.do("POST", "/api/holds", map[string]any{"seats": seats}, "")
}

// sseClient reads a browser event stream from the front end.
type sseClient struct {
	events chan sseEvent
	cancel context.CancelFunc
	done   chan struct{}
}

func openStream(t testing.TB, base, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("GET /api/events: %d", resp.StatusCode)
	}
	c := &sseClient{events: make(chan sseEvent, 10000), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer resp.Body.Close()
		_ = readSSE(bufio.NewReader(resp.Body), func(ev sseEvent) error {
			ev.Data = bytes.Clone(ev.Data)
			c.events <- ev
			return nil
		})
	}()
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() { c.cancel(); <-c.done }

// seatView keeps what a stream said about each seat.
type seatView struct {
	states    map[string]string
	version   uint64
	snapshots int
	updates   int
	lastID    string
}

func (v *seatView) apply(t testing.TB, ev sseEvent) {
	t.Helper()
	if v.states == nil {
		v.states = map[string]string{}
	}
	v.lastID = ev.ID
	switch ev.Event {
	case "snapshot":
		var s shardapi.SnapshotEvent
		if err := json.Unmarshal(ev.Data, &s); err != nil {
			t.Fatal(err)
		}
		v.snapshots++
		for _, x := range s.Seats {
			v.states[x.ID] = x.State
		}
		v.version = s.Version
	case "seats":
		var s shardapi.SeatsEvent
		if err := json.Unmarshal(ev.Data, &s); err != nil {
			t.Fatal(err)
		}
		v.updates++
		for _, x := range s.Changes {
			v.states[x.ID] = x.State
		}
		v.version = s.Version
	}
}

// waitFor reads events until cond holds or the timeout passes.
func (c *sseClient) waitFor(t testing.TB, v *seatView, timeout time.Duration, what string, cond func(*seatView) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for !cond(v) {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatalf("stream ended while waiting for %s", what)
			}
			v.apply(t, ev)
		case <-c.done:
			// drain what is left
			for {
				select {
				case ev := <-c.events:
					v.apply(t, ev)
					continue
				default:
				}
				break
			}
			if !cond(v) {
				t.Fatalf("stream ended while waiting for %s", what)
			}
			return
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s; view version %d", timeout, what, v.version)
		}
	}
}

func statesAre(state string, ids ...string) func(*seatView) bool {
	return func(v *seatView) bool {
		for _, id := range ids {
			if v.states[id] != state {
				return false
			}
		}
		return true
	}
}

func mustStatus(t testing.TB, r apiResp, want int, what string) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.Status, want, strings.TrimSpace(string(r.Body)))
	}
}
