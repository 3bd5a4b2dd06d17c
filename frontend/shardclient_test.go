package frontend

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// member is a test shard member that answers with answer(r) and records
// the Idempotency-Key of every request it got.
type member struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys []string
}

func newMember(t *testing.T, answer func(w http.ResponseWriter)) *member {
	m := &member{}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		m.mu.Lock()
		m.keys = append(m.keys, r.Header.Get("Idempotency-Key"))
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		answer(w)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *member) seen() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.keys...)
}

func notLeader(leader string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusMisdirectedRequest)
		io.WriteString(w, `{"error":"not_leader","message":"not the leader","seats":[],"leader":"`+leader+`"}`)
	}
}

func created(w http.ResponseWriter) {
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"id":"h1","seats":["stalls/A/1"],"holder":"b","state":"held","expiresAt":"2026-12-01T10:00:00Z","orderId":"","version":1}`)
}

// A follower's 421 sends the call to the leader it names at once, with the
// same Idempotency-Key, and the next call goes to the leader directly.
func TestShardClientFollowsNotLeaderWithTheSameKey(t *testing.T) {
	leader := newMember(t, created)
	follower := newMember(t, notLeader(leader.srv.URL))
	c := newShardClient(follower.srv.URL+","+leader.srv.URL, "tok", 2*time.Second, newMetrics(func() float64 { return 0 }))
	resp, err := c.do(context.Background(), "hold", http.MethodPost, "/v1/holds", []byte(`{"seats":["stalls/A/1"],"holder":"b"}`), "k1")
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("hold: %+v %v", resp, err)
	}
	if f, l := follower.seen(), leader.seen(); len(f) != 1 || f[0] != "k1" || len(l) != 1 || l[0] != "k1" {
		t.Fatalf("keys seen: follower %v, leader %v; want k1 once on each", f, l)
	}
	if _, err := c.do(context.Background(), "hold", http.MethodPost, "/v1/holds", []byte(`{}`), "k2"); err != nil {
		t.Fatal(err)
	}
	if f := follower.seen(); len(f) != 1 {
		t.Fatalf("the second call went to the follower again: %v", f)
	}
}

// A hint naming an address outside --shard-url is not followed (the token
// stays with the configured members): the next member is tried instead.
func TestShardClientIgnoresForeignLeaderHint(t *testing.T) {
	foreign := newMember(t, created)
	other := newMember(t, created)
	follower := newMember(t, notLeader(foreign.srv.URL))
	c := newShardClient(follower.srv.URL+","+other.srv.URL, "tok", 2*time.Second, newMetrics(func() float64 { return 0 }))
	resp, err := c.do(context.Background(), "hold", http.MethodPost, "/v1/holds", []byte(`{}`), "k1")
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("hold: %+v %v", resp, err)
	}
	if len(foreign.seen()) != 0 {
		t.Fatal("the call followed a hint outside --shard-url")
	}
	if o := other.seen(); len(o) != 1 || o[0] != "k1" {
		t.Fatalf("the next member saw %v, want k1", o)
	}
}
