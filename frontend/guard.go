package frontend

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// This file holds the per-request guards of the buyer API that are not rate
// limits: where a write may come from, what it must look like, and how many
// event streams one client may keep open.

// parseOrigins checks the --allowed-origins list.
func parseOrigins(list string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(list, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("--allowed-origins: %q is not an origin (scheme://host[:port])", o)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// newOriginCheck refuses state-changing requests that a browser sent from
// another site: Sec-Fetch-Site, else Origin against Host, with the listed
// origins trusted besides the page's own (net/http's CrossOriginProtection).
// Requests with neither header are not from a browser and pass.
func newOriginCheck(allowed string) (*http.CrossOriginProtection, error) {
	origins, err := parseOrigins(allowed)
	if err != nil {
		return nil, err
	}
	c := http.NewCrossOriginProtection()
	for _, o := range origins {
		if err := c.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("--allowed-origins: %v", err)
		}
	}
	return c, nil
}

// writeGuard answers a write that is cross-site or not JSON, and reports
// whether it did.
func (s *Server) writeGuard(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	if err := s.origins.Check(r); err != nil {
		s.m.refused.WithLabelValues("cross_origin").Inc()
		writeErr(w, http.StatusForbidden, "cross_origin", "writes are accepted only from this box office's own page")
		return true
	}
	if r.Method != http.MethodPost {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		s.m.refused.WithLabelValues("content_type").Inc()
		writeErr(w, http.StatusUnsupportedMediaType, string(shardapi.CodeInvalidRequest), "send JSON with Content-Type: application/json")
		return true
	}
	return false
}

// streamCounter counts open event streams per client address.
type streamCounter struct {
	max int // 0: no limit
	mu  sync.Mutex
	n   map[string]int
}

// acquire takes a stream slot for key; release gives it back (once).
func (c *streamCounter) acquire(key string) (release func(), ok bool) {
	if c.max <= 0 {
		return func() {}, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] >= c.max {
		return nil, false
	}
	c.n[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			if c.n[key]--; c.n[key] <= 0 {
				delete(c.n, key)
			}
			c.mu.Unlock()
		})
	}, true
}

func (c *streamCounter) open(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}
