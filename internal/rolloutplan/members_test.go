package rolloutplan

import (
	"strings"
	"testing"
	"time"
)

func lag(n int64) *int64 { return &n }

// m builds a member: pod name, flags in a short code (c current, r ready,
// L leader, d deleting, x no pod) and its lag (-1: unknown).
func m(pod, flags string, l int64) Member {
	mem := Member{Pod: pod, Exists: !strings.Contains(flags, "x"), Deleting: strings.Contains(flags, "d"),
		Current: strings.Contains(flags, "c"), Ready: strings.Contains(flags, "r"), Leader: strings.Contains(flags, "L")}
	if l >= 0 {
		mem.Lag = lag(l)
	}
	return mem
}

func TestPlanMembers(t *testing.T) {
	cases := []struct {
		name   string
		ms     []Member
		action MemberAction
		pod    string
		leader bool
		reason string
	}{
		{"all old, leader in the middle: the first follower goes first",
			[]Member{m("s-0", "r", 0), m("s-1", "rL", 0), m("s-2", "r", 0)}, MembersRestart, "s-0", false, "follower s-0"},
		{"all old, leader first: a follower still goes first",
			[]Member{m("s-0", "rL", 0), m("s-1", "r", 0), m("s-2", "r", 0)}, MembersRestart, "s-1", false, "follower s-1"},
		{"a member restarting: wait for it",
			[]Member{m("s-0", "crd", -1), m("s-1", "rL", 0), m("s-2", "r", 0)}, MembersWait, "s-0", false, "restarting"},
		{"a member without a pod: wait",
			[]Member{m("s-0", "x", -1), m("s-1", "rL", 0), m("s-2", "r", 0)}, MembersWait, "s-0", false, "restarting"},
		{"the upgraded follower is not ready yet: wait",
			[]Member{m("s-0", "c", -1), m("s-1", "rL", 0), m("s-2", "r", 0)}, MembersWait, "s-0", false, "not ready on the wanted revision"},
		{"the upgraded follower is ready but behind: wait for it to catch up",
			[]Member{m("s-0", "cr", 120), m("s-1", "rL", 0), m("s-2", "r", 0)}, MembersWait, "s-0", false, "catching up"},
		{"the upgraded follower's lag is unknown: wait",
			[]Member{m("s-0", "cr", -1), m("s-1", "rL", 0), m("s-2", "r", 0)}, MembersWait, "s-0", false, "lag unknown"},
		{"the upgraded follower is within the slack: the next follower",
			[]Member{m("s-0", "cr", 3), m("s-1", "rL", 0), m("s-2", "r", 0)}, MembersRestart, "s-2", false, "follower s-2"},
		{"an old follower is behind: wait before stopping another member",
			[]Member{m("s-0", "cr", 0), m("s-1", "rL", 0), m("s-2", "r", 90)}, MembersWait, "s-2", false, "behind the leader"},
		{"every follower upgraded and caught up: the leader last",
			[]Member{m("s-0", "cr", 0), m("s-1", "rL", 0), m("s-2", "cr", 0)}, MembersRestart, "s-1", true, "leader s-1 last"},
		{"the new leader is upgraded, the old leader back as a follower catching up: wait",
			[]Member{m("s-0", "crL", 0), m("s-1", "cr", 50), m("s-2", "cr", 0)}, MembersWait, "s-1", false, "catching up"},
		{"every member upgraded and caught up: done",
			[]Member{m("s-0", "crL", 0), m("s-1", "cr", 0), m("s-2", "cr", 1)}, MembersDone, "", false, "every member"},
		{"no leader known: no member is stopped",
			[]Member{m("s-0", "r", -1), m("s-1", "r", -1), m("s-2", "r", -1)}, MembersWait, "s-0", false, "behind the leader (lag unknown)"},
		{"rollback: the broken member on the bad version goes first, even with another waiting",
			[]Member{m("s-0", "", -1), m("s-1", "crL", 0), m("s-2", "cr", 0)}, MembersRestart, "s-0", false, "not ready on an older revision"},
		{"rollback: then the other follower still on the bad version, before the leader",
			[]Member{m("s-0", "cr", 0), m("s-1", "rL", 0), m("s-2", "r", 0)}, MembersRestart, "s-2", false, "follower s-2"},
		{"five members: one at a time, in order",
			[]Member{m("s-0", "cr", 0), m("s-1", "cr", 0), m("s-2", "r", 0), m("s-3", "rL", 0), m("s-4", "r", 0)}, MembersRestart, "s-2", false, "3 of 5"},
	}
	for _, c := range cases {
		got := PlanMembers(c.ms, 8)
		if got.Action != c.action || got.Pod != c.pod || got.Leader != c.leader || !strings.Contains(got.Reason, c.reason) {
			t.Errorf("%s: got %+v, want %s %q leader=%v (reason with %q)", c.name, got, c.action, c.pod, c.leader, c.reason)
		}
	}
}

// TestPlanMembersWholeUpgrade plays an upgrade of three members to the end:
// each restart comes back current, ready and caught up; the followers go
// first and the leader last, whose hand-over makes an upgraded member lead.
func TestPlanMembersWholeUpgrade(t *testing.T) {
	ms := []Member{m("s-0", "r", 0), m("s-1", "rL", 0), m("s-2", "r", 0)}
	var order []string
	for i := 0; i < 10; i++ {
		step := PlanMembers(ms, 0)
		if step.Action == MembersDone {
			break
		}
		if step.Action != MembersRestart {
			t.Fatalf("unexpected %+v", step)
		}
		order = append(order, step.Pod)
		for j := range ms {
			if ms[j].Pod == step.Pod {
				wasLeader := ms[j].Leader
				ms[j] = m(step.Pod, "cr", 0)
				if wasLeader {
					ms[0].Leader = true
				}
			}
		}
	}
	if got := strings.Join(order, ","); got != "s-0,s-2,s-1" {
		t.Fatalf("order %s, want s-0,s-2,s-1 (followers, then the leader)", got)
	}
	if n := MembersOnTarget(ms); n != 3 {
		t.Fatalf("on target %d", n)
	}
}

func TestOverdueMember(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fresh := m("s-0", "c", -1)
	fresh.Since = t0.Add(30 * time.Second)
	old := m("s-2", "c", -1)
	old.Since = t0
	ready := m("s-1", "crL", 0)
	ready.Since = t0.Add(-time.Hour)
	cases := []struct {
		name    string
		ms      []Member
		now     time.Time
		pod     string
		overdue bool
		next    time.Time
	}{
		{"nothing waiting", []Member{ready}, t0.Add(time.Hour), "", false, time.Time{}},
		{"within the deadline from its pod's creation", []Member{fresh, ready}, t0.Add(80 * time.Second), "", false, t0.Add(90 * time.Second)},
		{"past the deadline", []Member{fresh, ready}, t0.Add(90 * time.Second), "s-0", true, time.Time{}},
		{"a pod older than the change counts from the change", []Member{old, ready}, t0.Add(65 * time.Second), "", false, t0.Add(70 * time.Second)},
		{"an old member not ready is not the target's fault", []Member{m("s-0", "", -1), ready}, t0.Add(time.Hour), "", false, time.Time{}},
	}
	for _, c := range cases {
		pod, overdue, next := OverdueMember(c.ms, t0.Add(10*time.Second), c.now, time.Minute)
		if pod != c.pod || overdue != c.overdue || !next.Equal(c.next) {
			t.Errorf("%s: got %q %v %v", c.name, pod, overdue, next)
		}
	}
}
