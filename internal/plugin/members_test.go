package plugin

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// replicated turns the fixture's showtime into a 3-member shard with one
// member down.
func replicated(t *testing.T) client.Client {
	c := fixture(t)
	st := &boxv1.Showtime{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "venues", Name: "standup"}, st); err != nil {
		t.Fatal(err)
	}
	changed := metav1.NewTime(now.Add(-3 * time.Minute))
	st.Status.Shard = boxv1.ShardStatus{Pod: "standup-shard-1", Image: "reg/boxoffice:v1.3.0", Ready: true, Epoch: 7, Version: 81234,
		Replicas: 3, ReadyMembers: "2/3", Leader: "standup-shard-1", Term: 7, LastLeaderChange: &changed,
		Members: []boxv1.ShardMember{
			{Pod: "standup-shard-0", ID: 1, Node: "node-a", Role: boxv1.RoleFollower, Ready: true, Lag: ptr.To[int64](2)},
			{Pod: "standup-shard-1", ID: 2, Node: "node-b", Role: boxv1.RoleLeader, Ready: true, Lag: ptr.To[int64](0)},
			{Pod: "standup-shard-2", ID: 3, Node: "node-c", Role: boxv1.RoleUnknown},
		}}
	if err := c.Status().Update(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStatusShowsMembers(t *testing.T) {
	c := replicated(t)
	out, code := run(t, c, "status", "standup")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{
		"Shard:      2/3 members ready  leader standup-shard-1  term 7  version 81234",
		"last leader change 2026-11-25T01:57:00Z",
		"standup-shard-0  follower  ready  lag 2  node node-a",
		"standup-shard-1  leader  ready  lag 0  node node-b",
		"standup-shard-2  unknown  NOT READY  lag ?  node node-c",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, code = run(t, c, "status", "standup", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var v ShowtimeView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if v.Shard.Leader != "standup-shard-1" || len(v.Shard.Members) != 3 || *v.Shard.Members[0].Lag != 2 || v.Shard.LastLeaderChange == nil {
		t.Errorf("members in JSON: %+v", v.Shard)
	}
}
