package controllers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// memberObservation is what the operator saw of one member in one reconcile:
// its pod (if any) and the answer of its GET /v1/status (if it answered).
type memberObservation struct {
	Ordinal int
	Pod     string
	Node    string
	Image   string
	// Exists is false when the member has no pod right now.
	Exists bool
	Ready  bool
	Report *shardapi.Status
	Err    error
}

// clusterView is the pure summary of a replicated shard's members.
type clusterView struct {
	Members  []boxv1.ShardMember
	Ready    int
	Replicas int
	// Leader is the leader's pod ("" when none is known); LeaderReport its
	// status answer.
	Leader       string
	LeaderReport *shardapi.Status
	Term         int64
	// Electing: no leader is known, but for less than electionGrace and
	// with a majority ready: the members are electing one (about a second
	// after a leader is lost; a status round that started during the
	// election, waiting out an unreachable member, reports none for longer).
	Electing bool
}

// electionGrace is how long a majority of ready members may show no leader
// before the showtime counts as having lost its quorum.
const electionGrace = 10 * time.Second

// Quorum tells whether a majority serves: a majority of members is ready and
// a leader is known or being elected.
func (v clusterView) Quorum() bool {
	return (v.Leader != "" || v.Electing) && v.Ready >= v.Replicas/2+1
}

// electing tells whether a view without a leader is an election in progress:
// leaderless since (the first view without one) less than electionGrace
// before now, with a majority ready.
func electing(v clusterView, since, now time.Time) bool {
	return v.Leader == "" && v.Ready >= v.Replicas/2+1 && now.Sub(since) < electionGrace
}

// Redundancy tells whether every member serves.
func (v clusterView) Redundancy() bool { return v.Quorum() && v.Ready == v.Replicas }

// Down names the members that are not ready, in ordinal order.
func (v clusterView) Down() []string {
	var out []string
	for _, m := range v.Members {
		if !m.Ready {
			out = append(out, m.Pod)
		}
	}
	return out
}

// ReadyMembers is the printer column's "READY/MEMBERS".
func (v clusterView) ReadyMembers() string { return fmt.Sprintf("%d/%d", v.Ready, v.Replicas) }

// summarizeMembers turns what was seen of each member into the status. The
// leader is the member that says it leads in the highest term (a deposed
// leader that has not heard of the new term yet also says it leads); lag is
// the leader's commit index less the member's match index, from the
// leader's own view of its followers.
func summarizeMembers(obs []memberObservation, replicas int) clusterView {
	v := clusterView{Replicas: replicas}
	sorted := append([]memberObservation(nil), obs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Ordinal < sorted[j].Ordinal })
	for _, o := range sorted {
		if o.Report == nil {
			continue
		}
		if o.Report.Term > v.Term {
			v.Term = o.Report.Term
		}
		if o.Report.Role == shardapi.RoleLeader && (v.LeaderReport == nil || o.Report.Term > v.LeaderReport.Term) {
			v.Leader, v.LeaderReport = o.Pod, o.Report
		}
	}
	if v.LeaderReport != nil {
		v.Term = v.LeaderReport.Term
	}
	match := map[int]int64{}
	if v.LeaderReport != nil {
		for _, m := range v.LeaderReport.Members {
			match[m.ID] = m.Match
		}
	}
	for _, o := range sorted {
		m := boxv1.ShardMember{Pod: o.Pod, ID: int32(o.Ordinal + 1), Node: o.Node, Image: o.Image, Ready: o.Exists && o.Ready, Role: boxv1.RoleUnknown}
		if o.Report != nil && o.Report.Role != "" {
			m.Role = boxv1.ShardMemberRole(o.Report.Role)
		}
		if v.LeaderReport != nil {
			if o.Pod == v.Leader {
				m.Lag = new(int64)
			} else if mi, ok := match[o.Ordinal+1]; ok && o.Exists {
				lag := max(v.LeaderReport.CommitIndex-mi, 0)
				m.Lag = &lag
			}
		}
		if m.Ready {
			v.Ready++
		}
		v.Members = append(v.Members, m)
	}
	return v
}

// leaderChange describes a change of leader for the event, or "" when the
// leader did not change or none is known now. The same member elected again
// in a newer term is a change too: writes paused for that election.
func leaderChange(before, after boxv1.ShardStatus) string {
	if after.Leader == "" {
		return ""
	}
	if after.Leader == before.Leader {
		if before.Term > 0 && after.Term > before.Term {
			return fmt.Sprintf("%s leads the shard again in term %d (was term %d)", after.Leader, after.Term, before.Term)
		}
		return ""
	}
	if before.Leader == "" {
		return fmt.Sprintf("%s leads the shard in term %d", after.Leader, after.Term)
	}
	return fmt.Sprintf("%s leads the shard in term %d (was %s, term %d)", after.Leader, after.Term, before.Leader, before.Term)
}

func joinPods(p []string) string { return strings.Join(p, ", ") }
