package controllers

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

func TestSummarizeMembers(t *testing.T) {
	leader := func(term, commit int64, match ...int64) *shardapi.Status {
		r := &shardapi.Status{Role: "leader", Term: term, CommitIndex: commit}
		for i, m := range match {
			r.Members = append(r.Members, shardapi.Member{ID: i + 1, Match: m})
		}
		return r
	}
	follower := func(term int64) *shardapi.Status { return &shardapi.Status{Role: "follower", Term: term} }
	up := func(i int, r *shardapi.Status) memberObservation {
		return memberObservation{Ordinal: i, Pod: "p" + string(rune('0'+i)), Exists: true, Ready: true, Report: r}
	}
	down := func(i int) memberObservation {
		return memberObservation{Ordinal: i, Pod: "p" + string(rune('0'+i)), Exists: true, Err: errors.New("refused")}
	}
	missing := func(i int) memberObservation { return memberObservation{Ordinal: i, Pod: "p" + string(rune('0'+i))} }
	for _, tc := range []struct {
		name               string
		obs                []memberObservation
		leader             string
		term               int64
		ready              string
		quorum, redundancy bool
		lags               []int64 // -1: unknown
	}{
		{"all serving", []memberObservation{up(0, leader(3, 10, 10, 9, 7)), up(1, follower(3)), up(2, follower(3))},
			"p0", 3, "3/3", true, true, []int64{0, 1, 3}},
		{"one down", []memberObservation{up(0, follower(3)), up(1, leader(3, 10, 10, 10, 4)), down(2)},
			"p1", 3, "2/3", true, false, []int64{0, 0, 6}},
		{"one pod missing", []memberObservation{up(0, leader(3, 10, 10, 10, 4)), up(1, follower(3)), missing(2)},
			"p0", 3, "2/3", true, false, []int64{0, 0, -1}},
		{"deposed leader in an older term", []memberObservation{up(0, leader(3, 10)), up(1, leader(4, 12, 10, 12, 12)), up(2, follower(4))},
			"p1", 4, "3/3", true, true, []int64{2, 0, 0}},
		{"no leader", []memberObservation{up(0, follower(5)), up(1, &shardapi.Status{Role: "candidate", Term: 6}), down(2)},
			"", 6, "2/3", false, false, []int64{-1, -1, -1}},
		{"majority lost", []memberObservation{up(0, leader(3, 10)), down(1), down(2)},
			"p0", 3, "1/3", false, false, []int64{0, -1, -1}},
		{"out of order input", []memberObservation{up(2, follower(3)), up(0, leader(3, 5, 5, 5, 5)), up(1, follower(3))},
			"p0", 3, "3/3", true, true, []int64{0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := summarizeMembers(tc.obs, 3)
			if v.Leader != tc.leader || v.Term != tc.term || v.ReadyMembers() != tc.ready || v.Quorum() != tc.quorum || v.Redundancy() != tc.redundancy {
				t.Fatalf("leader %q term %d ready %s quorum %v redundancy %v", v.Leader, v.Term, v.ReadyMembers(), v.Quorum(), v.Redundancy())
			}
			for i, m := range v.Members {
				if m.Pod != "p"+string(rune('0'+i)) || m.ID != int32(i+1) {
					t.Fatalf("member %d is %+v", i, m)
				}
				got := int64(-1)
				if m.Lag != nil {
					got = *m.Lag
				}
				if got != tc.lags[i] {
					t.Errorf("member %d lag %d, want %d", i, got, tc.lags[i])
				}
			}
		})
	}
}

