package frontend

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLimiterForgetsFullBucketsAndStaysBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(1, 2, 100) // refills in 2s
	l.now = func() time.Time { return now }

	if !l.allow("a") || !l.allow("a") || l.allow("a") {
		t.Fatal("a's burst of 2 should allow exactly 2")
	}
	if !l.allow("b") {
		t.Fatal("b has its own bucket")
	}
	now = now.Add(time.Second)
	if !l.allow("a") || l.allow("a") {
		t.Fatal("a should have refilled one token in 1s")
	}
	// Idle for the refill time: the bucket is full again and forgotten.
	now = now.Add(2 * time.Second)
	l.allow("c")
	if n := l.size(); n != 1 {
		t.Fatalf("after 2s idle %d buckets kept, want 1 (c)", n)
	}

	// A flood of distinct keys never grows it beyond maxKeys, and recently
	// used keys survive while the oldest are dropped.
	for i := 0; i < 1000; i++ {
		l.allow(fmt.Sprintf("k%d", i))
		if n := l.size(); n > 100 {
			t.Fatalf("%d buckets kept, cap 100", n)
		}
	}
	if _, ok := l.m["k999"]; !ok {
		t.Fatal("most recent key evicted")
	}
	if _, ok := l.m["k0"]; ok {
		t.Fatal("oldest key kept past the cap")
	}
	var nilLimiter *limiter
	if !nilLimiter.allow("x") {
		t.Fatal("a disabled limiter refuses")
	}
}

func TestClientAddr(t *testing.T) {
	req := func(remote string, xff ...string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return r
	}
	for _, c := range []struct {
		name string
		r    *http.Request
		hops int
		want string
	}{
		{"peer", req("192.0.2.7:5555"), 0, "192.0.2.7"},
		{"forwarded-for ignored by default", req("192.0.2.7:5555", "198.51.100.1"), 0, "192.0.2.7"},
		{"one proxy: rightmost", req("10.0.0.2:80", "203.0.113.9, 198.51.100.1"), 1, "198.51.100.1"},
		{"two proxies", req("10.0.0.2:80", "203.0.113.9, 198.51.100.1, 10.1.1.1"), 2, "198.51.100.1"},
		{"several header lines", req("10.0.0.2:80", "203.0.113.9", "198.51.100.1"), 1, "198.51.100.1"},
		{"fewer entries than hops", req("10.0.0.2:80", "198.51.100.1"), 2, "198.51.100.1"},
		{"entry with port", req("10.0.0.2:80", "198.51.100.1:4242"), 1, "198.51.100.1"},
		{"garbage falls back to the peer", req("10.0.0.2:80", "not-an-address"), 1, "10.0.0.2"},
		{"no header falls back to the peer", req("10.0.0.2:80"), 1, "10.0.0.2"},
		{"IPv6 keyed by /64", req("[2001:db8:1:2:aaaa::1]:443"), 0, "2001:db8:1:2::/64"},
		{"IPv6 forwarded", req("10.0.0.2:80", "2001:db8:1:2:bbbb::7"), 1, "2001:db8:1:2::/64"},
		{"IPv4-mapped", req("[::ffff:192.0.2.7]:1"), 0, "192.0.2.7"},
	} {
		if got := clientAddr(c.r, c.hops); got != c.want {
			t.Errorf("%s: clientAddr = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestNewSessionsLimitedPerAddress: GET / and cookie-less API requests hand
// out session cookies, each of which would be a fresh per-session bucket,
// so new sessions are limited per client address.
func TestNewSessionsLimitedPerAddress(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) {
		c.NewSessionRate = 0.01 // effectively no refill during the test
		c.NewSessionBurst = 3
	})
	get := func(path string, cookie *http.Cookie, xff string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", fe.url+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	sessionCookie := func(resp *http.Response) *http.Cookie {
		for _, c := range resp.Cookies() {
			if c.Name == SessionCookie {
				return c
			}
		}
		return nil
	}
	var first *http.Cookie
	for i := 0; i < 3; i++ {
		resp := get("/", nil, "")
		c := sessionCookie(resp)
		if resp.StatusCode != 200 || c == nil {
			t.Fatalf("page %d: status %d, cookie %v", i, resp.StatusCode, c)
		}
		if first == nil {
			first = c
		}
	}
	// The address has used its burst: the page is still served, without a
	// cookie, and cookie-less API requests are refused.
	resp := get("/", nil, "")
	if resp.StatusCode != 200 || sessionCookie(resp) != nil {
		t.Fatalf("page over the limit: status %d, cookie %v; want 200 without a cookie", resp.StatusCode, sessionCookie(resp))
	}
	resp = get("/api/session", nil, "")
	if resp.StatusCode != 429 || sessionCookie(resp) != nil || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("API without a cookie over the limit: status %d, cookie %v, Retry-After %q", resp.StatusCode, sessionCookie(resp), resp.Header.Get("Retry-After"))
	}
	// X-Forwarded-For is not trusted by default: it does not buy a new bucket.
	if resp := get("/api/session", nil, "198.51.100.1"); resp.StatusCode != 429 {
		t.Fatalf("spoofed X-Forwarded-For: status %d, want 429", resp.StatusCode)
	}
	// A buyer who has a session is not affected.
	if resp := get("/api/session", first, ""); resp.StatusCode != 200 {
		t.Fatalf("existing session: status %d", resp.StatusCode)
	}
	if n := testutilCounter(t, fe, "boxoffice_frontend_new_sessions_limited_total"); n < 3 {
		t.Fatalf("new_sessions_limited_total = %v, want >= 3", n)
	}

	// Behind a trusted proxy the client is the address the proxy appended.
	fe2 := startFrontend(t, fs.URL, fs.Token, func(c *Config) {
		c.NewSessionRate = 0.01
		c.NewSessionBurst = 1
		c.TrustedProxyHops = 1
	})
	do := func(xff string) int {
		req, _ := http.NewRequest("GET", fe2.url+"/api/session", nil)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := do("198.51.100.1"); c != 200 {
		t.Fatalf("first session from 198.51.100.1: %d", c)
	}
	if c := do("198.51.100.1"); c != 429 {
		t.Fatalf("second session from 198.51.100.1: %d, want 429", c)
	}
	// A client cannot escape by prepending its own X-Forwarded-For entries.
	if c := do("203.0.113.50, 198.51.100.1"); c != 429 {
		t.Fatalf("client-supplied entry left of the proxy's: %d, want 429", c)
	}
	if c := do("198.51.100.2"); c != 200 {
		t.Fatalf("session from another address: %d", c)
	}
}

func testutilCounter(t *testing.T, fe *testFrontend, name string) float64 {
	t.Helper()
	mfs, err := fe.s.m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
