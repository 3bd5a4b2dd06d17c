package rolloutplan

import (
	"fmt"
	"time"
)

// Member is one member of a replicated shard as the operator sees it, in
// ordinal order: its pod, whether that pod runs the wanted revision, and how
// far its log is behind the leader's.
type Member struct {
	Pod string
	// Exists is false while the member has no pod; Deleting while its pod
	// is being deleted (SIGTERM sent, not gone yet).
	Exists, Deleting bool
	// Current: the pod runs the revision the StatefulSet wants now.
	Current bool
	Ready   bool
	Leader  bool
	// Lag is how many log entries the member is behind the leader's commit
	// index, from the leader's /v1/status (its match index); nil when
	// unknown (no leader known, or the leader does not list it).
	Lag *int64
	// Since is when the pod was created.
	Since time.Time
}

// MemberAction is what to do next about a replicated shard's members.
type MemberAction string

// Member actions.
const (
	// MembersDone: every member runs the wanted revision, ready and caught up.
	MembersDone MemberAction = "Done"
	// MembersWait: a member is restarting, not ready or catching up; look
	// again later.
	MembersWait MemberAction = "Wait"
	// MembersRestart: delete Pod; the StatefulSet starts it again on the
	// wanted revision.
	MembersRestart MemberAction = "Restart"
)

// MemberStep is the decision of one pass over the members.
type MemberStep struct {
	Action MemberAction
	// Pod is the member restarted, or the one waited for.
	Pod string
	// Leader: the member restarted leads. Its SIGTERM hands leadership to
	// the most up-to-date follower before it exits.
	Leader bool
	Reason string
}

// PlanMembers decides the next move of a member-by-member upgrade (or
// rollback) of a replicated shard. One member at a time:
//
//  1. while a member has no pod or its pod is being deleted, wait;
//  2. a member not on the wanted revision that is not ready serves nothing:
//     restart it first (a broken member of a version being rolled back);
//  3. while a member on the wanted revision is not ready, or is more than
//     maxLag entries behind the leader (or its lag is unknown), wait: it is
//     catching up, and stopping another member now would leave the
//     majority resting on it;
//  4. with every member current: done;
//  5. otherwise restart a ready member only when every member is ready and
//     caught up and a leader is known: the followers first, in order, and
//     the leader last, once every follower runs the wanted revision, so
//     its hand-over goes to an upgraded member.
func PlanMembers(ms []Member, maxLag int64) MemberStep {
	caughtUp := func(m Member) bool { return m.Leader || (m.Lag != nil && *m.Lag <= maxLag) }
	for _, m := range ms {
		if !m.Exists || m.Deleting {
			return MemberStep{Action: MembersWait, Pod: m.Pod, Reason: m.Pod + " is restarting"}
		}
	}
	for _, m := range ms {
		if !m.Current && !m.Ready {
			return MemberStep{Action: MembersRestart, Pod: m.Pod, Leader: m.Leader,
				Reason: m.Pod + " is not ready on an older revision: restarting it on the wanted one first (it serves nothing)"}
		}
	}
	stale := 0
	for _, m := range ms {
		switch {
		case !m.Current:
			stale++
		case !m.Ready:
			return MemberStep{Action: MembersWait, Pod: m.Pod, Reason: m.Pod + " is not ready on the wanted revision yet"}
		case !caughtUp(m):
			return MemberStep{Action: MembersWait, Pod: m.Pod, Reason: m.Pod + " is catching up with the leader (" + lagString(m.Lag) + ")"}
		}
	}
	if stale == 0 {
		return MemberStep{Action: MembersDone, Reason: "every member runs the wanted revision"}
	}
	leader := -1
	for i, m := range ms {
		if m.Leader {
			leader = i
		}
		if !caughtUp(m) {
			return MemberStep{Action: MembersWait, Pod: m.Pod, Reason: m.Pod + " is behind the leader (" + lagString(m.Lag) + "); waiting before stopping another member"}
		}
	}
	if leader < 0 {
		return MemberStep{Action: MembersWait, Reason: "no leader known; waiting before stopping a member"}
	}
	for _, m := range ms {
		if !m.Current && !m.Leader {
			return MemberStep{Action: MembersRestart, Pod: m.Pod,
				Reason: fmt.Sprintf("restarting follower %s on the wanted revision (%d of %d members still on an older one)", m.Pod, stale, len(ms))}
		}
	}
	l := ms[leader]
	return MemberStep{Action: MembersRestart, Pod: l.Pod, Leader: true,
		Reason: "restarting leader " + l.Pod + " last: every follower runs the wanted revision, and its SIGTERM hands leadership to the most up-to-date one"}
}

func lagString(lag *int64) string {
	if lag == nil {
		return "lag unknown"
	}
	return fmt.Sprintf("%d entries behind", *lag)
}

// MembersOnTarget counts the members on the wanted revision and ready.
func MembersOnTarget(ms []Member) int {
	n := 0
	for _, m := range ms {
		if m.Exists && !m.Deleting && m.Current && m.Ready {
			n++
		}
	}
	return n
}

// OverdueMember finds a member on the wanted revision that has not turned
// ready within deadline of the later of its pod's creation and since (the
// image change): the upgrade failed on it. When none is overdue, next is
// the soonest moment one would be (zero when no member is waiting).
func OverdueMember(ms []Member, since, now time.Time, deadline time.Duration) (pod string, overdue bool, next time.Time) {
	for _, m := range ms {
		if !m.Exists || m.Deleting || !m.Current || m.Ready {
			continue
		}
		start := m.Since
		if since.After(start) {
			start = since
		}
		at := start.Add(deadline)
		if !now.Before(at) {
			return m.Pod, true, time.Time{}
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return "", false, next
}
