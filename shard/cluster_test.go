package shard_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/testproc"
	"github.com/anishathalye/porcupine"
)

// A three-member cluster of real processes on loopback.
type cluster struct {
	t        *testing.T
	mapFile  string
	tokFile  string
	peerTok  string
	api      [4]string // 127.0.0.1:port by member id
	peer     [4]string
	dataDir  [4]string
	procs    [4]*proc
	extra    []string
	deadline time.Time
}

func freeAddr(t *testing.T) string {
	addr, err := testproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func newCluster(t *testing.T, extra ...string) *cluster {
	c := &cluster{t: t, extra: extra}
	c.mapFile, c.tokFile = writeFiles(t)
	c.peerTok = filepath.Join(t.TempDir(), "peer-token")
	os.WriteFile(c.peerTok, []byte("peer-secret\n"), 0o600)
	for i := 1; i <= 3; i++ {
		c.api[i], c.peer[i] = freeAddr(t), freeAddr(t)
		c.dataDir[i] = filepath.Join(t.TempDir(), fmt.Sprintf("member-%d", i))
	}
	for i := 1; i <= 3; i++ {
		c.start(i)
	}
	return c
}

func (c *cluster) peers() string {
	var p []string
	for i := 1; i <= 3; i++ {
		p = append(p, fmt.Sprintf("%d=http://%s", i, c.peer[i]))
	}
	return strings.Join(p, ",")
}

func (c *cluster) start(i int) {
	args := append([]string{"--listen", c.api[i], "--id", strconv.Itoa(i), "--peers", c.peers(),
		"--peer-listen", c.peer[i], "--advertise-url", "http://" + c.api[i], "--peer-token-file", c.peerTok,
		"--showtime", "venues/cluster"}, c.extra...)
	p := launch(c.t, c.dataDir[i], c.mapFile, c.tokFile, args...)
	select {
	case <-p.Done():
		c.t.Fatalf("member %d exited at start: %v\n%s", i, p.Err(), p.logs())
	default:
	}
	c.procs[i] = p
}

func (c *cluster) alive(i int) bool {
	p := c.procs[i]
	if p == nil {
		return false
	}
	select {
	case <-p.Done():
		return false
	default:
		return true
	}
}

// status reads a member's /v1/status (nil if it does not answer).
func (c *cluster) status(i int) map[string]any {
	if !c.alive(i) {
		return nil
	}
	code, m, err := c.procs[i].callTimeout("GET", "/v1/status", "", nil, time.Second)
	if err != nil || code != 200 {
		return nil
	}
	return m
}

// leader waits for a ready leader and returns its id.
func (c *cluster) leader() int {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for i := 1; i <= 3; i++ {
			if st := c.status(i); st != nil && st["role"] == "leader" {
				resp, err := http.Get("http://" + c.api[i] + "/readyz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						return i
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no ready leader within 15s\n%s", c.allLogs())
	return 0
}

func (c *cluster) allLogs() string {
	var b strings.Builder
	for i := 1; i <= 3; i++ {
		if c.procs[i] != nil {
			l := c.procs[i].logs()
			if len(l) > 6000 {
				l = l[len(l)-6000:]
			}
			fmt.Fprintf(&b, "--- member %d ---\n%s", i, l)
		}
	}
	return b.String()
}

func (c *cluster) allFullLogs() string {
	var b strings.Builder
	for i := 1; i <= 3; i++ {
		if c.procs[i] != nil {
			fmt.Fprintf(&b, "--- member %d ---\n%s", i, c.procs[i].logs())
		}
	}
	return b.String()
}

func (c *cluster) waitReady(i int) {
	c.t.Helper()
	p := c.procs[i]
	err := testproc.Poll{Exited: p.Done()}.WaitHTTPFor("http://"+c.api[i]+"/readyz", http.StatusOK, 20*time.Second)
	if errors.Is(err, testproc.ErrExited) {
		c.t.Fatalf("member %d exited: %v\n%s", i, p.Err(), p.logs())
	}
	if err != nil {
		c.t.Fatalf("member %d not ready within 20s: %v\n%s", i, err, c.allLogs())
	}
}

// converge waits until every member shows the same version and seats.
func (c *cluster) converge() {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last []string
	for time.Now().Before(deadline) {
		last = last[:0]
		for i := 1; i <= 3; i++ {
			code, m, err := c.procs[i].callTimeout("GET", "/v1/seats", "", nil, 2*time.Second)
			if err != nil || code != 200 {
				last = append(last, fmt.Sprintf("member %d: %d %v", i, code, err))
				continue
			}
			b, _ := json.Marshal([]any{m["version"], m["seats"]})
			last = append(last, string(b))
		}
		if last[0] == last[1] && last[1] == last[2] && !strings.HasPrefix(last[0], "member") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range last {
		if len(last[i]) > 200 {
			last[i] = last[i][:200]
		}
	}
	c.t.Fatalf("members did not converge within 15s: %q", last)
}

// do sends a request to the member believed to lead, follows 421, and
// retries (with the same Idempotency-Key) on 503 and transport errors until
// a definite answer or the budget runs out (ok false: outcome unknown).
func (c *cluster) do(guess *atomic.Int32, method, path, body, key string, budget time.Duration) (int, map[string]any, bool) {
	deadline := time.Now().Add(budget)
	hdr := map[string]string{}
	if key != "" {
		hdr["Idempotency-Key"] = key
	}
	for time.Now().Before(deadline) {
		i := int(guess.Load())
		if i < 1 || i > 3 || !c.alive(i) {
			guess.Store(int32(rand.IntN(3) + 1))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		code, m, err := c.procs[i].callTimeout(method, path, body, hdr, 2*time.Second)
		switch {
		case err != nil || code == 503:
			guess.Store(int32(i%3 + 1))
			time.Sleep(20 * time.Millisecond)
		case code == 421:
			next := 0
			if l, _ := m["leader"].(string); l != "" {
				for j := 1; j <= 3; j++ {
					if l == "http://"+c.api[j] {
						next = j
					}
				}
			}
			if next == 0 {
				next = i%3 + 1
				time.Sleep(20 * time.Millisecond)
			}
			guess.Store(int32(next))
		default:
			return code, m, true
		}
	}
	return 0, nil, false
}

// Per-seat projection of client operations, for porcupine.
const (
	cAcquire  = iota // hold 201: free -> held by h
	cBusy            // hold 409 listing the seat
	cFree            // hold 409 not listing the seat
	cRelease         // release 200
	cConfirm         // confirm 200
	cGone            // confirm 409 hold_expired, or read: released/expired
	cReadHeld        // read: hold h is held
	cReadSold        // read: hold h is sold
)

type cObs struct {
	kind int
	hold string
}

type cSeat struct {
	owner string
	st    string
}

var clusterSeatModel = porcupine.Model{
	Init: func() any { return cSeat{st: "free"} },
	Step: func(state, input, _ any) (bool, any) {
		s, o := state.(cSeat), input.(cObs)
		switch o.kind {
		case cAcquire:
			return s.st == "free", cSeat{owner: o.hold, st: "held"}
		case cBusy:
			return s.st != "free", s
		case cFree:
			return s.st == "free", s
		case cRelease:
			if s.owner == o.hold && s.st == "held" {
				return true, cSeat{st: "free"}
			}
			return !(s.owner == o.hold && s.st == "sold"), s
		case cConfirm:
			if s.owner == o.hold && (s.st == "held" || s.st == "sold") {
				return true, cSeat{owner: o.hold, st: "sold"}
			}
			return false, s
		case cGone:
			return !(s.owner == o.hold && s.st != "free"), s
		case cReadHeld:
			return s.owner == o.hold && s.st == "held", s
		case cReadSold:
			return s.owner == o.hold && s.st == "sold", s
		}
		return false, s
	},
	DescribeOperation: func(in, _ any) string { return fmt.Sprintf("%+v", in) },
}

type cHold struct {
	id    string
	seats []string
	state string // acknowledged: held, sold, released
}

// history is what the clients did and know.
type history struct {
	mu       sync.Mutex
	t0       time.Time
	perSeat  map[string][]porcupine.Operation
	holds    map[string]*cHold
	unknown  int
	acked    atomic.Int64
	confirms atomic.Int64
}

func (h *history) stamp() int64 { return int64(time.Since(h.t0)) }

func (h *history) record(client int, call, ret int64, seats []string, o cObs) {
	for _, s := range seats {
		h.perSeat[s] = append(h.perSeat[s], porcupine.Operation{ClientId: client, Input: o, Call: call, Return: ret})
	}
}

// loadClient runs operations until stop is closed; pause blocks it.
func (c *cluster) loadClient(id int, h *history, stop chan struct{}, pause *sync.RWMutex) {
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	guess := &atomic.Int32{}
	seats := func() []string {
		var out []string
		for len(out) < 1+rng.IntN(2) {
			s := fmt.Sprintf("stalls/%c/%d", 'A'+rng.IntN(3), 1+rng.IntN(5))
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	var mine []*cHold
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		pause.RLock()
		k := rng.IntN(10)
		var live []*cHold
		for _, hd := range mine {
			if hd.state == "held" {
				live = append(live, hd)
			}
		}
		call := h.stamp()
		switch {
		case k < 5 || len(live) == 0:
			want := seats()
			body, _ := json.Marshal(map[string]any{"seats": want, "holder": fmt.Sprintf("c%d-%d", id, n)})
			code, m, ok := c.do(guess, "POST", "/v1/holds", string(body), fmt.Sprintf("k-%d-%d-%d", id, n, rng.Uint64()), 25*time.Second)
			ret := h.stamp()
			h.mu.Lock()
			switch {
			case !ok:
				h.unknown++
				c.t.Errorf("client %d: a hold had no definite answer within 25s", id)
			case code == 201:
				hd := &cHold{id: m["id"].(string), seats: want, state: "held"}
				mine = append(mine, hd)
				h.holds[hd.id] = hd
				h.record(id, call, ret, want, cObs{kind: cAcquire, hold: hd.id})
				h.acked.Add(1)
			case code == 409:
				h.acked.Add(1)
				var busy []string
				for _, b := range m["seats"].([]any) {
					busy = append(busy, b.(string))
				}
				for _, s := range want {
					kind := cFree
					if slices.Contains(busy, s) {
						kind = cBusy
					}
					h.record(id, call, ret, []string{s}, cObs{kind: kind})
				}
			case code == 422 && m["error"] == "too_many_seats":
			default:
				c.t.Errorf("hold: %d %v", code, m)
			}
			h.mu.Unlock()
		case k < 8:
			hd := live[rng.IntN(len(live))]
			code, m, ok := c.do(guess, "DELETE", "/v1/holds/"+hd.id, "", "", 25*time.Second)
			ret := h.stamp()
			h.mu.Lock()
			switch {
			case !ok:
				h.unknown++
				c.t.Errorf("client %d: a release had no definite answer within 25s", id)
			case code == 200:
				hd.state = "released"
				h.record(id, call, ret, hd.seats, cObs{kind: cRelease, hold: hd.id})
				h.acked.Add(1)
			default:
				c.t.Errorf("release %s: %d %v", hd.id, code, m)
			}
			h.mu.Unlock()
		case k == 8 && h.confirms.Add(1) <= 4: // a few sales: sold seats stay sold
			hd := live[rng.IntN(len(live))]
			code, m, ok := c.do(guess, "POST", "/v1/holds/"+hd.id+"/confirm", `{"orderId":"o-`+hd.id+`"}`, "c-"+hd.id, 25*time.Second)
			ret := h.stamp()
			h.mu.Lock()
			switch {
			case !ok:
				h.unknown++
				c.t.Errorf("client %d: a confirm had no definite answer within 25s", id)
			case code == 200:
				hd.state = "sold"
				h.record(id, call, ret, hd.seats, cObs{kind: cConfirm, hold: hd.id})
				h.acked.Add(1)
			default:
				c.t.Errorf("confirm %s: %d %v", hd.id, code, m)
			}
			h.mu.Unlock()
		default:
			hd := mine[rng.IntN(len(mine))]
			code, m, ok := c.do(guess, "GET", "/v1/holds/"+hd.id, "", "", 25*time.Second)
			ret := h.stamp()
			h.mu.Lock()
			if ok && code == 200 {
				kind := cGone
				switch m["state"] {
				case "held":
					kind = cReadHeld
				case "sold":
					kind = cReadSold
				}
				h.record(id, call, ret, hd.seats, cObs{kind: kind, hold: hd.id})
			} else if ok {
				c.t.Errorf("get %s: %d %v", hd.id, code, m)
			}
			h.mu.Unlock()
		}
		pause.RUnlock()
	}
}

// verify checks, with the load paused: every acknowledged write is there on
// the leader, no seat is in two live holds, and all members converge.
func (c *cluster) verify(h *history, phase string) {
	c.t.Helper()
	l := c.leader()
	guess := &atomic.Int32{}
	guess.Store(int32(l))
	h.mu.Lock()
	defer h.mu.Unlock()
	owner := map[string]string{}
	for id, hd := range h.holds {
		code, m, ok := c.do(guess, "GET", "/v1/holds/"+id, "", "", 10*time.Second)
		if !ok || code != 200 {
			c.t.Fatalf("%s: acknowledged hold %s: %d %v", phase, id, code, m)
		}
		if m["state"] != hd.state {
			c.t.Fatalf("%s: hold %s acknowledged %s, the cluster says %v", phase, id, hd.state, m["state"])
		}
		if hd.state == "held" || hd.state == "sold" {
			for _, s := range hd.seats {
				if prev, dup := owner[s]; dup {
					c.t.Fatalf("%s: seat %s in live holds %s and %s", phase, s, prev, id)
				}
				owner[s] = id
			}
		}
	}
	c.converge()
	c.t.Logf("%s: %d holds verified, members converged", phase, len(h.holds))
}

func (h *history) checkLinearizable(t *testing.T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ops := 0
	for seat, hist := range h.perSeat {
		ops += len(hist)
		res := porcupine.CheckOperationsTimeout(clusterSeatModel, hist, 30*time.Second)
		if res != porcupine.Ok {
			t.Fatalf("seat %s: the history of %d operations is not linearizable (%v)", seat, len(hist), res)
		}
	}
	t.Logf("linearizable: %d per-seat operations over %d seats", ops, len(h.perSeat))
}

func (c *cluster) kill(i int)                     { c.procs[i].kill() }
func (c *cluster) signal(i int, s syscall.Signal) { c.procs[i].Signal(s) }

// TestClusterFaults runs three real members under booking load through
// leader SIGKILLs, a paused leader, SIGTERM hand-over, a member restarted
// with an empty data directory, a lost majority and a whole-cluster SIGKILL;
// after each: no acknowledged write lost, no seat in two live holds, all
// members converge; at the end the clients' history is checked for
// linearizability with porcupine.
func TestClusterFaults(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("process-level cluster faults: skipped with -short and -race (about a minute)")
	}
	c := newCluster(t)
	c.leader()
	h := &history{t0: time.Now(), perSeat: map[string][]porcupine.Operation{}, holds: map[string]*cHold{}}
	stop := make(chan struct{})
	var pause sync.RWMutex
	var wg sync.WaitGroup
	for id := 0; id < 4; id++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.loadClient(id, h, stop, &pause) }()
	}
	defer func() { close(stop); wg.Wait() }()
	settle := func(phase string) {
		pause.Lock()
		defer pause.Unlock()
		c.verify(h, phase)
	}
	waitAcks := func(n int64) {
		target := h.acked.Load() + n
		deadline := time.Now().Add(20 * time.Second)
		for h.acked.Load() < target && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if h.acked.Load() < target {
			for i := 1; i <= 3; i++ {
				t.Logf("member %d status: %v", i, c.status(i))
			}
			for i := 1; i <= 3; i++ {
				if c.alive(i) {
					c.signal(i, syscall.SIGQUIT)
				}
			}
			time.Sleep(time.Second)
			os.WriteFile("/tmp/cluster-dump.txt", []byte(c.allFullLogs()), 0o644)
			t.Fatalf("writes are not acknowledged any more\n%s", c.allLogs())
		}
	}

	// Leader SIGKILL, 10 times; the killed member comes back on its data.
	for round := 1; round <= 10; round++ {
		waitAcks(20)
		l := c.leader()
		t0 := time.Now()
		before := h.acked.Load()
		c.kill(l)
		for h.acked.Load() == before && time.Since(t0) < 20*time.Second {
			time.Sleep(time.Millisecond)
		}
		t.Logf("kill %d: leader %d SIGKILLed; next acknowledged write after %v", round, l, time.Since(t0).Round(time.Millisecond))
		c.start(l)
		c.waitReady(l)
	}
	settle("after 10 leader SIGKILLs")

	// A paused leader: another member takes over; the old one, resumed,
	// must not acknowledge anything stale.
	waitAcks(20)
	l := c.leader()
	c.signal(l, syscall.SIGSTOP)
	time.Sleep(2 * time.Second)
	c.signal(l, syscall.SIGCONT)
	waitAcks(20)
	settle("after SIGSTOP/SIGCONT of the leader")

	// SIGTERM on the leader hands leadership over, then exits 0.
	l = c.leader()
	c.signal(l, syscall.SIGTERM)
	select {
	case <-c.procs[l].Done():
	case <-time.After(30 * time.Second):
		t.Fatal("SIGTERM: the leader did not exit within 30s")
	}
	if c.procs[l].Err() != nil {
		t.Fatalf("SIGTERM: exit %v\n%s", c.procs[l].Err(), c.procs[l].logs())
	}
	if !strings.Contains(c.procs[l].logs(), "leadership handed over") {
		t.Fatalf("SIGTERM: no hand-over in the log\n%s", c.procs[l].logs())
	}
	waitAcks(20)
	c.start(l)
	c.waitReady(l)
	settle("after SIGTERM hand-over")

	// A follower loses its data directory: it comes back under a new raft
	// id that replaces its old one, and catches up.
	l = c.leader()
	f := l%3 + 1
	c.kill(f)
	os.RemoveAll(c.dataDir[f])
	waitAcks(20)
	c.start(f)
	c.waitReady(f)
	st := c.status(f)
	if st == nil || st["raftID"] == float64(f) {
		t.Fatalf("empty data directory: the member rejoined with its old raft id: %v", st)
	}
	waitAcks(20)
	settle("after a member restarted with an empty data directory")

	// A lost majority: no write is acknowledged.
	pause.Lock()
	l = c.leader()
	a, b := l%3+1, (l+1)%3+1
	c.kill(a)
	c.kill(b)
	for n := 0; n < 20; n++ {
		code, m, _ := c.procs[l].callTimeout("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/J/%d"],"holder":"lost-%d"}`, n+1, n), nil, 2*time.Second)
		if code/100 == 2 {
			t.Fatalf("lost majority: a write was acknowledged: %d %v", code, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.start(a)
	c.start(b)
	pause.Unlock()
	waitAcks(20)
	settle("after a lost majority")

	// Whole-cluster SIGKILL.
	for i := 1; i <= 3; i++ {
		c.kill(i)
	}
	for i := 1; i <= 3; i++ {
		c.start(i)
	}
	waitAcks(20)
	settle("after a whole-cluster SIGKILL")

	close(stop)
	wg.Wait()
	stop = make(chan struct{})
	h.checkLinearizable(t)
}
