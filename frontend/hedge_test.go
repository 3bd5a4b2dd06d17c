package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// fakeCluster is three test members: the first leads in term 1 until a
// write reaches it, and from then on stops answering anything (its node
// was cut off) while the second leads in term 2. Every member records the
// Idempotency-Keys of the writes it got (a batch's by operation).
type fakeCluster struct {
	old, next, third *member
	elected          atomic.Bool
	stop             chan struct{}
}

func newFakeCluster(t *testing.T) *fakeCluster {
	f := &fakeCluster{stop: make(chan struct{}), old: &member{}, next: &member{}, third: &member{}}
	f.old.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			f.old.record(r)
			f.elected.Store(true)
		}
		if f.elected.Load() {
			select { // accepted, never answered
			case <-r.Context().Done():
			case <-f.stop:
			}
			return
		}
		f.status(w, f.old.srv.URL, 1, shardapi.RoleLeader, f.old.srv.URL)
	}))
	f.next.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.elected.Load() {
			f.follower(w, r, f.next, 1, f.old.srv.URL)
			return
		}
		if r.Method == http.MethodGet {
			f.status(w, f.next.srv.URL, 2, shardapi.RoleLeader, f.next.srv.URL)
			return
		}
		n := f.next.record(r)
		if r.URL.Path == shardapi.PathBatch {
			answerBatch(w, n)
			return
		}
		created(w)
	}))
	f.third.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.elected.Load() {
			f.follower(w, r, f.third, 2, f.next.srv.URL)
		} else {
			f.follower(w, r, f.third, 1, f.old.srv.URL)
		}
	}))
	for _, m := range []*member{f.old, f.next, f.third} {
		t.Cleanup(m.srv.Close)
	}
	t.Cleanup(func() { close(f.stop) }) // runs first: frees the hung handlers
	return f
}

func (f *fakeCluster) urls() string {
	return f.old.srv.URL + "," + f.next.srv.URL + "," + f.third.srv.URL
}

func (f *fakeCluster) status(w http.ResponseWriter, self string, term int64, role, leader string) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(shardapi.Status{Showtime: "ns/show", Term: term, Role: role, Leader: leader, Ready: true})
}

func (f *fakeCluster) follower(w http.ResponseWriter, r *http.Request, m *member, term int64, leader string) {
	if r.Method == http.MethodGet {
		f.status(w, m.srv.URL, term, shardapi.RoleFollower, leader)
		return
	}
	m.record(r)
	w.Header().Set("Content-Type", "application/json")
	notLeader(leader)(w)
}

// record notes a write's key: the header's, or each batch operation's; it
// returns how many it noted.
func (m *member) record(r *http.Request) int {
	var keys []string
	if r.URL.Path == shardapi.PathBatch {
		var req shardapi.BatchRequest
		json.NewDecoder(r.Body).Decode(&req)
		for _, op := range req.Ops {
			keys = append(keys, "batch:"+op.IdempotencyKey)
		}
	} else {
		io.Copy(io.Discard, r.Body)
		keys = append(keys, r.Header.Get("Idempotency-Key"))
	}
	m.mu.Lock()
	m.keys = append(m.keys, keys...)
	m.mu.Unlock()
	return len(keys)
}

// answerBatch answers a batch of n holds, each created.
func answerBatch(w http.ResponseWriter, n int) {
	var out shardapi.BatchResponse
	for range n {
		out.Results = append(out.Results, shardapi.BatchResult{Status: http.StatusCreated, Body: json.RawMessage(`{"id":"h1","seats":["stalls/A/1"],"holder":"b","state":"held","expiresAt":"2026-12-01T10:00:00Z","orderId":"","version":1}`)})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// The believed leader accepts a write and never answers (cut off), and
// another member becomes leader in a newer term: the write moves there with
// the same key, once, by a hedged try, instead of waiting out the per-try
// timeout.
func TestShardClientWriteMovesOffASilentLeader(t *testing.T) {
	f := newFakeCluster(t)
	c := newShardClient(f.urls(), "tok", 30*time.Second, newMetrics(func() float64 { return 0 }))
	c.attempt = 20 * time.Second // the path below must not be a timeout
	resp, err := c.do(context.Background(), "hold", http.MethodPost, "/v1/holds", []byte(`{"seats":["stalls/A/1"],"holder":"b"}`), "k1")
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("hold: %+v %v", resp, err)
	}
	if o, n, th := f.old.seen(), f.next.seen(), f.third.seen(); fmt.Sprint(o, n, th) != "[k1] [k1] []" {
		t.Fatalf("writes seen: old leader %q, new leader %q, third %q; want k1 once on the old and the new leader", o, n, th)
	}
	if h := testutil.ToFloat64(c.m.upstreamHedges.WithLabelValues("hold")); h != 1 {
		t.Fatalf("hedged tries: %v, want 1 (the write moved by a retry after a timeout, not by asking who leads)", h)
	}
	if r := testutil.ToFloat64(c.m.upstreamRetries.WithLabelValues("hold")); r != 0 {
		t.Fatalf("retries: %v, want 0", r)
	}
	if a := testutil.ToFloat64(c.m.upstreamLeaderAsks); a < 1 {
		t.Fatalf("status asks: %v", a)
	}
	if c.members.leader() != f.next.srv.URL {
		t.Fatalf("believed leader %s, want the new one", c.members.leader())
	}
}

// The same for a batch: the batch hung on the old leader is sent again to
// the new one, each operation with its own key, and no operation falls back
// to a v1 retry.
func TestShardClientBatchMovesOffASilentLeader(t *testing.T) {
	f := newFakeCluster(t)
	c := newShardClient(f.urls(), "tok", 30*time.Second, newMetrics(func() float64 { return 0 }))
	c.attempt = 20 * time.Second
	c.enableBatch(8)
	op := shardapi.BatchOp{Op: "hold", IdempotencyKey: "k1", Seats: []string{"stalls/A/1"}, Holder: "b"}
	resp, err := c.write(context.Background(), "hold", op, http.MethodPost, "/v1/holds", []byte(`{}`), "k1")
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("hold: %+v %v", resp, err)
	}
	if o, n := f.old.seen(), f.next.seen(); fmt.Sprint(o, n) != "[batch:k1] [batch:k1]" {
		t.Fatalf("writes seen: old leader %q, new leader %q; want the batch with k1 once on each", o, n)
	}
	if h := testutil.ToFloat64(c.m.upstreamHedges.WithLabelValues("batch")); h != 1 {
		t.Fatalf("hedged batches: %v, want 1", h)
	}
	if r := testutil.ToFloat64(c.m.upstreamRetries.WithLabelValues("hold")); r != 0 {
		t.Fatalf("v1 fallbacks: %v, want 0", r)
	}
}

