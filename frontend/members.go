package frontend

import (
	"strings"
	"sync"
)

// members are the shard's member URLs (one for a single shard) and which of
// them the front end believes leads. Only URLs from --shard-url are ever
// used: a leader hint naming anything else is ignored, so the bearer token
// never goes to an address the operator did not configure.
type members struct {
	mu   sync.Mutex
	urls []string
	cur  int // the believed leader
}

func newMembers(urls []string) *members {
	if len(urls) == 0 {
		urls = []string{""} // refused by Config.Validate; a call then fails
	}
	return &members{urls: urls}
}

// splitShardURLs reads --shard-url: one URL, or a comma-separated list of a
// replicated shard's member URLs.
func splitShardURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			out = append(out, u)
		}
	}
	return out
}

func (m *members) len() int { return len(m.urls) }

// leader is the member to send the next request to.
func (m *members) leader() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.urls[m.cur]
}

// follow makes url the believed leader; false if it is not a member.
func (m *members) follow(url string) bool {
	url = strings.TrimRight(url, "/")
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, u := range m.urls {
		if u == url {
			m.cur = i
			return true
		}
	}
	return false
}

// next moves on from a member that failed, unless another request already
// did: the next try goes to the member after it.
func (m *members) next(failed string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.urls[m.cur] == failed {
		m.cur = (m.cur + 1) % len(m.urls)
	}
}

// at is the i-th member, wrapping: the event stream walks the members on
// its own, since any member serves it.
func (m *members) at(i int) string {
	return m.urls[((i%len(m.urls))+len(m.urls))%len(m.urls)]
}
