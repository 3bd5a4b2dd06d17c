package frontend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/singleflight"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// shardClient calls the shard's /v1 API. Every call is retried with
// exponential backoff while the shard is unreachable or answers 502/503/504,
// for at most the retry budget. Writes carry an Idempotency-Key where the
// contract supports it, so a retry after a lost answer returns the first
// answer instead of acting twice.
//
// A replicated shard has several members (contract v2); calls go to the
// member believed to lead. A 421 not_leader names the leader, and the call
// is sent there at once; an unreachable member or a 503 (an election, or a
// leader that stepped down with the outcome unknown) moves the next try to
// the next member. Every try carries the same Idempotency-Key, so a write
// retried on a new leader answers what the first one did.
//
// Losing a leader costs about the election: members are dialed with a short
// timeout (--shard-dial-timeout) and one that could not be dialed is skipped
// for a moment (members.go); a write hung on a leader that vanished moves to
// the new one (hedge.go).
type shardClient struct {
	members *members
	token   string
	api     shardapi.Client // one try to one member (shard/shardapi)
	hc      *http.Client
	budget  time.Duration
	attempt time.Duration // timeout of one attempt
	hedge   time.Duration // a write try hung this long asks who leads (0: never)
	asks    singleflight.Group
	m       *metrics
	batch   batchState // shardbatch.go
}

// Defaults of --shard-dial-timeout and --shard-hedge-delay.
const (
	defaultShardDialTimeout = 300 * time.Millisecond
	defaultShardHedgeDelay  = 300 * time.Millisecond
)

// errShardUnavailable is returned when the budget ran out.
var errShardUnavailable = errors.New("shard unavailable")

func newShardClient(urls, token string, budget time.Duration, m *metrics) *shardClient {
	// No overall timeout: each try has its own (attempt), and the event
	// stream shares the transport.
	hc := shardapi.NewHTTPClient(0)
	c := &shardClient{
		members: newMembers(splitShardURLs(urls)),
		token:   token,
		api:     shardapi.Client{HTTP: hc, Token: token},
		hc:      hc,
		budget:  budget,
		attempt: 5 * time.Second,
		hedge:   defaultShardHedgeDelay,
		m:       m,
	}
	c.setDialTimeout(defaultShardDialTimeout)
	return c
}

// setDialTimeout bounds connecting to a member: they are on the cluster
// network, so one that does not accept at once has gone.
func (c *shardClient) setDialTimeout(d time.Duration) {
	if t, ok := c.hc.Transport.(*http.Transport); ok {
		t.DialContext = (&net.Dialer{Timeout: d, KeepAlive: 30 * time.Second}).DialContext
	}
}

func retryableStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// do sends one logical request, retrying as described on shardClient. op
// names the call in metrics.
func (c *shardClient) do(ctx context.Context, op, method, path string, body []byte, idemKey string) (*shardapi.Answer, error) {
	deadline := time.Now().Add(c.budget)
	backoff := 50 * time.Millisecond
	var lastErr error
	redirects := 0
	for try := 0; ; try++ {
		noLeader := false
		if try > 0 {
			c.m.upstreamRetries.WithLabelValues(op).Inc()
		}
		base := c.members.leader()
		resp, err := c.onceAt(ctx, base, op, method, path, body, idemKey)
		if err == nil && resp.Status == http.StatusMisdirectedRequest {
			// A follower: go to the leader it names at once (a bounded
			// number of times: hints can chase an election).
			if to, _ := shardapi.LeaderHint(resp.Body); to != "" && c.members.follow(to) && redirects < 2*c.members.len() {
				redirects++
				continue
			}
			c.members.next(base)
			err = fmt.Errorf("%s: no leader known yet", base)
			resp = nil
			noLeader = true
		}
		if err == nil && !retryableStatus(resp.Status) {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.members.next(base)
		if err != nil {
			lastErr = err
		} else {
			lastErr = fmt.Errorf("shard answered %d: %s", resp.Status, bytes.TrimSpace(resp.Body))
		}
		sleep := backoff/2 + rand.N(backoff/2+1)
		if time.Now().Add(sleep).After(deadline) {
			return nil, fmt.Errorf("%w: %v", errShardUnavailable, lastErr)
		}
		select {
		case <-time.After(sleep):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// While the members elect, ask again soon: the election takes
		// about a second, and a follower answers at once.
		backoff = min(backoff*2, time.Second)
		if noLeader {
			backoff = min(backoff, 200*time.Millisecond)
		}
	}
}

// once sends one try to the member believed to lead.
func (c *shardClient) once(ctx context.Context, op, method, path string, body []byte, idemKey string) (*shardapi.Answer, error) {
	return c.onceAt(ctx, c.members.leader(), op, method, path, body, idemKey)
}

// onceAt sends one try to the member at base; a write's try is hedged
// (hedge.go).
func (c *shardClient) onceAt(ctx context.Context, base, op, method, path string, body []byte, idemKey string) (*shardapi.Answer, error) {
	if c.hedged(method) {
		return c.hedgedAt(ctx, base, op, method, path, body, idemKey)
	}
	return c.tryAt(ctx, base, op, method, path, body, idemKey)
}

// tryAt sends one try to the member at base, bounded by the per-try timeout.
// A member that could not be dialed is skipped for a moment.
func (c *shardClient) tryAt(ctx context.Context, base, op, method, path string, body []byte, idemKey string) (*shardapi.Answer, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.attempt)
	defer cancel()
	start := time.Now()
	a, err := c.api.Send(ctx, base, shardapi.Request{Method: method, Path: path, Body: body, IdempotencyKey: idemKey}, nil)
	code := "error"
	if a.Status != 0 {
		code = strconv.Itoa(a.Status)
	}
	c.m.upstreamLatency.WithLabelValues(op, code).Observe(time.Since(start).Seconds())
	if err != nil {
		if parent.Err() == nil && dialFailure(err) {
			c.members.dialFailed(base)
		}
		return nil, err
	}
	return &a, nil
}
