package frontend

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

func TestRealShardHoldConfirmAndIsolation(t *testing.T) {
	sh := startRealShard(t, testSeatMap, "--max-seats-per-holder", "4")
	fe := startFrontend(t, sh.url(), sh.token, nil)
	a, b := newBuyer(t, fe.url), newBuyer(t, fe.url)
	stream := openStream(t, fe.url, "")
	view := &seatView{}

	r := a.hold("stalls/A/1", "stalls/A/2")
	mustStatus(t, r, 201, "hold")
	h := r.hold(t)
	stream.waitFor(t, view, 5*time.Second, "held seats on the stream", statesAre(shardapi.SeatHeld, "stalls/A/1", "stalls/A/2"))

	r = b.hold("stalls/A/2", "stalls/A/3")
	mustStatus(t, r, 409, "overlapping hold")
	if r.errCode() != "seats_unavailable" {
		t.Fatalf("code %q", r.errCode())
	}
	mustStatus(t, a.hold("stalls/B/1", "stalls/B/2", "stalls/B/3"), 422, "over the per-holder limit")

	// Holder isolation: b cannot release, pay or read a's hold.
	mustStatus(t, b.do("DELETE", "/api/holds/"+h.ID, nil, ""), 404, "b releases a's hold")
	mustStatus(t, b.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, ""), 404, "b pays a's hold")
	mustStatus(t, b.do("GET", "/api/holds/"+h.ID, nil, ""), 404, "b reads a's hold")
	var hs shardapi.Hold
	sh.get("/v1/holds/"+h.ID, &hs)
	if hs.State != shardapi.SeatHeld {
		t.Fatalf("a's hold after b's attempts: %+v", hs)
	}

	r = a.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, "pay-1")
	mustStatus(t, r, 200, "pay")
	if got := r.hold(t); got.State != shardapi.SeatSold {
		t.Fatalf("after pay: %s", r.Body)
	}
	stream.waitFor(t, view, 5*time.Second, "sold seats on the stream", statesAre(shardapi.SeatSold, "stalls/A/1", "stalls/A/2"))
	mustStatus(t, a.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, "pay-2"), 200, "pay twice")
	mustStatus(t, a.do("DELETE", "/api/holds/"+h.ID, nil, ""), 409, "release a sold hold")

	r = b.hold("balcony/B/6")
	mustStatus(t, r, 201, "b hold")
	h2 := r.hold(t)
	mustStatus(t, a.do("DELETE", "/api/holds/"+h2.ID, nil, ""), 404, "a releases b's hold")
	mustStatus(t, b.do("DELETE", "/api/holds/"+h2.ID, nil, ""), 200, "b releases own")
	stream.waitFor(t, view, 5*time.Second, "released seat free", statesAre(shardapi.SeatFree, "balcony/B/6"))

	// The pod's copy matches the shard.
	var ss shardSeats
	sh.get("/v1/seats", &ss)
	waitUntil(t, 3*time.Second, "front-end copy equals the shard", func() bool {
		for _, s := range ss.Seats {
			if st, _ := fe.s.hub.stateOf(s.ID); st != s.State {
				return false
			}
		}
		return true
	})
}

// killOnceTransport forwards the first matching request to the shard, then
// SIGKILLs the shard before the answer reaches the front end, as if the
// shard died right after acknowledging. The shard is restarted shortly after.
type killOnceTransport struct {
	next    http.RoundTripper
	match   func(*http.Request) bool
	fired   atomic.Bool
	onFire  func()
	mu      sync.Mutex
	keysFor map[string][]string // path -> idempotency keys seen
}

func (k *killOnceTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	k.mu.Lock()
	k.keysFor[r.Method+" "+r.URL.Path] = append(k.keysFor[r.Method+" "+r.URL.Path], r.Header.Get("Idempotency-Key"))
	k.mu.Unlock()
	resp, err := k.next.RoundTrip(r)
	if err == nil && k.match(r) && k.fired.CompareAndSwap(false, true) {
		resp.Body.Close()
		k.onFire()
		return nil, errors.New("connection reset (answer lost by the test)")
	}
	return resp, err
}

