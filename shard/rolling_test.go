package shard_test

import (
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/rolloutplan"
	"github.com/anishathalye/porcupine"
)

// TestClusterRollingRestart restarts three real members one at a time under
// booking load, in the order the operator's plan gives
// (rolloutplan.PlanMembers: followers first, each ready and caught up with
// the leader's commit index before the next, the leader last, its SIGTERM
// handing leadership to an up-to-date follower), as a member-by-member
// upgrade does. Nothing acknowledged is lost, the history stays
// linearizable, and leadership ends on a restarted member. The write pause
// of the hand-over and the longest gap between two answers during each
// follower's restart are logged (figures, not assertions).
func TestClusterRollingRestart(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("process-level rolling restart: skipped with -short and -race")
	}
	c := newCluster(t)
	oldLeader := c.leader()
	h := &history{t0: time.Now(), perSeat: map[string][]porcupine.Operation{}, holds: map[string]*cHold{}}
	stop := make(chan struct{})
	var pause sync.RWMutex
	var wg sync.WaitGroup
	for id := 0; id < 3; id++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.loadClient(id, h, stop, &pause) }()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()
	time.Sleep(500 * time.Millisecond)

	restarted := map[int]bool{}
	type restart struct {
		member      int
		leader      bool
		from, until int64 // h.stamp() at SIGTERM and once ready again
	}
	var done []restart
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		step := rolloutplan.PlanMembers(c.planView(restarted), 16)
		if step.Action == rolloutplan.MembersDone {
			break
		}
		if step.Action == rolloutplan.MembersWait {
			time.Sleep(25 * time.Millisecond)
			continue
		}
		i := int(step.Pod[len(step.Pod)-1] - '0')
		r := restart{member: i, leader: step.Leader, from: h.stamp()}
		c.signal(i, syscall.SIGTERM)
		select {
		case <-c.procs[i].Done():
		case <-time.After(35 * time.Second):
			t.Fatalf("member %d did not exit within 35s of SIGTERM\n%s", i, c.procs[i].logs())
		}
		c.start(i)
		c.waitReady(i)
		r.until = h.stamp()
		restarted[i] = true
		done = append(done, r)
		t.Logf("%s", step.Reason)
	}
	time.Sleep(500 * time.Millisecond)
	stopLoad()

	if len(done) != 3 || !done[2].leader || done[2].member != oldLeader || done[0].leader || done[1].leader {
		t.Fatalf("restarts %+v: want both followers, then the leader (member %d)", done, oldLeader)
	}
	newLeader := c.leader()
	if newLeader == oldLeader {
		t.Fatalf("member %d leads again after its restart: the hand-over went nowhere", newLeader)
	}
	c.verify(h, "after the rolling restart")
	h.checkLinearizable(t)

	answers := h.answerStamps()
	for _, r := range done {
		what := "follower"
		if r.leader {
			what = "leader"
		}
		// For the leader, the longest gap is the write pause of the
		// hand-over: the clients follow 421 hints to the new leader.
		t.Logf("member %d (%s): longest gap between two answers from SIGTERM until it is ready again: %s",
			r.member, what, longestGap(answers, r.from, r.until))
	}
	t.Logf("%d answers in %s", len(answers), time.Duration(answers[len(answers)-1]-answers[0]).Round(time.Millisecond))
}

// planView is the plan's view of the members: a member is current once
// restarted; ready from /readyz; role and lag from the statuses (the lag
// from the leader's members[].match against its commitIndex).
func (c *cluster) planView(restarted map[int]bool) []rolloutplan.Member {
	var ms []rolloutplan.Member
	var leaderStatus map[string]any
	statuses := map[int]map[string]any{}
	for i := 1; i <= 3; i++ {
		statuses[i] = c.status(i)
		if s := statuses[i]; s != nil && s["role"] == "leader" {
			leaderStatus = s
		}
	}
	for i := 1; i <= 3; i++ {
		m := rolloutplan.Member{Pod: "member-" + string(rune('0'+i)), Exists: c.alive(i), Current: restarted[i]}
		if resp, err := http.Get("http://" + c.api[i] + "/readyz"); err == nil {
			resp.Body.Close()
			m.Ready = resp.StatusCode == 200
		}
		if s := statuses[i]; s != nil && s["role"] == "leader" {
			m.Leader, m.Lag = true, new(int64)
		}
		if leaderStatus != nil && !m.Leader {
			commit, _ := leaderStatus["commitIndex"].(float64)
			members, _ := leaderStatus["members"].([]any)
			for _, raw := range members {
				pm, _ := raw.(map[string]any)
				if id, _ := pm["id"].(float64); int(id) == i {
					match, _ := pm["match"].(float64)
					lag := max(int64(commit)-int64(match), 0)
					m.Lag = &lag
				}
			}
		}
		ms = append(ms, m)
	}
	return ms
}

// answerStamps are the moments (h.stamp) the clients got a definite answer
// from the leader, sorted.
func (h *history) answerStamps() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int64
	for _, ops := range h.perSeat {
		for _, o := range ops {
			out = append(out, o.Return)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// longestGap is the longest time without an answer between from and until.
func longestGap(stamps []int64, from, until int64) time.Duration {
	prev, longest := lastBefore(stamps, from), int64(0)
	for _, s := range stamps {
		if s <= from {
			continue
		}
		longest = max(longest, s-prev)
		prev = s
		if s > until {
			break
		}
	}
	return time.Duration(longest).Round(100 * time.Microsecond)
}

// lastBefore is the last answer at or before t.
func lastBefore(stamps []int64, t int64) int64 {
	i, _ := slices.BinarySearch(stamps, t+1)
	if i > 0 {
		return stamps[i-1]
	}
	return 0
}