// The believed leader is slow, not gone: the other members still follow it
// in its term, so the try is not moved and its own answer is kept.
func TestShardClientSlowLeaderIsNotHedged(t *testing.T) {
	release := make(chan struct{})
	var asked atomic.Int32
	lead := &member{}
	lead.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lead.record(r)
		<-release
		created(w)
	}))
	t.Cleanup(lead.srv.Close)
	f := &fakeCluster{}
	follower := newMember(t, func(w http.ResponseWriter) {
		if asked.Add(1) == 2 { // the second round of asks: let the leader answer
			close(release)
		}
		f.status(w, "", 3, shardapi.RoleFollower, lead.srv.URL)
	})
	c := newShardClient(lead.srv.URL+","+follower.srv.URL, "tok", 30*time.Second, newMetrics(func() float64 { return 0 }))
	c.hedge = 50 * time.Millisecond
	resp, err := c.do(context.Background(), "hold", http.MethodPost, "/v1/holds", []byte(`{}`), "k1")
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("hold: %+v %v", resp, err)
	}
	if h := testutil.ToFloat64(c.m.upstreamHedges.WithLabelValues("hold")); h != 0 {
		t.Fatalf("hedged tries: %v, want 0", h)
	}
	if l := lead.seen(); len(l) != 1 || len(follower.seen()) != 2 {
		t.Fatalf("leader saw %q; follower %d status asks", l, len(follower.seen()))
	}
}

// A member whose address does not accept is skipped for a moment: a
// follower that still names it as leader is not followed back to it, and
// the call reaches the live leader asking the follower once.
func TestShardClientSkipsAMemberThatFailedToDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	leader := newMember(t, created)
	follower := newMember(t, notLeader(dead))
	c := newShardClient(strings.Join([]string{dead, follower.srv.URL, leader.srv.URL}, ","), "tok", 10*time.Second, newMetrics(func() float64 { return 0 }))
	resp, err := c.do(context.Background(), "hold", http.MethodPost, "/v1/holds", []byte(`{}`), "k1")
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("hold: %+v %v", resp, err)
	}
	if f, l := follower.seen(), leader.seen(); len(f) != 1 || len(l) != 1 || l[0] != "k1" {
		t.Fatalf("follower saw %q, leader %q; want k1 once each (the dead member followed again?)", f, l)
	}
}

func TestPickNewerLeader(t *testing.T) {
	st := func(term int64, role, leader string) shardapi.Status {
		return shardapi.Status{Term: term, Role: role, Leader: leader}
	}
	for _, tc := range []struct {
		name    string
		answers map[string]shardapi.Status
		want    string
	}{
		{"none answered", nil, ""},
		{"still following the silent one", map[string]shardapi.Status{"b": st(1, "follower", "a"), "c": st(1, "follower", "a")}, ""},
		{"electing", map[string]shardapi.Status{"b": st(2, "candidate", ""), "c": st(1, "follower", "a")}, ""},
		{"new leader", map[string]shardapi.Status{"b": st(2, "leader", "b"), "c": st(1, "follower", "a")}, "b"},
		{"stale leader claim", map[string]shardapi.Status{"b": st(1, "leader", "b"), "c": st(2, "follower", "a")}, ""},
		{"named with a slash", map[string]shardapi.Status{"b": st(2, "leader", "b"), "c": st(2, "follower", "a/")}, ""},
	} {
		if got := pickNewerLeader("a", tc.answers); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
