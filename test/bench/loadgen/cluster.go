package main

import (
	"context"
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
	"time"

	"boxoffice.dev/boxoffice/internal/testproc"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// shardCluster is three shard members (contract v2) started by us.
type shardCluster struct {
	members []*shardProc
}

// startCluster starts n members on loopback in a new directory under workdir.
func (s *spawnFlags) startCluster(ctx context.Context, name string, seats, n int) (*shardCluster, error) {
	first, err := s.start(ctx, name+"-m1", seats)
	if err != nil {
		return nil, err
	}
	// start() launched member 1 as a single shard: stop it, it is rebuilt
	// below with the cluster flags on a fresh data directory.
	first.kill()
	os.RemoveAll(first.dataDir)
	dir := filepath.Dir(first.seatMap)
	peerTok := filepath.Join(dir, "peer-token")
	if err := os.WriteFile(peerTok, []byte("peer-"+strconv.FormatInt(time.Now().UnixNano(), 36)+"\n"), 0o600); err != nil {
		return nil, err
	}
	c := &shardCluster{}
	var peers []string
	peerAddr := make([]string, n)
	for i := range n {
		addr, err := testproc.FreeAddr()
		if err != nil {
			return nil, err
		}
		peerAddr[i] = addr
		peers = append(peers, fmt.Sprintf("%d=http://%s", i+1, peerAddr[i]))
	}
	for i := range n {
		p := *first
		p.pprofAddr = "" // a port of its own, chosen when it is launched
		p.dataDir = filepath.Join(dir, fmt.Sprintf("data-%d", i+1))
		p.logPath = filepath.Join(dir, fmt.Sprintf("member-%d.log", i+1))
		if i > 0 {
			addr, err := testproc.FreeAddr()
			if err != nil {
				return nil, err
			}
			p.listen = addr
			p.url = "http://" + p.listen
		}
		p.extra = []string{"--id", strconv.Itoa(i + 1), "--peers", strings.Join(peers, ","), "--peer-listen", peerAddr[i],
			"--advertise-url", p.url, "--peer-token-file", peerTok}
		c.members = append(c.members, &p)
	}
	for _, m := range c.members {
		if err := m.launch(); err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

func (c *shardCluster) stop() {
	var wg sync.WaitGroup
	for _, m := range c.members {
		wg.Add(1)
		go func() { defer wg.Done(); m.stop(30 * time.Second) }()
	}
	wg.Wait()
}

func (c *shardCluster) alive(i int) bool {
	select {
	case <-c.members[i].exited():
		return false
	default:
		return true
	}
}

// leader waits for a member that says it leads and is ready.
func (c *shardCluster) leader(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		for i, m := range c.members {
			if !c.alive(i) {
				continue
			}
			st, err := shardStatus(m)
			if err != nil || st.Role != shardapi.RoleLeader {
				continue
			}
			if resp, err := hc.Get(m.url + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return i, nil
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, errors.New("no ready leader")
}

// FailoverResult is what `failover` measured.
type FailoverResult struct {
	Kills      int       `json:"kills"`
	KillMs     []float64 `json:"killMs"`     // SIGKILL of the leader -> next acknowledged write
	Handovers  int       `json:"handovers"`  //
	HandoverMs []float64 `json:"handoverMs"` // longest gap between acknowledged writes around a leader's SIGTERM
	Errors     []string  `json:"errors,omitempty"`
}

// prober writes continuously (one hold at a time, on whichever member
// leads), and records when each write was sent and acknowledged.
type prober struct {
	c     *shardCluster
	guess atomic.Int32
	mu    sync.Mutex
	acks  []ack // in order: one write at a time
	n     atomic.Int64
}

// ack is one acknowledged write: when it was sent, when its answer came.
type ack struct{ sent, at time.Time }

// acked records a write sent at sent and acknowledged now.
func (p *prober) acked(sent time.Time) {
	p.mu.Lock()
	p.acks = append(p.acks, ack{sent: sent, at: time.Now()})
	p.mu.Unlock()
}

func (p *prober) run(ctx context.Context, tokFile string, seats []string) {
	backends := make([]*shardBackend, len(p.c.members))
	for i, m := range p.c.members {
		backends[i], _ = newShardBackend(m.url, tokFile, 1)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for ctx.Err() == nil {
		i := int(p.guess.Load())
		if !p.c.alive(i) {
			p.guess.Store(int32((i + 1) % len(backends)))
			continue
		}
		seat := seats[rng.IntN(len(seats))]
		req := shardapi.HoldRequest{Seats: []string{seat}, Holder: "probe-" + strconv.FormatInt(p.n.Add(1), 10)}
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		sent := time.Now()
		h, err := backends[i].api.Hold(rctx, backends[i].base(), &req, "")
		cancel()
		var e *shardapi.Error
		errors.As(err, &e)
		switch {
		case err == nil || (e != nil && e.Code == shardapi.CodeSeatsUnavailable):
			p.acked(sent)
			if err == nil {
				rctx, cancel := context.WithTimeout(ctx, time.Second)
				backends[i].api.Release(rctx, backends[i].base(), h.ID)
				cancel()
			}
		case e != nil && e.Code == shardapi.CodeNotLeader:
			next := (i + 1) % len(backends)
			for j, m := range p.c.members {
				if m.url == e.LeaderURL() {
					next = j
				}
			}
			p.guess.Store(int32(next))
		default:
			p.guess.Store(int32((i + 1) % len(backends)))
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// firstAckAfter returns how long after t the first write sent at or after
// t was acknowledged. A write sent before t does not count even if its
// answer came after t: after a leader's SIGKILL that is an answer the old
// leader had committed, not a sign that a new one serves.
func (p *prober) firstAckAfter(t time.Time, timeout time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		i, _ := slices.BinarySearchFunc(p.acks, t, func(a ack, t time.Time) int { return a.sent.Compare(t) })
		var at time.Time
		if i < len(p.acks) {
			at = p.acks[i].at
		}
		p.mu.Unlock()
		if !at.IsZero() {
			return at.Sub(t), true
		}
		if !time.Now().Before(deadline) {
			return 0, false
		}
		time.Sleep(time.Millisecond)
	}
}

// maxGap is the longest time between acknowledgements in [from, to].
func (p *prober) maxGap(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gap time.Duration
	prev := from
	for _, a := range p.acks {
		if a.at.Before(from) {
			continue
		}
		if a.at.After(to) {
			break
		}
		gap = max(gap, a.at.Sub(prev))
		prev = a.at
	}
	return max(gap, to.Sub(prev))
}

func cmdFailover(args []string) error {
	cmd := newSpawnCmd("failover", 50000)
	kills := cmd.fs.Int("kills", 10, "leader SIGKILLs")
	handovers := cmd.fs.Int("handovers", 5, "leader SIGTERMs (hand-over)")
	ctx, cancel, err := cmd.parse(args, false)
	if err != nil {
		return err
	}
	defer cancel()
	ids, _, err := venueSeats(*cmd.seats)
	if err != nil {
		return err
	}
	c, err := cmd.sp.startCluster(ctx, "failover", *cmd.seats, 3)
	if err != nil {
		return err
	}
	defer c.stop()
	l, err := c.leader(60 * time.Second)
	if err != nil {
		return err
	}
	p := &prober{c: c}
	p.guess.Store(int32(l))
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	go p.run(pctx, c.members[0].tokenFile, ids[:min(len(ids), 1000)])
	res := FailoverResult{}
	if res.KillMs, err = p.measureKills(*kills); err != nil {
		return err
	}
	res.Kills = len(res.KillMs)
	if res.HandoverMs, err = p.measureHandovers(*handovers); err != nil {
		return err
	}
	res.Handovers = len(res.HandoverMs)
	return writeJSON(*cmd.out, res)
}

// waitAcks waits (up to 30 s) until n more writes are acknowledged.
func (p *prober) waitAcks(n int64) error {
	p.mu.Lock()
	target := len(p.acks) + int(n)
	p.mu.Unlock()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		ok := len(p.acks) >= target
		p.mu.Unlock()
		if ok {
			return nil
		}
	}
	return errors.New("writes stopped being acknowledged")
}

// disrupt waits for writes to flow, does act to the leader, then restarts
// it.
func (p *prober) disrupt(act func(l int) error) error {
	if err := p.waitAcks(50); err != nil {
		return err
	}
	l, err := p.c.leader(30 * time.Second)
	if err != nil {
		return err
	}
	if err := act(l); err != nil {
		return err
	}
	_, err = p.c.members[l].restart(60 * time.Second)
	return err
}

// measureKills SIGKILLs the leader n times and returns, in ms, how long
// each time the next acknowledged write took.
func (p *prober) measureKills(n int) ([]float64, error) {
	var killMs []float64
	for k := 0; k < n; k++ {
		if err := p.disrupt(func(l int) error {
			p.c.members[l].kill() // returns once the process is gone
			d, ok := p.firstAckAfter(time.Now(), 30*time.Second)
			if !ok {
				return fmt.Errorf("kill %d: no write acknowledged within 30s", k+1)
			}
			killMs = append(killMs, float64(d)/float64(time.Millisecond))
			fmt.Fprintf(os.Stderr, "  failover %d: leader %d SIGKILLed, next acknowledged write after %.0f ms\n", k+1, l+1, killMs[k])
			return nil
		}); err != nil {
			return killMs, err
		}
	}
	return killMs, nil
}

// measureHandovers SIGTERMs the leader n times and returns, in ms, the
// longest pause between acknowledged writes around each hand-over.
func (p *prober) measureHandovers(n int) ([]float64, error) {
	var handoverMs []float64
	for k := 0; k < n; k++ {
		if err := p.disrupt(func(l int) error {
			t := time.Now()
			p.c.members[l].stop(30 * time.Second)
			if _, ok := p.firstAckAfter(time.Now(), 30*time.Second); !ok {
				return fmt.Errorf("hand-over %d: no write acknowledged within 30s", k+1)
			}
			if err := p.waitAcks(20); err != nil {
				return err
			}
			gap := p.maxGap(t, time.Now())
			handoverMs = append(handoverMs, float64(gap)/float64(time.Millisecond))
			fmt.Fprintf(os.Stderr, "  hand-over %d: leader %d SIGTERMed, longest write pause %.0f ms\n", k+1, l+1, handoverMs[k])
			return nil
		}); err != nil {
			return handoverMs, err
		}
	}
	return handoverMs, nil
}
