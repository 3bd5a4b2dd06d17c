package frontend

import (
	"container/list"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterMaxKeys caps the buckets one limiter keeps (a few hundred bytes
// each), so a flood of distinct keys cannot grow the pod's memory without
// bound.
const limiterMaxKeys = 65536

// limiter is a per-key token bucket with bounded memory. Buckets are kept in
// least-recently-used order. A bucket unused for burst/rate is full again,
// which is exactly what a new bucket would be, so it is forgotten; beyond
// maxKeys the least recently used bucket is forgotten even if it is not full.
type limiter struct {
	r       rate.Limit
	burst   int
	maxKeys int
	refill  time.Duration // time for an empty bucket to fill up
	now     func() time.Time

	mu  sync.Mutex
	m   map[string]*list.Element // key -> element holding a *bucket
	lru list.List                // front: most recently used
}

type bucket struct {
	key  string
	l    *rate.Limiter
	seen time.Time
}

// newLimiter returns a limiter of perSecond with the given burst, or nil
// (which allows everything) when perSecond is not positive.
func newLimiter(perSecond float64, burst int, maxKeys int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	refill := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &limiter{r: rate.Limit(perSecond), burst: burst, maxKeys: max(maxKeys, 1),
		refill: max(refill, time.Second), now: time.Now, m: map[string]*list.Element{}}
}

func (l *limiter) allow(key string) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	return l.bucketLocked(key, now).l.AllowN(now, 1)
}

// bucketLocked finds or makes key's bucket, forgetting buckets that are full
// again, and marks it used at now.
func (l *limiter) bucketLocked(key string, now time.Time) *bucket {
	// The list is in order of last use, so the buckets that are full again
	// are at the back; each is removed once, so this is cheap on average.
	for e := l.lru.Back(); e != nil && now.Sub(e.Value.(*bucket).seen) >= l.refill; e = l.lru.Back() {
		l.remove(e)
	}
	e := l.m[key]
	if e == nil {
		if l.lru.Len() >= l.maxKeys {
			l.remove(l.lru.Back())
		}
		e = l.lru.PushFront(&bucket{key: key, l: rate.NewLimiter(l.r, l.burst)})
		l.m[key] = e
	} else {
		l.lru.MoveToFront(e)
	}
	b := e.Value.(*bucket)
	b.seen = now
	return b
}

func (l *limiter) remove(e *list.Element) {
	delete(l.m, e.Value.(*bucket).key)
	l.lru.Remove(e)
}

// size is the number of buckets kept.
func (l *limiter) size() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// clientAddr is the client address that limits are keyed on. By default it
// is the peer of the connection. With trustedHops > 0 the front end sits
// behind that many proxies that each append the address they saw to
// X-Forwarded-For, and the client is the entry that the outermost of them
// added: the trustedHops-th from the right. Entries further left were sent by
// the client and are ignored. An IPv6 client is keyed by its /64, since one
// subscriber usually has the whole /64 to pick addresses from.
func clientAddr(r *http.Request, trustedHops int) string {
	if trustedHops > 0 {
		if a, ok := forwardedFor(r.Header.Values("X-Forwarded-For"), trustedHops); ok {
			return addrKey(a)
		}
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return addrKey(ap.Addr())
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return addrKey(a)
	}
	return r.RemoteAddr
}

// forwardedFor picks the hops-th address from the right of the
// X-Forwarded-For header lines, or the leftmost when there are fewer
// entries (then every entry was added by a trusted proxy).
func forwardedFor(lines []string, hops int) (netip.Addr, bool) {
	var entries []string
	for _, line := range lines {
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				entries = append(entries, f)
			}
		}
	}
	if len(entries) == 0 {
		return netip.Addr{}, false
	}
	e := entries[max(len(entries)-hops, 0)]
	if a, err := netip.ParseAddr(e); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(e); err == nil { // some proxies add the port
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

func addrKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// reservation is a take of n tokens that can be given back.
type reservation struct {
	ok     bool
	wait   time.Duration // when refused: how long until n tokens are there
	cancel func()        // gives the tokens back (after the action failed)
}

// reserve takes n tokens from key's bucket now, or none. A nil limiter
// allows everything.
func (l *limiter) reserve(key string, n int) reservation {
	if l == nil {
		return reservation{ok: true, cancel: func() {}}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucketLocked(key, now)
	r := b.l.ReserveN(now, n)
	if !r.OK() {
		return reservation{wait: l.refill}
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return reservation{wait: d}
	}
	return reservation{ok: true, cancel: func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		r.CancelAt(l.now())
	}}
}