func TestRealShardSIGKILLRetriesWithoutDuplicates(t *testing.T) {
	sh := startRealShard(t, testSeatMap)
	var kt *killOnceTransport
	restarted := make(chan struct{})
	fe := startFrontendHook(t, sh.url(), sh.token, nil, func(s *Server) {
		kt = &killOnceTransport{
			next:    s.shard.hc.Transport,
			keysFor: map[string][]string{},
			// The hold goes in a batch (POST /v2/batch); its answer is lost
			// after the shard acknowledged it.
			match: func(r *http.Request) bool { return r.Method == "POST" && r.URL.Path == shardapi.PathBatch },
			onFire: func() {
				sh.kill()
				go func() {
					time.Sleep(300 * time.Millisecond)
					sh.restart()
					close(restarted)
				}()
			},
		}
		s.shard.hc.Transport = kt
	})
	a := newBuyer(t, fe.url)
	stream := openStream(t, fe.url, "")
	view := &seatView{}
	stream.waitFor(t, view, 5*time.Second, "snapshot", func(v *seatView) bool { return v.snapshots == 1 })

	// 1. The shard commits the batched hold and dies before answering. The
	// front end retries (v1) with the hold's key against the restarted shard
	// and gets the original hold back: one hold, not two.
	r := a.do("POST", "/api/holds", map[string]any{"seats": []string{"stalls/C/1", "stalls/C/2"}}, "buy-1")
	mustStatus(t, r, 201, "hold across SIGKILL")
	h := r.hold(t)
	select {
	case <-restarted:
	case <-time.After(20 * time.Second):
		t.Fatal("the batch carrying the hold was never sent")
	}
	kt.mu.Lock()
	keys := kt.keysFor["POST /v1/holds"]
	kt.mu.Unlock()
	if len(keys) < 1 || keys[0] != keys[len(keys)-1] || keys[0] == "" {
		t.Fatalf("retries did not reuse one idempotency key: %q", keys)
	}
	if held := sh.counts()[shardapi.SeatHeld]; held != 2 {
		t.Fatalf("shard holds %d seats after the retried hold, want 2 (no duplicate)", held)
	}
	var hs shardapi.Hold
	sh.get("/v1/holds/"+h.ID, &hs)
	if hs.State != shardapi.SeatHeld || hs.Holder == "" {
		t.Fatalf("hold after restart: %+v", hs)
	}
	// The browser repeating the same action (same key) gets the same hold.
	r = a.do("POST", "/api/holds", map[string]any{"seats": []string{"stalls/C/1", "stalls/C/2"}}, "buy-1")
	mustStatus(t, r, 201, "browser retry")
	if r.hold(t).ID != h.ID {
		t.Fatalf("browser retry made hold %s, want %s", r.hold(t).ID, h.ID)
	}

	// 2. The shard is down when the buyer pays; it comes back within the
	// retry budget and the buyer only sees a short wait.
	sh.kill()
	go func() {
		time.Sleep(700 * time.Millisecond)
		sh.restart()
	}()
	start := time.Now()
	r = a.do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, "pay-1")
	mustStatus(t, r, 200, "pay while the shard restarts")
	if r.hold(t).State != shardapi.SeatSold {
		t.Fatalf("after pay: %s", r.Body)
	}
	t.Logf("pay through a shard restart took %v", time.Since(start).Round(time.Millisecond))
	if c := sh.counts(); c[shardapi.SeatSold] != 2 || c[shardapi.SeatHeld] != 0 {
		t.Fatalf("after pay: counts %v", c)
	}
	// The browser stream saw all of it.
	stream.waitFor(t, view, 10*time.Second, "sold on the stream", statesAre(shardapi.SeatSold, "stalls/C/1", "stalls/C/2"))
}

