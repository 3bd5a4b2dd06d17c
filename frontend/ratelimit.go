package frontend

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a per-client token bucket. Clients are keyed by session holder
// when the request has a valid session, else by remote address. Idle buckets
// are forgotten so the map stays bounded by the active crowd.
type limiter struct {
	r     rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*bucket
	last  time.Time
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{r: rate.Limit(perSecond), burst: burst, m: map[string]*bucket{}, last: time.Now()}
}

func (l *limiter) allow(key string) bool {
	if l == nil {
		return true
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.last) > time.Minute {
		for k, b := range l.m {
			if now.Sub(b.seen) > 5*time.Minute {
				delete(l.m, k)
			}
		}
		l.last = now
	}
	b := l.m[key]
	if b == nil {
		b = &bucket{l: rate.NewLimiter(l.r, l.burst)}
		l.m[key] = b
	}
	b.seen = now
	return b.l.AllowN(now, 1)
}
