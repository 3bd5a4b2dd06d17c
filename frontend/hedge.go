package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// A replicated shard's leader can vanish with a write in flight: its node
// is cut off, or dies without closing the connection. The try then hangs
// until its per-try timeout, while the other members elect a new leader in
// about a second. So a write try that has not answered after the hedge
// delay (--shard-hedge-delay), and again every hedge delay after that, asks
// the other members' GET /v1/status. If one of them reports itself leader
// in the newest term any of them knows (none naming the silent member as
// leader in that term), the hung try is abandoned and the same write, with
// the same Idempotency-Key, goes to the new leader. The key makes that as
// safe as any retry: if the old leader did commit the write, the new leader
// has it and answers what the first try would have.
//
// Reads (GET) and the event stream are never hedged: a slow read is just
// slow, and a stream is long by nature.

// statusAskTimeout bounds one round of status asks: the members answer it
// from memory.
const statusAskTimeout = 500 * time.Millisecond

type tryResult struct {
	a   *shardapi.Answer
	err error
}

// hedged tells whether a try of method goes through hedgedAt.
func (c *shardClient) hedged(method string) bool {
	return method != http.MethodGet && c.hedge > 0 && c.members.len() > 1
}

// hedgedAt sends one try of a write to base, moving it to a newer leader
// while it hangs (at most once per member).
func (c *shardClient) hedgedAt(ctx context.Context, base, op, method, path string, body []byte, idemKey string) (*shardapi.Answer, error) {
	for moves := 0; ; moves++ {
		r, to := c.tryOrMove(ctx, base, op, method, path, body, idemKey, moves < c.members.len())
		if to == "" {
			return r.a, r.err
		}
		c.m.upstreamHedges.WithLabelValues(op).Inc()
		base = to
	}
}

// tryOrMove runs one try to base. If hedge and a newer leader shows up
// while the try hangs, the try is abandoned and the new leader returned
// (already made the believed one).
func (c *shardClient) tryOrMove(ctx context.Context, base, op, method, path string, body []byte, idemKey string, hedge bool) (tryResult, string) {
	tryCtx, cancel := context.WithCancel(ctx)
	defer cancel() // abandons a hung try
	done := make(chan tryResult, 1)
	go func() {
		a, err := c.tryAt(tryCtx, base, op, method, path, body, idemKey)
		done <- tryResult{a, err}
	}()
	if !hedge {
		return <-done, ""
	}
	tick := time.NewTicker(c.hedge)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			return r, ""
		case <-tick.C:
		}
		to := c.newerLeader(ctx, base)
		select {
		case r := <-done: // answered meanwhile: keep that answer
			return r, ""
		default:
		}
		if to != "" && c.members.follow(to) {
			return tryResult{}, to
		}
	}
}

// newerLeader asks the members other than silent who leads; concurrent
// hedged tries to the same member share one round of asks.
func (c *shardClient) newerLeader(ctx context.Context, silent string) string {
	v, _, _ := c.asks.Do(silent, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusAskTimeout)
		defer cancel()
		return pickNewerLeader(silent, c.askStatuses(ctx, c.members.others(silent))), nil
	})
	return v.(string)
}

// askStatuses gets GET /v1/status from each of urls at once; a member that
// does not answer in time is left out.
func (c *shardClient) askStatuses(ctx context.Context, urls []string) map[string]shardapi.Status {
	c.m.upstreamLeaderAsks.Inc()
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := make(map[string]shardapi.Status, len(urls))
	for _, u := range urls {
		wg.Go(func() {
			a, err := c.tryAt(ctx, u, "status", http.MethodGet, shardapi.PathStatus, nil, "")
			var st shardapi.Status
			if err != nil || a.Status != http.StatusOK || json.Unmarshal(a.Body, &st) != nil {
				return
			}
			mu.Lock()
			out[u] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// pickNewerLeader is the member that reports itself leader in the newest
// term among the answers, if none of them names silent as that term's
// leader; "" if there is none. Terms only grow, and a term has at most one
// leader, so that member is the one the cluster now follows.
func pickNewerLeader(silent string, answers map[string]shardapi.Status) string {
	var newest int64
	for _, st := range answers {
		newest = max(newest, st.Term)
	}
	leader := ""
	for u, st := range answers {
		if st.Term != newest {
			continue
		}
		if sameURL(st.Leader, silent) {
			return ""
		}
		if st.Role == shardapi.RoleLeader {
			leader = u
		}
	}
	return leader
}

func sameURL(a, b string) bool {
	return a != "" && trimSlash(a) == trimSlash(b)
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// dialFailure tells whether err is a failure to connect (the member's
// address did not answer or refused), not one of an established exchange.
func dialFailure(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}