func TestRealShardStreamResumesAcrossRestart(t *testing.T) {
	sh := startRealShard(t, testSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)
	a := newBuyer(t, fe.url)
	stream := openStream(t, fe.url, "")
	view := &seatView{}
	stream.waitFor(t, view, 5*time.Second, "snapshot", func(v *seatView) bool { return v.snapshots == 1 })
	mustStatus(t, a.hold("stalls/D/1"), 201, "hold before restart")
	stream.waitFor(t, view, 5*time.Second, "D1 held", statesAre(shardapi.SeatHeld, "stalls/D/1"))
	before := view.lastID

	for round := 0; round < 2; round++ {
		sh.kill()
		time.Sleep(200 * time.Millisecond)
		sh.restart()
		// Another pod (here: the test, directly) writes right after the
		// restart, possibly before this pod's stream is back.
		seat := []string{"stalls/D/2", "stalls/D/3"}[round]
		if c := sh.post("/v1/holds", map[string]any{"seats": []string{seat}, "holder": "other-pod-buyer"}); c != 201 {
			t.Fatalf("direct hold: %d", c)
		}
		stream.waitFor(t, view, 10*time.Second, "direct hold after restart", statesAre(shardapi.SeatHeld, seat))
	}
	mustStatus(t, a.hold("stalls/D/4"), 201, "hold after restarts")
	stream.waitFor(t, view, 5*time.Second, "D4 held", statesAre(shardapi.SeatHeld, "stalls/D/1", "stalls/D/2", "stalls/D/3", "stalls/D/4"))
	if view.snapshots != 1 {
		t.Fatalf("browser got %d snapshots; shard restarts must not reach browsers", view.snapshots)
	}
	// The pod's copy equals the shard's.
	var ss shardSeats
	sh.get("/v1/seats", &ss)
	for _, s := range ss.Seats {
		if view.states[s.ID] != s.State {
			t.Errorf("browser view %s=%s, shard %s", s.ID, view.states[s.ID], s.State)
		}
	}
	// A browser that was away since before the restarts resumes from the pod.
	s2 := openStream(t, fe.url, before)
	v2 := &seatView{states: map[string]string{}}
	s2.waitFor(t, v2, 5*time.Second, "missed changes", statesAre(shardapi.SeatHeld, "stalls/D/2", "stalls/D/3", "stalls/D/4"))
	if v2.snapshots != 0 {
		t.Fatalf("resumed browser got a snapshot")
	}
}

// Concurrent buyers' holds and releases reach the shard in batches, and
// each buyer gets its own answer: per contended seat one hold and one
// conflict, each hold its buyer's (the other buyer cannot see it), each
// buyer's key its own.
func TestRealShardConcurrentBuyersShareBatches(t *testing.T) {
	sh := startRealShard(t, testSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)
	const seats = 16
	buyers := make([]*buyer, 2*seats)
	for i := range buyers {
		buyers[i] = newBuyer(t, fe.url)
	}
	seatOf := func(i int) string { return fmt.Sprintf("stalls/%c/%d", 'A'+(i%seats)/10, 1+(i%seats)%10) }
	answers := make([]apiResp, len(buyers))
	var wg sync.WaitGroup
	for i, b := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = b.do("POST", "/api/holds", map[string]any{"seats": []string{seatOf(i)}}, "same-key-for-all")
		}()
	}
	wg.Wait()
	won := map[string]int{}
	for i, a := range answers {
		switch a.Status {
		case 201:
			h := a.hold(t)
			if h.Seats[0] != seatOf(i) {
				t.Fatalf("buyer %d asked for %s and got hold %s", i, seatOf(i), a.Body)
			}
			if prev, dup := won[seatOf(i)]; dup {
				t.Fatalf("buyers %d and %d both hold %s", prev, i, seatOf(i))
			}
			won[seatOf(i)] = i
		case 409:
			if a.errCode() != "seats_unavailable" {
				t.Fatalf("buyer %d: %d %s", i, a.Status, a.Body)
			}
		default:
			t.Fatalf("buyer %d: %d %s", i, a.Status, a.Body)
		}
	}
	if len(won) != seats {
		t.Fatalf("%d of %d contended seats held", len(won), seats)
	}
	// Each hold is its buyer's: the rival reads 404, the owner releases it
	// (reads and releases are batched too), concurrently.
	for seat, i := range won {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := answers[i].hold(t).ID
			rival := buyers[(i+seats)%len(buyers)]
			if a := rival.do("GET", "/api/holds/"+id, nil, ""); a.Status != 404 {
				t.Errorf("the rival read %s's hold %s: %d", seat, id, a.Status)
			}
			if a := buyers[i].do("DELETE", "/api/holds/"+id, nil, ""); a.Status != 200 || a.hold(t).State != shardapi.HoldReleased {
				t.Errorf("release of %s: %d %s", id, a.Status, a.Body)
			}
		}()
	}
	wg.Wait()
	if c := sh.counts(); c[shardapi.SeatHeld] != 0 || c[shardapi.SeatFree] != 52 {
		t.Fatalf("counts after the releases: %v", c)
	}
	// They went through POST /v2/batch: the shard counted every hold and
	// release, and every read, in its batches.
	ops := metricValue(t, sh, "boxoffice_shard_batch_operations_sum")
	if want := float64(len(buyers) + 3*seats); ops < want {
		t.Fatalf("the shard saw %v batched operations, want at least %v", ops, want)
	}
}

// metricValue reads one unlabelled sample from the shard's /metrics.
func metricValue(t *testing.T, sh *realShard, name string) float64 {
	t.Helper()
	resp, err := http.Get(sh.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the shard's metrics", name)
	return 0
}
