package frontend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
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
	hc      *http.Client
	budget  time.Duration
	attempt time.Duration // timeout of one attempt
	m       *metrics
	batch   batchState // shardbatch.go
}

type shardResponse struct {
	Status int
	Body   []byte
}

// errShardUnavailable is returned when the budget ran out.
var errShardUnavailable = errors.New("shard unavailable")

func newShardClient(urls, token string, budget time.Duration, m *metrics) *shardClient {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	return &shardClient{
		members: newMembers(splitShardURLs(urls)),
		token:   token,
		hc:      &http.Client{Transport: tr, CheckRedirect: noRedirects},
		budget:  budget,
		attempt: 5 * time.Second,
		m:       m,
	}
}

// noRedirects makes the client hand a redirect back as the answer: the
// shard never redirects, and following one would send the bearer token's
// request somewhere else.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func retryableStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// do sends one logical request, retrying as described on shardClient. op
// names the call in metrics.
func (c *shardClient) do(ctx context.Context, op, method, path string, body []byte, idemKey string) (*shardResponse, error) {
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
			if to := notLeaderHint(resp.Body); to != "" && c.members.follow(to) && redirects < 2*c.members.len() {
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
func (c *shardClient) once(ctx context.Context, op, method, path string, body []byte, idemKey string) (*shardResponse, error) {
	return c.onceAt(ctx, c.members.leader(), op, method, path, body, idemKey)
}

func (c *shardClient) onceAt(ctx context.Context, base, op, method, path string, body []byte, idemKey string) (*shardResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.attempt)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.m.upstreamLatency.WithLabelValues(op, "error").Observe(time.Since(start).Seconds())
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	c.m.upstreamLatency.WithLabelValues(op, fmt.Sprint(resp.StatusCode)).Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	return &shardResponse{Status: resp.StatusCode, Body: b}, nil
}
