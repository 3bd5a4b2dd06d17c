package controllers

import (
	"errors"
	"testing"

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
