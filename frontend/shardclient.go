package frontend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

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
type shardClient struct {
	members *members
	token   string
	api     shardapi.Client // one try to one member (shard/shardapi)
	hc      *http.Client
	budget  time.Duration
	attempt time.Duration // timeout of one attempt
	m       *metrics
	batch   batchState // shardbatch.go
}

// errShardUnavailable is returned when the budget ran out.
var errShardUnavailable = errors.New("shard unavailable")

func newShardClient(urls, token string, budget time.Duration, m *metrics) *shardClient {
	// No overall timeout: each try has its own (attempt), and the event
	// stream shares the transport.
	hc := shardapi.NewHTTPClient(0)
	return &shardClient{
		members: newMembers(splitShardURLs(urls)),
		token:   token,
		api:     shardapi.Client{HTTP: hc, Token: token},
		hc:      hc,
		budget:  budget,
		attempt: 5 * time.Second,
		m:       m,
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
		backoff = min(backoff*2, time.Second)
	}
}

// once sends one try to the member believed to lead.
func (c *shardClient) once(ctx context.Context, op, method, path string, body []byte, idemKey string) (*shardapi.Answer, error) {
	return c.onceAt(ctx, c.members.leader(), op, method, path, body, idemKey)
}

func (c *shardClient) onceAt(ctx context.Context, base, op, method, path string, body []byte, idemKey string) (*shardapi.Answer, error) {
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
		return nil, err
	}
	return &a, nil
}
