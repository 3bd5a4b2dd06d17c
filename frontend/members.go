package frontend

import (
	"strings"
	"sync"
	"time"
)

// memberSkipFor is how long a member that could not be dialed is passed
// over when choosing whom to ask next (unless every member is).
const memberSkipFor = time.Second

// members are the shard's member URLs (one for a single shard) and which of
// them the front end believes leads. Only URLs from --shard-url are ever
// used: a leader hint naming anything else is ignored, so the bearer token
// never goes to an address the operator did not configure.
//
// A member whose address could not be dialed is skipped for memberSkipFor:
// the next try goes round it, and a follower's hint naming it (a follower
// that has not noticed the leader died) is not followed.
type members struct {
	mu        sync.Mutex
	urls      []string
	cur       int         // the believed leader
	downUntil []time.Time // per member: skipped until then
	now       func() time.Time
}

func newMembers(urls []string) *members {
	if len(urls) == 0 {
		urls = []string{""} // refused by Config.Validate; a call then fails
	}
	return &members{urls: urls, downUntil: make([]time.Time, len(urls)), now: time.Now}
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

// follow makes url the believed leader; false if it is not a member or
// could not be dialed a moment ago.
func (m *members) follow(url string) bool {
	url = strings.TrimRight(url, "/")
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.indexLocked(url)
	if i < 0 || m.now().Before(m.downUntil[i]) {
		return false
	}
	m.cur = i
	return true
}

func (m *members) indexLocked(url string) int {
	for i, u := range m.urls {
		if u == url {
			return i
		}
	}
	return -1
}

// next moves on from a member that failed, unless another request already
// did: the next try goes to the member after it that is not being skipped
// (or simply the one after it when all are).
func (m *members) next(failed string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.urls[m.cur] != failed {
		return
	}
	n, now := len(m.urls), m.now()
	for step := 1; step <= n; step++ {
		if i := (m.cur + step) % n; !now.Before(m.downUntil[i]) {
			m.cur = i
			return
		}
	}
	m.cur = (m.cur + 1) % n
}

// dialFailed marks url as not answering: it is skipped for memberSkipFor.
func (m *members) dialFailed(url string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := m.indexLocked(url); i >= 0 {
		m.downUntil[i] = m.now().Add(memberSkipFor)
	}
}

// others lists the members but url that are not being skipped.
func (m *members) others(url string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for i, u := range m.urls {
		if u != url && !m.now().Before(m.downUntil[i]) {
			out = append(out, u)
		}
	}
	return out
}

// at is the i-th member, wrapping: the event stream walks the members on
// its own, since any member serves it.
func (m *members) at(i int) string {
	return m.urls[((i%len(m.urls))+len(m.urls))%len(m.urls)]
}