func TestLeaderChange(t *testing.T) {
	for _, tc := range []struct {
		before, after boxv1.ShardStatus
		want          string
	}{
		{boxv1.ShardStatus{}, boxv1.ShardStatus{Leader: "a", Term: 1}, "a leads the shard in term 1"},
		{boxv1.ShardStatus{Leader: "a", Term: 1}, boxv1.ShardStatus{Leader: "a", Term: 1}, ""},
		{boxv1.ShardStatus{Leader: "a", Term: 1}, boxv1.ShardStatus{}, ""},
		{boxv1.ShardStatus{Leader: "a", Term: 1}, boxv1.ShardStatus{Leader: "b", Term: 2}, "b leads the shard in term 2 (was a, term 1)"},
		{boxv1.ShardStatus{Leader: "a", Term: 1}, boxv1.ShardStatus{Leader: "a", Term: 3}, "a leads the shard again in term 3 (was term 1)"},
	} {
		if got := leaderChange(tc.before, tc.after); got != tc.want {
			t.Errorf("leaderChange(%+v, %+v) = %q, want %q", tc.before, tc.after, got, tc.want)
		}
	}
}

// A member's role in status.shard.members is the shard's own word for it.
func TestMemberRolesAreTheContracts(t *testing.T) {
	for api, wire := range map[boxv1.ShardMemberRole]string{boxv1.RoleLeader: shardapi.RoleLeader,
		boxv1.RoleFollower: shardapi.RoleFollower, boxv1.RoleCandidate: shardapi.RoleCandidate} {
		if string(api) != wire {
			t.Errorf("status role %q for the shard's %q", api, wire)
		}
	}
}

// A leader lost with a majority still ready is an election, not a lost
// quorum, for electionGrace: the showtime stays OnSale (ShardQuorum=True,
// reason Electing) while the members elect; past the grace, or without a
// majority, it is NoLeader.
func TestElectionKeepsQuorumForAGrace(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	leaderless := clusterView{Replicas: 3, Ready: 3}
	cases := []struct {
		name     string
		v        clusterView
		since    time.Time
		now      time.Time
		electing bool
		reason   string
	}{
		{"just lost its leader", leaderless, t0, t0, true, "Electing"},
		{"within the grace, one member down", clusterView{Replicas: 3, Ready: 2}, t0, t0.Add(electionGrace - time.Millisecond), true, "Electing"},
		{"grace over", leaderless, t0, t0.Add(electionGrace), false, "NoLeader"},
		{"no majority ready", clusterView{Replicas: 3, Ready: 1}, t0, t0, false, "NoLeader"},
		{"a leader is known", clusterView{Replicas: 3, Ready: 3, Leader: "st-shard-1"}, t0, t0, false, "Majority"},
	}
	for _, c := range cases {
		c.v.Electing = electing(c.v, c.since, c.now)
		if c.v.Electing != c.electing {
			t.Errorf("%s: electing %v, want %v", c.name, c.v.Electing, c.electing)
		}
		if want := c.electing || c.v.Leader != ""; c.v.Quorum() != want {
			t.Errorf("%s: quorum %v, want %v", c.name, c.v.Quorum(), want)
		}
		if reason, _, _, _ := clusterConditionText(c.v); reason != c.reason {
			t.Errorf("%s: reason %s, want %s", c.name, reason, c.reason)
		}
	}
}

// leaderlessSince keeps the start of a leaderless stretch and forgets it once
// a leader is seen.
func TestLeaderlessSince(t *testing.T) {
	r := &ShowtimeReconciler{}
	key := types.NamespacedName{Namespace: "e2e", Name: "st"}
	t0 := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	if got := r.leaderlessSince(key, true, t0); !got.Equal(t0) {
		t.Fatalf("first leaderless view: %v", got)
	}
	if got := r.leaderlessSince(key, true, t0.Add(3*time.Second)); !got.Equal(t0) {
		t.Fatalf("still leaderless: since %v, want %v", got, t0)
	}
	r.leaderlessSince(key, false, t0.Add(4*time.Second))
	if got := r.leaderlessSince(key, true, t0.Add(20*time.Second)); !got.Equal(t0.Add(20 * time.Second)) {
		t.Fatalf("a new stretch after a leader: since %v", got)
	}
}
